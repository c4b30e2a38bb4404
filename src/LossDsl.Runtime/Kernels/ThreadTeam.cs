using System;
using System.IO;
using System.Linq;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace LossDsl.Kernels;

/// <summary>
/// Runs the chunks of a kernel pass on libtorch's own OpenMP thread team where it can find it
/// (libgomp, loaded with libtorch on Linux), else on .NET's thread pool.
/// </summary>
/// <remarks>
/// After each parallel op, libtorch's OpenMP workers keep spinning for a while (OMP_WAIT_POLICY). A
/// kernel on separate .NET threads then competes with them for the same cores: on 2 cores this was
/// measured to cost up to one scheduler tick (4 ms) per pass. On the team's own threads there is
/// nothing to compete with. Chunks are handed out dynamically; the result does not depend on which
/// thread ran which chunk (partial sums are per chunk and combined in chunk order).
/// </remarks>
internal static unsafe class ThreadTeam
{
    private static readonly delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void> GompParallel = Resolve();

    // GOMP_parallel of the libgomp libtorch loaded (its file name carries a hash), found among the
    // process's mapped files once libtorch is loaded; null elsewhere (or with LOSSDSL_KERNEL_THREADS=dotnet).
    private static delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void> Resolve()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("LOSSDSL_KERNEL_THREADS") == "dotnet")
            return null;
        try
        {
            _ = TorchSharp.torch.get_num_threads(); // loads libtorch, and with it libgomp
            var path = File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
                .FirstOrDefault(p => Path.GetFileName(p).StartsWith("libgomp", StringComparison.Ordinal));
            if (path is null || !NativeLibrary.TryLoad(path, out var lib))
                return null;
            return NativeLibrary.TryGetExport(lib, "GOMP_parallel", out var parallel)
                ? (delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void>)parallel
                : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>True when passes run on libtorch's OpenMP team.</summary>
    public static bool UsesOpenMp => GompParallel != null;

    private sealed class Job
    {
        public required long Count;
        public required Action<long> Body;
        public long Next = -1;
        public Exception? Error;
    }

    /// <summary>
    /// Work below this many elements runs on the calling thread: waking the team costs more than such a pass. On
    /// 2 Zen 4 cores, BCE forward+backward on 8×1×8×8 took 127 µs handed to the team and 71 µs on the caller;
    /// on 8×1×64×64 (32,768 elements) the team was ahead, 87 against 104 µs. The bound sits below that, for
    /// losses with more work per element.
    /// </summary>
    public const long SerialBelow = 1 << 14;

    /// <summary>
    /// Runs <paramref name="body"/> for 0 … count-1, in parallel where the pass touches at least
    /// <see cref="SerialBelow"/> elements (<paramref name="elements"/>), else on the calling thread, in order;
    /// rethrows the first exception. Either way the chunks write their own results, so the values are the same.
    /// </summary>
    public static void For(long count, long elements, Action<long> body)
    {
        if (count <= 0)
            return;
        if (elements < SerialBelow || count == 1)
        {
            for (long k = 0; k < count; k++)
                body(k);
            return;
        }
        For(count, body);
    }

    /// <summary>Runs <paramref name="body"/> for 0 … count-1, in parallel; rethrows the first exception.</summary>
    public static void For(long count, Action<long> body)
    {
        if (count <= 0)
            return;
        if (GompParallel == null)
        {
            try
            {
                System.Threading.Tasks.Parallel.For(
                    0L,
                    count,
                    new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                    k => body(k)
                );
            }
            catch (AggregateException e) when (e.InnerExceptions.Count >= 1)
            {
                ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }
            return;
        }
        var job = new Job { Count = count, Body = body };
        var handle = GCHandle.Alloc(job);
        try
        {
            var threads = (uint)Math.Max(1, Math.Min(TorchSharp.torch.get_num_threads(), count));
            GompParallel(&Work, (void*)GCHandle.ToIntPtr(handle), threads, 0);
        }
        finally
        {
            handle.Free();
        }
        if (job.Error is { } error)
            ExceptionDispatchInfo.Capture(error).Throw();
    }

    [UnmanagedCallersOnly]
    private static void Work(void* data)
    {
        var job = (Job)GCHandle.FromIntPtr((nint)data).Target!;
        try
        {
            long k;
            while (job.Error is null && (k = Interlocked.Increment(ref job.Next)) < job.Count)
                job.Body(k);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref job.Error, e, null);
        }
    }
}
