using System;
using System.Collections.Concurrent;
using System.Runtime.Intrinsics;

namespace LossDsl.Kernels;

/// <summary>
/// The operator table's kernel functions (<see cref="ElementFunction.Kernel"/>, a <see cref="Simd"/> method)
/// applied to spans, for the buffered pass: whole vectors, then the last lanes padded into one more vector,
/// so every element gets the compiled pass's formula.
/// </summary>
internal static class SimdFunctions
{
    private static readonly ConcurrentDictionary<UnaryOp, Func<Vector512<float>, Vector512<float>>> Delegates = new();

    /// <summary>The Simd function of an operator-table entry.</summary>
    public static Func<Vector512<float>, Vector512<float>> Of(ElementFunction function) =>
        Delegates.GetOrAdd(
            function.Op,
            _ =>
                (
                    typeof(Simd).GetMethod(function.Kernel, new[] { typeof(Vector512<float>) })
                    ?? throw new InvalidOperationException($"Simd has no {function.Kernel}(Vector512<float>) for {function.Name}")
                ).CreateDelegate<Func<Vector512<float>, Vector512<float>>>()
        );

    /// <summary>dst[i] = f(x[i]) with the vector formula.</summary>
    public static void Apply(ElementFunction function, ReadOnlySpan<float> x, Span<float> dst)
    {
        var f = Of(function);
        var width = Vector512<float>.Count;
        var i = 0;
        for (; i + width <= x.Length; i += width)
            f(Vector512.Create(x.Slice(i, width))).CopyTo(dst.Slice(i, width));
        if (i == x.Length)
            return;
        Span<float> lanes = stackalloc float[width];
        lanes.Clear();
        x.Slice(i).CopyTo(lanes);
        Span<float> result = stackalloc float[width];
        f(Vector512.Create((ReadOnlySpan<float>)lanes)).CopyTo(result);
        result.Slice(0, x.Length - i).CopyTo(dst.Slice(i));
    }
}
