using System;
using TorchSharp;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>The final reduction of a spec's value, shared by generated code and the interpreter.</summary>
public static class Reductions
{
    /// <summary>
    /// Reduces <paramref name="value"/>, whose kept axes are <paramref name="axes"/>. Per-pixel values
    /// exclude invalid pixels: Mean divides by the valid count, None zeroes them. For None, reduced
    /// spatial axes are dropped, and so is the class axis when the value has none (or the binary input
    /// came without one); the batch axis is always kept.
    /// </summary>
    public static Tensor Apply(LossContext ctx, Tensor value, Over axes, Reduction reduction, Tensor? meanWeight = null)
    {
        var pixelwise = Axes.IsPixelwise(axes);
        if (value.dim() == 0)
            value = value.reshape(System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Repeat(1L, (int)ctx.Input.dim())));
        switch (reduction)
        {
            case Reduction.Sum:
            {
                using var masked = pixelwise ? ctx.Masked(value) : value.alias();
                return masked.sum();
            }
            case Reduction.Mean:
            {
                using var masked = pixelwise ? ctx.Masked(value) : value.alias();
                using var total = masked.sum();
                using var count = meanWeight is null ? ctx.Count(axes, valid: pixelwise) : WeightTotal(ctx, meanWeight, value, pixelwise);
                return (total / count).reshape(Array.Empty<long>());
            }
            default:
            {
                var v = pixelwise ? ctx.Masked(value) : value.alias();
                var target = new System.Collections.Generic.List<long> { (axes & Over.Batch) != 0 ? ctx.N : 1 };
                // Region values (per sample and class) are always N, C; per-pixel values of a binary input that
                // came without a class axis come back without one.
                var keepClass = (axes & Over.Classes) != 0 && (!pixelwise || ctx.InputHadClassAxis || ctx.Task == LossTask.Multiclass);
                if (keepClass)
                    target.Add(ctx.C);
                if (pixelwise)
                    for (var i = 0; i < ctx.SpatialRank; i++)
                        target.Add(ctx.Input.shape[2 + i]);
                using var expanded = v.expand(FullShape(ctx, axes, (int)v.dim()));
                v.Dispose();
                return expanded.reshape(target.ToArray());
            }
        }
    }

    // Σ weight over the value's elements (valid ones for per-pixel values): MeanRule.WeightDenominator,
    // elementwise (1 where the total is 0, so an all-ignored batch gives 0 rather than NaN).
    internal static Tensor WeightTotal(LossContext ctx, Tensor weight, Tensor value, bool pixelwise)
    {
        using var expanded = weight.expand_as(value);
        using var masked = pixelwise ? ctx.Valid(expanded) : expanded.alias();
        using var total = masked.sum();
        using var zero = 0.0.ToScalar();
        using var one = 1.0.ToScalar();
        using var isZero = total.eq(zero);
        return total.masked_fill(isZero, one);
    }

    internal static long[] FullShape(LossContext ctx, Over axes, int rank)
    {
        var shape = new long[rank];
        shape[0] = (axes & Over.Batch) != 0 ? ctx.N : 1;
        shape[1] = (axes & Over.Classes) != 0 ? ctx.C : 1;
        for (var i = 2; i < shape.Length; i++)
            shape[i] = (axes & Over.Spatial) != 0 ? ctx.Input.shape[i] : 1;
        return shape;
    }
}
