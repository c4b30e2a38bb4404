using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Text;

namespace LossDsl.Kernels.Cuda;

/// <summary>The element type a CUDA kernel reads and writes (arithmetic is float, or double for float64).</summary>
internal enum CudaDType
{
    /// <summary>float32.</summary>
    Float32,

    /// <summary>float16, read and written natively, computed in float.</summary>
    Float16,

    /// <summary>bfloat16, read and written natively, computed in float.</summary>
    BFloat16,

    /// <summary>float64, computed in double.</summary>
    Float64,
}

/// <summary>What a printed program is specialised for, besides the plan.</summary>
/// <param name="Classes">The class count (unrolled; at most <see cref="CudaPrinter.MaxUnrolledClasses"/>).</param>
/// <param name="Index">Targets are int64 class indices (N, *spatial) rather than per-class values.</param>
/// <param name="DType">The prediction's (and gradient's, and per-class target's) element type.</param>
/// <param name="Sum">Reduction Sum (else Mean).</param>
/// <param name="Check">Whether the passes check the inputs (non-finite prediction, target outside [0, 1], bad class index).</param>
internal sealed record CudaKey(int Classes, bool Index, CudaDType DType, bool Sum, bool Check);

/// <summary>A printed CUDA translation unit and how to launch it.</summary>
/// <param name="Source">The CUDA C++ source (NVRTC input).</param>
/// <param name="Kernels">Its kernels in launch order.</param>
/// <param name="Slots">Partial-sum slots per (sample, block).</param>
/// <param name="StatNodes">How many statistics the stats buffer holds (each N·C doubles).</param>
internal sealed record CudaProgram(string Source, ImmutableArray<CudaLaunch> Kernels, int Slots, int StatNodes);

/// <summary>One kernel of a program.</summary>
/// <param name="Name">Its extern "C" name.</param>
/// <param name="Grid">How it is launched: over pixels (blocks × N), one block per sample, or a single thread.</param>
/// <param name="Parameters">Its parameters' names in order (<c>x</c>, <c>stats</c>, <c>N</c> …), one vocabulary for
/// every kernel, so a launcher binds arguments by name.</param>
internal sealed record CudaLaunch(string Name, CudaGrid Grid, ImmutableArray<string> Parameters);

/// <summary>A kernel's launch shape.</summary>
internal enum CudaGrid
{
    /// <summary>(blocks, N) blocks of <see cref="CudaPrinter.BlockSize"/> threads striding over a sample's pixels.</summary>
    Pixels,

    /// <summary>N blocks of <see cref="CudaPrinter.BlockSize"/> threads, one per sample.</summary>
    Samples,

    /// <summary>One thread (the statistics between passes: a few values per sample and class).</summary>
    Single,
}
