using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl.Kernels.Cuda;

/// <summary>
/// Runs a printed <see cref="CudaProgram"/> on CUDA tensors: compiles it with NVRTC for the device's
/// architecture once (cached in memory and, as PTX, on disk), loads it into libtorch's primary context and
/// launches its kernels in order on the default stream, on the device pointers of the tensors. Nothing waits
/// for the device: the value, the gradient and the check buffer (its bits and the first offending element)
/// are device tensors the caller reads when it chooses.
/// </summary>
/// <remarks>
/// Not yet used by <see cref="LossModule"/>: the printed programs are checked on the CPU (compiled by NVRTC, and
/// run under an emulation of the execution model), and this launcher waits for its first run on a GPU
/// (<c>lossdsl gpu-check</c>) before modules route CUDA tensors to it.
/// </remarks>
internal static unsafe class CudaExecutor
{
    private sealed record Loaded(
        IntPtr Context,
        System.Collections.Immutable.ImmutableDictionary<string, IntPtr> Functions,
        CudaProgram Program
    );

    private static readonly ConcurrentDictionary<(KernelPlan Plan, CudaKey Key, int Device), Lazy<Loaded>> Modules = new();

    /// <summary>Blocks per sample for the pixel kernels: a function of the shape only, so sums do not depend on the device.</summary>
    public static int BlocksPerSample(long pixels, long samples) =>
        (int)Math.Clamp((pixels + CudaPrinter.BlockSize - 1) / CudaPrinter.BlockSize, 1, Math.Max(1, 2048 / Math.Max(1, samples)));

    /// <summary>The element type of a tensor as the printer names it, or null when there is no kernel for it.</summary>
    public static CudaDType? DType(ScalarType type) =>
        type switch
        {
            ScalarType.Float32 => CudaDType.Float32,
            ScalarType.Float16 => CudaDType.Float16,
            ScalarType.BFloat16 => CudaDType.BFloat16,
            ScalarType.Float64 => CudaDType.Float64,
            _ => null,
        };

    /// <summary>
    /// Runs the plan on normalised inputs (prediction N, C, *spatial; per-class targets of the same shape, or class
    /// indices N, *spatial; an optional validity mask N, *spatial) and gives the reduced value (0-dimensional,
    /// float32), d value / d prediction (the prediction's shape and type) and the check buffer (two int64: the bits,
    /// and the smallest flat index of an offending element, all bits set when none).
    /// </summary>
    public static (Tensor Value, Tensor Gradient, Tensor Check) Run(
        KernelPlan plan,
        Tensor input,
        Tensor? targetValues,
        Tensor? targetIndex,
        Tensor? mask,
        Tensor? classWeights,
        long ignoreIndex,
        bool sum,
        bool check,
        Tensor? posWeights = null
    )
    {
        if (input.device_type != DeviceType.CUDA)
            throw new ArgumentException($"the CUDA executor needs a CUDA tensor, not one on {input.device}", nameof(input));
        var dtype = DType(input.dtype) ?? throw new ArgumentException($"no CUDA kernel reads {input.dtype}", nameof(input));
        var device = input.device;
        long n = input.shape[0],
            c = input.shape[1];
        var s = input.numel() / (n * c);
        var key = new CudaKey((int)c, targetIndex is not null, dtype, sum, check);
        var loaded = Load(plan, key, device.index < 0 ? 0 : device.index);
        var program = loaded.Program;
        var blocks = BlocksPerSample(s, n);

        using var scope = NewDisposeScope();
        var x = input.contiguous();
        var t = targetValues?.to(input.dtype).contiguous();
        var idx = targetIndex?.to(ScalarType.Int64).contiguous();
        var m = mask?.to(ScalarType.Bool).contiguous();
        var w = (classWeights ?? ones(c, dtype: float64, device: device)).to(float64).to(device).contiguous();
        var pw = (posWeights ?? ones(c, dtype: float64, device: device)).to(float64).to(device).contiguous();
        var gradient = empty_like(x);
        var stats = zeros(Math.Max(1, program.StatNodes) * n * c, dtype: float64, device: device);
        var partials = zeros(n * blocks * Math.Max(1, program.Slots), dtype: float64, device: device);
        var valid = zeros(n, dtype: float64, device: device);
        var checkBuffer = tensor(new long[] { 0, -1 }, dtype: int64, device: device);
        var value = zeros(1, dtype: float32, device: device);
        var scale = ones(1, dtype: float64, device: device);

        IntPtr P(Tensor? tensor) => tensor is null ? IntPtr.Zero : CpuKernel.Native.THSTensor_data(tensor.Handle);
        var api = CudaDriver.Get();
        CudaDriver.Check(api.CtxPushCurrent(loaded.Context), "cuCtxPushCurrent");
        try
        {
            // Every kernel parameter by its printed name.
            var arguments = new System.Collections.Generic.Dictionary<string, long>
            {
                ["x"] = (long)P(x),
                ["t"] = (long)P(t),
                ["idx"] = (long)P(idx),
                ["mask"] = (long)P(m),
                ["grad"] = (long)P(gradient),
                ["stats"] = (long)P(stats),
                ["partials"] = (long)P(partials),
                ["check"] = (long)P(checkBuffer),
                ["classWeights"] = (long)P(w),
                ["posWeights"] = (long)P(pw),
                ["valid"] = (long)P(valid),
                ["value"] = (long)P(value),
                ["scale"] = (long)P(scale),
                ["blocks"] = blocks,
                ["N"] = n,
                ["S"] = s,
                ["ignore"] = ignoreIndex,
            };
            // Kernel parameters: each a pointer to its value.
            var values = stackalloc long[12];
            var pointers = stackalloc void*[12];
            foreach (var kernel in program.Kernels)
            {
                var args = kernel.Parameters.Select(p => arguments[p]).ToArray();
                for (var i = 0; i < args.Length; i++)
                {
                    values[i] = args[i];
                    pointers[i] = &values[i];
                }
                var (gx, gy, block) = kernel.Grid switch
                {
                    CudaGrid.Pixels => ((uint)blocks, (uint)n, (uint)CudaPrinter.BlockSize),
                    CudaGrid.Samples => ((uint)n, 1u, (uint)CudaPrinter.BlockSize),
                    _ => (1u, 1u, 1u),
                };
                CudaDriver.Check(
                    api.LaunchKernel(loaded.Functions[kernel.Name], gx, gy, 1, block, 1, 1, 0, IntPtr.Zero, pointers, null),
                    "cuLaunchKernel " + kernel.Name
                );
            }
        }
        finally
        {
            IntPtr popped;
            api.CtxPopCurrent(&popped);
        }
        return (
            value.reshape(Array.Empty<long>()).MoveToOuterDisposeScope(),
            gradient.MoveToOuterDisposeScope(),
            checkBuffer.MoveToOuterDisposeScope()
        );
    }

