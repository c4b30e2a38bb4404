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

    private static readonly ConcurrentDictionary<BinaryOp, Func<Vector512<float>, Vector512<float>, Vector512<float>>> BinaryDelegates =
        new();

    /// <summary>The Simd function of an arithmetic operation of the operator table.</summary>
    public static Func<Vector512<float>, Vector512<float>, Vector512<float>> Of(BinaryFunction function) =>
        BinaryDelegates.GetOrAdd(
            function.Op,
            _ =>
                (
                    typeof(Simd).GetMethod(function.Kernel, new[] { typeof(Vector512<float>), typeof(Vector512<float>) })
                    ?? throw new InvalidOperationException(
                        $"Simd has no {function.Kernel}(Vector512<float>, Vector512<float>) for {function.Name}"
                    )
                ).CreateDelegate<Func<Vector512<float>, Vector512<float>, Vector512<float>>>()
        );

    /// <summary>
    /// dst[i] = f(a[i], b[i]) with the vector formula; an operand given as a scalar (its span empty) is
    /// broadcast.
    /// </summary>
    public static void Apply(
        BinaryFunction function,
        ReadOnlySpan<float> a,
        float aScalar,
        bool aIsScalar,
        ReadOnlySpan<float> b,
        float bScalar,
        bool bIsScalar,
        Span<float> dst
    )
    {
        var f = Of(function);
        var width = Vector512<float>.Count;
        var sa = Vector512.Create(aScalar);
        var sb = Vector512.Create(bScalar);
        var i = 0;
        for (; i + width <= dst.Length; i += width)
        {
            var va = aIsScalar ? sa : Vector512.Create(a.Slice(i, width));
            var vb = bIsScalar ? sb : Vector512.Create(b.Slice(i, width));
            f(va, vb).CopyTo(dst.Slice(i, width));
        }
        if (i == dst.Length)
            return;
        Span<float> la = stackalloc float[width];
        Span<float> lb = stackalloc float[width];
        la.Fill(aIsScalar ? aScalar : 0f);
        lb.Fill(bIsScalar ? bScalar : 0f);
        if (!aIsScalar)
            a.Slice(i).CopyTo(la);
        if (!bIsScalar)
            b.Slice(i).CopyTo(lb);
        Span<float> result = stackalloc float[width];
        f(Vector512.Create((ReadOnlySpan<float>)la), Vector512.Create((ReadOnlySpan<float>)lb)).CopyTo(result);
        result.Slice(0, dst.Length - i).CopyTo(dst.Slice(i));
    }
}
