using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace LossDsl.Kernels;

/// <summary>
/// The memory of the kernel's gradient tensors: native blocks that return here when libtorch releases
/// the tensor's storage (its deleter), and are handed out again for the next gradient of the same size.
/// </summary>
/// <remarks>
/// A gradient is as large as the logits, and training asks for one of the same size at every step. From
/// glibc's allocator (the default on Linux) such blocks come from mmap above its threshold (32 MiB at
/// most), or from the top of the heap below it, which glibc gives back to the kernel whenever more than
/// twice the threshold is free there. Either way the next step touches fresh pages: measured on the
/// 2-core VM, 8×1×512×512 forward+backward took 20–50 ms instead of 2–3 ms in some heap states, and a
/// 2×1×96×256×256 volume paid ~90 ms of page faults per step. A block of this pool is reused only after
/// libtorch has released every reference to it (autograd, <c>.grad</c>, a view the caller kept): the
/// deleter runs when the storage's last reference goes, so reuse can never alias a live tensor.
/// At most <see cref="PerSize"/> free blocks of one size and <see cref="RetainLimit"/> bytes in all are
/// kept; a block beyond that is freed at once.
/// </remarks>
internal static unsafe class GradientPool
{
    private const nuint Alignment = 64;
    private const int PerSize = 2;

    /// <summary>The most free bytes the pool keeps for reuse.</summary>
    public static long RetainLimit { get; set; } = 1L << 30;

    private static readonly object Gate = new();
    private static readonly Dictionary<long, Stack<IntPtr>> FreeBlocks = new();
    private static readonly Dictionary<IntPtr, long> LiveBlocks = new();
    private static long _freeBytes;

    /// <summary>Free bytes held for reuse (for tests).</summary>
    public static long FreeBytes
    {
        get
        {
            lock (Gate)
                return _freeBytes;
        }
    }

    /// <summary>Blocks handed out and not yet released by libtorch (for tests).</summary>
    public static int LiveCount
    {
        get
        {
            lock (Gate)
                return LiveBlocks.Count;
        }
    }

    /// <summary>An uninitialised contiguous float32 CPU tensor of this shape on a pooled block.</summary>
    public static torch.Tensor Float32(long[] shape)
    {
        long count = 1;
        foreach (var d in shape)
            count = checked(count * d);
        var bytes = (checked(Math.Max(count, 1) * sizeof(float)) + (long)Alignment - 1) / (long)Alignment * (long)Alignment;
        var block = Take(bytes);
        fixed (long* dims = shape)
        {
            var handle = THSTensor_new(
                block,
                &Release,
                (IntPtr)dims,
                shape.Length,
                (sbyte)torch.ScalarType.Float32,
                (sbyte)torch.ScalarType.Float32,
                0,
                0,
                false
            );
            if (handle == IntPtr.Zero)
            {
                // libtorch did not take the block (its deleter will not run): give it back here.
                Return(block);
                return torch.empty(shape, dtype: torch.ScalarType.Float32);
            }
            return torch.Tensor.UnsafeCreateTensor(handle);
        }
    }

    private static IntPtr Take(long bytes)
    {
        lock (Gate)
        {
            if (FreeBlocks.TryGetValue(bytes, out var stack) && stack.Count > 0)
            {
                var reused = stack.Pop();
                _freeBytes -= bytes;
                LiveBlocks[reused] = bytes;
                return reused;
            }
        }
        var block = (IntPtr)NativeMemory.AlignedAlloc((nuint)bytes, Alignment);
        lock (Gate)
            LiveBlocks[block] = bytes;
        return block;
    }

    private static void Return(IntPtr block)
    {
        lock (Gate)
        {
            if (!LiveBlocks.Remove(block, out var bytes))
                return;
            if (!FreeBlocks.TryGetValue(bytes, out var stack))
                FreeBlocks[bytes] = stack = new Stack<IntPtr>();
            if (stack.Count < PerSize && _freeBytes + bytes <= RetainLimit)
            {
                stack.Push(block);
                _freeBytes += bytes;
                return;
            }
        }
        NativeMemory.AlignedFree((void*)block);
    }

    /// <summary>Frees every block held for reuse (blocks in use return, and are kept or freed, later).</summary>
    public static void Trim()
    {
        List<IntPtr> blocks;
        lock (Gate)
        {
            blocks = new List<IntPtr>();
            foreach (var stack in FreeBlocks.Values)
                while (stack.Count > 0)
                    blocks.Add(stack.Pop());
            _freeBytes = 0;
        }
        foreach (var b in blocks)
            NativeMemory.AlignedFree((void*)b);
    }

    // libtorch's deleter: called on whatever thread drops the storage's last reference. Never throws.
    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    private static void Release(IntPtr block)
    {
        try
        {
            Return(block);
        }
        catch
        {
            // Nothing may unwind into native code; a block not returned is only memory not reused.
        }
    }

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_new(
        IntPtr data,
        delegate* unmanaged[Cdecl]<IntPtr, void> deleter,
        IntPtr dimensions,
        int numDimensions,
        sbyte type,
        sbyte dtype,
        int deviceType,
        int deviceIndex,
        [MarshalAs(UnmanagedType.U1)] bool requiresGrad
    );
}