    private static Loaded Load(KernelPlan plan, CudaKey key, int device) =>
        Modules.GetOrAdd((plan, key, device), k => new Lazy<Loaded>(() => LoadNow(k.Plan, k.Key, k.Device))).Value;

    private static Loaded LoadNow(KernelPlan plan, CudaKey key, int ordinal)
    {
        var api = CudaDriver.Get();
        int dev,
            major,
            minor;
        CudaDriver.Check(api.DeviceGet(&dev, ordinal), "cuDeviceGet");
        CudaDriver.Check(api.DeviceGetAttribute(&major, 75, dev), "cuDeviceGetAttribute(major)");
        CudaDriver.Check(api.DeviceGetAttribute(&minor, 76, dev), "cuDeviceGetAttribute(minor)");
        IntPtr context;
        CudaDriver.Check(api.PrimaryCtxRetain(&context, dev), "cuDevicePrimaryCtxRetain");
        var program = CudaPrinter.Print(plan, key);
        var architecture = $"compute_{major}{minor}";
        var ptx = CachedPtx(program.Source, architecture);
        CudaDriver.Check(api.CtxPushCurrent(context), "cuCtxPushCurrent");
        try
        {
            IntPtr module;
            var image = Encoding.UTF8.GetBytes(ptx + "\0");
            fixed (byte* p = image)
                CudaDriver.Check(api.ModuleLoadData(&module, p), "cuModuleLoadData");
            var functions = System.Collections.Immutable.ImmutableDictionary.CreateBuilder<string, IntPtr>();
            foreach (var kernel in program.Kernels)
            {
                IntPtr function;
                var name = Encoding.UTF8.GetBytes(kernel.Name + "\0");
                fixed (byte* p = name)
                    CudaDriver.Check(api.ModuleGetFunction(&function, module, p), "cuModuleGetFunction " + kernel.Name);
                functions[kernel.Name] = function;
            }
            return new Loaded(context, functions.ToImmutable(), program);
        }
        finally
        {
            IntPtr popped;
            api.CtxPopCurrent(&popped);
        }
    }

    // PTX of a source for an architecture, from the disk cache (LOSSDSL_CUDA_CACHE, else ~/.cache/lossdsl/cuda) or NVRTC.
    private static string CachedPtx(string source, string architecture)
    {
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(architecture + "\n" + source)))[..32].ToLowerInvariant();
        var folder = Environment.GetEnvironmentVariable("LOSSDSL_CUDA_CACHE") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "lossdsl", "cuda");
        var path = Path.Combine(folder, $"{hash}.{architecture}.ptx");
        if (File.Exists(path))
            return File.ReadAllText(path);
        var ptx = Nvrtc.CompileToPtx(source, "lossdsl.cu", architecture);
        try
        {
            Directory.CreateDirectory(folder);
            var temporary = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllText(temporary, ptx);
            File.Move(temporary, path, overwrite: true);
        }
        catch (IOException)
        {
            // A read-only home: compile again next time.
        }
        catch (UnauthorizedAccessException) { }
        return ptx;
    }
}
