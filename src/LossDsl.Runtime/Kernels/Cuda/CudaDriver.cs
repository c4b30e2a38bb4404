using System;
using System.Runtime.InteropServices;

namespace LossDsl.Kernels.Cuda;

/// <summary>
/// The CUDA driver API (libcuda, installed with the NVIDIA driver), the few entry points the executor uses:
/// loading PTX into libtorch's primary context, finding kernels, launching them. Loaded on first use; absent
/// on machines without the driver, which <see cref="IsAvailable"/> and <see cref="Describe"/> say without
/// throwing.
/// </summary>
internal static unsafe class CudaDriver
{
    private static readonly Lazy<Api?> Loaded = new(Load);

    /// <summary>Whether the driver library could be loaded and initialised.</summary>
    public static bool IsAvailable => Loaded.Value is not null;

    /// <summary>What was loaded, or why nothing was.</summary>
    public static string Describe() =>
        Loaded.Value is { } api
            ? $"CUDA driver {api.Version / 1000}.{api.Version % 1000 / 10} ({api.Path})"
            : "CUDA driver not found (libcuda.so.1)";

    internal static Api Get() => Loaded.Value ?? throw new InvalidOperationException(Describe());

    private static Api? Load()
    {
        foreach (var name in new[] { "libcuda.so.1", "libcuda.so", "nvcuda.dll" })
        {
            if (!NativeLibrary.TryLoad(name, out var handle))
                continue;
            try
            {
                var api = new Api(handle, name);
                return api.Init(0) == 0 ? api : null;
            }
            catch (EntryPointNotFoundException)
            {
                NativeLibrary.Free(handle);
            }
        }
        return null;
    }

    /// <summary>Throws with the driver's message when <paramref name="result"/> is not CUDA_SUCCESS.</summary>
    public static void Check(int result, string what)
    {
        if (result == 0)
            return;
        var api = Get();
        byte* text = null;
        api.GetErrorString(result, &text);
        throw new InvalidOperationException(
            $"{what} failed: {(text is null ? $"CUDA error {result}" : Marshal.PtrToStringUTF8((IntPtr)text))}"
        );
    }

    internal sealed class Api
    {
        public readonly string Path;
        public readonly int Version;
        public readonly delegate* unmanaged<uint, int> Init;
        public readonly delegate* unmanaged<int*, int, int> DeviceGet;
        public readonly delegate* unmanaged<int*, int, int, int> DeviceGetAttribute;
        public readonly delegate* unmanaged<IntPtr*, int, int> PrimaryCtxRetain;
        public readonly delegate* unmanaged<IntPtr, int> CtxPushCurrent;
        public readonly delegate* unmanaged<IntPtr*, int> CtxPopCurrent;
        public readonly delegate* unmanaged<int> CtxSynchronize;
        public readonly delegate* unmanaged<IntPtr*, byte*, int> ModuleLoadData;
        public readonly delegate* unmanaged<IntPtr*, IntPtr, byte*, int> ModuleGetFunction;
        public readonly delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int> LaunchKernel;
        public readonly delegate* unmanaged<int, byte**, int> GetErrorString;

        public Api(IntPtr lib, string path)
        {
            Path = path;
            Init = (delegate* unmanaged<uint, int>)NativeLibrary.GetExport(lib, "cuInit");
            DeviceGet = (delegate* unmanaged<int*, int, int>)NativeLibrary.GetExport(lib, "cuDeviceGet");
            DeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)NativeLibrary.GetExport(lib, "cuDeviceGetAttribute");
            PrimaryCtxRetain = (delegate* unmanaged<IntPtr*, int, int>)NativeLibrary.GetExport(lib, "cuDevicePrimaryCtxRetain");
            CtxPushCurrent = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(lib, "cuCtxPushCurrent_v2");
            CtxPopCurrent = (delegate* unmanaged<IntPtr*, int>)NativeLibrary.GetExport(lib, "cuCtxPopCurrent_v2");
            CtxSynchronize = (delegate* unmanaged<int>)NativeLibrary.GetExport(lib, "cuCtxSynchronize");
            ModuleLoadData = (delegate* unmanaged<IntPtr*, byte*, int>)NativeLibrary.GetExport(lib, "cuModuleLoadData");
            ModuleGetFunction = (delegate* unmanaged<IntPtr*, IntPtr, byte*, int>)NativeLibrary.GetExport(lib, "cuModuleGetFunction");
            LaunchKernel = (delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int>)
                NativeLibrary.GetExport(lib, "cuLaunchKernel");
            GetErrorString = (delegate* unmanaged<int, byte**, int>)NativeLibrary.GetExport(lib, "cuGetErrorString");
            var driverVersion = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(lib, "cuDriverGetVersion");
            int v;
            Version = driverVersion(&v) == 0 ? v : 0;
        }
    }
}
