using System;
using System.Runtime.InteropServices;

namespace LossDsl.Cli;

/// <summary>
/// Process settings that must be in place before libtorch loads.
/// </summary>
internal static partial class NativeSetup
{
    /// <summary>
    /// Caps oneDNN (libtorch's CPU convolution library) at AVX2 unless the user chose an ISA. On
    /// AVX-512 machines, libtorch 2.10's oneDNN kernels were measured to return NaN gradients for this
    /// tool's U-Net now and then (11 of 16 small backward passes on an AMD EPYC with AVX-512; 0 of 16
    /// with AVX2), and AVX2 was faster for these small channel counts anyway. oneDNN reads the
    /// variable from the C environment, which <see cref="Environment.SetEnvironmentVariable(string, string)"/>
    /// does not change on Unix, hence setenv.
    /// </summary>
    public static void Apply()
    {
        if (OperatingSystem.IsWindows())
            return;
        foreach (var name in new[] { "DNNL_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA" })
            if (Environment.GetEnvironmentVariable(name) is null)
                _ = SetEnv(name, "AVX2", 0);
        // libtorch warns once per thread that NNPACK does not support the CPU; it falls back silently
        // and correctly, so only errors are worth showing.
        if (Environment.GetEnvironmentVariable("TORCH_CPP_LOG_LEVEL") is null)
            _ = SetEnv("TORCH_CPP_LOG_LEVEL", "ERROR", 0);
        // Training allocates the same tensor sizes every step: keep freed blocks instead of faulting them in
        // again (NativeAllocator), unless the user tuned the allocator already.
        if (
            Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is null
            && Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") is null
        )
            _ = NativeAllocator.RetainFreedMemory();
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
