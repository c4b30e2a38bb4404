using System;
using System.Runtime.InteropServices;

namespace LossDsl;

/// <summary>
/// An opt-in setting of the C allocator libtorch allocates CPU tensors with.
/// </summary>
/// <remarks>
/// glibc returns large freed blocks to the kernel (each block of 128 KiB or more is its own mapping, and
/// the top of the heap is trimmed), so the next tensor of that size is faulted in again page by page. A
/// training step that allocates a few input-sized tensors then pays for thousands of page faults; on
/// some virtual machines that is milliseconds per tensor (docs/benchmarks.md measured 28 ms instead of
/// 1.6 ms for a whole fused BCE step). This is a process-wide setting, so it is the application's
/// choice; the <c>lossdsl</c> tool makes it. The environment variables <c>MALLOC_MMAP_THRESHOLD_</c> and
/// <c>MALLOC_TRIM_THRESHOLD_</c> do the same from outside the process.
/// </remarks>
public static partial class NativeAllocator
{
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD
    private const int TrimThreshold = -1; // M_TRIM_THRESHOLD

    /// <summary>
    /// Keeps freed memory for reuse: blocks up to <paramref name="blockBytes"/> come from the heap rather
    /// than from their own mappings, and up to <paramref name="retainBytes"/> of free memory at the top of
    /// the heap is kept instead of being returned to the kernel. Returns false where the C library is not
    /// glibc (nothing is changed there).
    /// </summary>
    /// <param name="blockBytes">Largest block served from the heap (glibc caps it at 32 MiB on 64-bit).</param>
    /// <param name="retainBytes">Free memory kept at the top of the heap.</param>
    public static bool RetainFreedMemory(int blockBytes = 32 << 20, int retainBytes = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(retainBytes);
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            return MallOpt(MmapThreshold, blockBytes) == 1 && MallOpt(TrimThreshold, retainBytes) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            return false; // a C library without mallopt (musl)
        }
        catch (DllNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);
}
