using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;

namespace LossDsl.Kernels.Cuda;

/// <summary>
/// NVRTC, CUDA's runtime compiler, loaded where a CUDA application has it: <c>LOSSDSL_NVRTC</c> (a path),
/// the loader's search path (the CUDA toolkit, a distribution package), and the folders of libtorch and of
/// PyTorch's <c>nvidia/cuda_nvrtc</c> wheel. It needs no GPU: CUDA source compiles to PTX anywhere.
/// </summary>
internal static unsafe class Nvrtc
{
    private static readonly Lazy<Api?> Loaded = new(Load);

    /// <summary>The names tried, newest CUDA first.</summary>
    internal static readonly string[] LibraryNames =
    {
        "libnvrtc.so.13",
        "libnvrtc.so.12",
        "libnvrtc.so.11.2",
        "libnvrtc.so",
        "nvrtc64_120_0.dll",
        "nvrtc64_112_0.dll",
    };

    /// <summary>Whether NVRTC could be loaded.</summary>
    public static bool IsAvailable => Loaded.Value is not null;

    /// <summary>Where NVRTC was loaded from and its version, or why it could not be.</summary>
    public static string Describe() =>
        Loaded.Value is { } api
            ? $"NVRTC {api.Version.Major}.{api.Version.Minor} ({api.Path})"
            : "NVRTC not found (tried LOSSDSL_NVRTC, " + string.Join(", ", LibraryNames) + " on the loader path and next to libtorch)";

    /// <summary>
    /// Compiles <paramref name="source"/> to PTX for <paramref name="architecture"/> (e.g. <c>compute_80</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">NVRTC is missing, or the source does not compile (the log is in the message).</exception>
    public static string CompileToPtx(string source, string name, string architecture)
    {
        var api = Loaded.Value ?? throw new InvalidOperationException(Describe());
        IntPtr program;
        var src = Utf8(source);
        var nm = Utf8(name);
        fixed (byte* s = src)
        fixed (byte* n = nm)
            Check(api, api.Create(&program, s, n, 0, null, null), "nvrtcCreateProgram");
        try
        {
            var options = new[] { $"--gpu-architecture={architecture}", "--std=c++14", "-default-device" }.Select(Utf8).ToArray();
            var handles = options.Select(o => GCHandle.Alloc(o, GCHandleType.Pinned)).ToArray();
            try
            {
                var pointers = stackalloc byte*[options.Length];
                for (var i = 0; i < options.Length; i++)
                    pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                var result = api.Compile(program, options.Length, pointers);
                if (result != 0)
                    throw new InvalidOperationException(
                        $"NVRTC could not compile {name} for {architecture} ({ErrorString(api, result)}):\n{Log(api, program)}"
                    );
            }
            finally
            {
                foreach (var h in handles)
                    h.Free();
            }
            nuint size;
            Check(api, api.PtxSize(program, &size), "nvrtcGetPTXSize");
            var ptx = new byte[(int)size];
            fixed (byte* p = ptx)
                Check(api, api.Ptx(program, p), "nvrtcGetPTX");
            return Encoding.UTF8.GetString(ptx, 0, Math.Max(0, ptx.Length - 1));
        }
        finally
        {
            api.Destroy(&program);
        }
    }

    private static string Log(Api api, IntPtr program)
    {
        nuint size;
        if (api.LogSize(program, &size) != 0 || size == 0)
            return "";
        var log = new byte[(int)size];
        fixed (byte* l = log)
            api.Log(program, l);
        return Encoding.UTF8.GetString(log, 0, Math.Max(0, log.Length - 1));
    }

    private static void Check(Api api, int result, string what)
    {
        if (result != 0)
            throw new InvalidOperationException($"{what} failed: {ErrorString(api, result)}");
    }

    private static string ErrorString(Api api, int result) => Marshal.PtrToStringUTF8((IntPtr)api.ErrorString(result)) ?? $"error {result}";

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s + "\0");

    private static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable("LOSSDSL_NVRTC") is { Length: > 0 } explicitPath)
            yield return explicitPath;
        foreach (var name in LibraryNames)
            yield return name;
        // Next to libtorch (TorchSharp-cuda bundles its CUDA libraries there) and in a PyTorch wheel's layout.
        var folders = new List<string>();
        if (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") is { } ld)
            folders.AddRange(ld.Split(':', StringSplitOptions.RemoveEmptyEntries));
        folders.Add(AppContext.BaseDirectory);
        folders.Add(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"));
        foreach (var folder in folders.Distinct())
        {
            foreach (var name in LibraryNames)
                yield return Path.Combine(folder, name);
            var wheel = Path.GetFullPath(Path.Combine(folder, "..", "..", "nvidia", "cuda_nvrtc", "lib"));
            foreach (var name in LibraryNames)
                yield return Path.Combine(wheel, name);
        }
    }

    private static Api? Load()
    {
        foreach (var candidate in Candidates())
        {
            if (!NativeLibrary.TryLoad(candidate, out var handle))
                continue;
            try
            {
                return new Api(handle, candidate);
            }
            catch (EntryPointNotFoundException)
            {
                NativeLibrary.Free(handle);
            }
        }
        return null;
    }

    private sealed class Api
    {
        public readonly string Path;
        public readonly (int Major, int Minor) Version;
        public readonly delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int> Create;
        public readonly delegate* unmanaged<IntPtr, int, byte**, int> Compile;
        public readonly delegate* unmanaged<IntPtr, nuint*, int> PtxSize;
        public readonly delegate* unmanaged<IntPtr, byte*, int> Ptx;
        public readonly delegate* unmanaged<IntPtr, nuint*, int> LogSize;
        public readonly delegate* unmanaged<IntPtr, byte*, int> Log;
        public readonly delegate* unmanaged<IntPtr*, int> Destroy;
        public readonly delegate* unmanaged<int, byte*> ErrorString;

        public Api(IntPtr lib, string path)
        {
            Path = path;
            Create = (delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int>)
                NativeLibrary.GetExport(lib, "nvrtcCreateProgram");
            Compile = (delegate* unmanaged<IntPtr, int, byte**, int>)NativeLibrary.GetExport(lib, "nvrtcCompileProgram");
            PtxSize = (delegate* unmanaged<IntPtr, nuint*, int>)NativeLibrary.GetExport(lib, "nvrtcGetPTXSize");
            Ptx = (delegate* unmanaged<IntPtr, byte*, int>)NativeLibrary.GetExport(lib, "nvrtcGetPTX");
            LogSize = (delegate* unmanaged<IntPtr, nuint*, int>)NativeLibrary.GetExport(lib, "nvrtcGetProgramLogSize");
            Log = (delegate* unmanaged<IntPtr, byte*, int>)NativeLibrary.GetExport(lib, "nvrtcGetProgramLog");
            Destroy = (delegate* unmanaged<IntPtr*, int>)NativeLibrary.GetExport(lib, "nvrtcDestroyProgram");
            ErrorString = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(lib, "nvrtcGetErrorString");
            var version = (delegate* unmanaged<int*, int*, int>)NativeLibrary.GetExport(lib, "nvrtcVersion");
            int major,
                minor;
            version(&major, &minor);
            Version = (major, minor);
        }
    }
}
