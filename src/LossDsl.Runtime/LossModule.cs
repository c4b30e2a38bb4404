using System;
using TorchSharp;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>
/// Any loss: a <c>torch.nn.Module</c> taking (input, target) and optionally a validity mask.
/// Combine losses with <c>+</c> and scalar <c>*</c>: <c>0.5 * bce + 0.5 * dice</c>.
/// </summary>
public abstract class LossFunction : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>Creates a loss module with the given name.</summary>
    protected LossFunction(string name) : base(name) { }

    /// <summary>The loss of <paramref name="input"/> against <paramref name="target"/> (every pixel valid).</summary>
    public override Tensor forward(Tensor input, Tensor target) => forward(input, target, null);

    /// <summary>The loss with an optional validity mask <c>N, *spatial</c> (non-zero = valid).</summary>
    public abstract Tensor forward(Tensor input, Tensor target, Tensor? mask);

    /// <summary>The weighted sum of two losses.</summary>
    public static LossFunction operator +(LossFunction left, LossFunction right) => CombinedLoss.Of(left, right);

    /// <summary>A loss scaled by a constant weight.</summary>
    public static LossFunction operator *(double weight, LossFunction loss) => CombinedLoss.Scale(weight, loss);
}

/// <summary>
/// Base class of every generated loss module. Validates and normalises the inputs (see
/// <see cref="LossContext"/>), evaluates the compiled spec, then applies <see cref="Reduction"/>.
/// </summary>
public abstract class LossModule : LossFunction
{
    /// <summary>Creates the module.</summary>
    protected LossModule(string name, LossTask task, Reduction reduction) : base(name)
    {
        Task = task;
        Reduction = reduction;
    }

    /// <summary>The layout this loss expects.</summary>
    public LossTask Task { get; }

    /// <summary>How the per-sample/per-pixel values are reduced: Mean (default), Sum or None.</summary>
    public Reduction Reduction { get; }

    /// <summary>Optional class weights, a vector of length C (for specs that use <c>ClassWeights</c>).</summary>
    public Tensor? ClassWeights { get; set; }

    /// <summary>Class index that marks a pixel as void (multiclass index targets): it becomes masked.</summary>
    public long IgnoreIndex { get; set; } = -100;

    /// <summary>
    /// Whether to check values too (finite input, target in [0, 1] or a valid class index, weights
    /// >= 0). Shapes and dtypes are always checked. Each value check reads its tensor once.
    /// </summary>
    public bool CheckValues { get; set; } = true;

    /// <summary>The spec as an expression, built by calling the spec method with this module's hyperparameters.</summary>
    public abstract Expr BuildSpec();

    /// <summary>The axes the compiled spec's value keeps (before <see cref="Reduction"/>).</summary>
    protected abstract Over ResultAxes { get; }

    /// <summary>
    /// The compiled spec (generated code) evaluated on normalised inputs: its value, and for specs
    /// whose result is <c>WeightedMean(value, weight)</c> the weight the Mean reduction divides by.
    /// </summary>
    protected abstract (Tensor Value, Tensor? MeanWeight) Evaluate(LossContext ctx);

    /// <inheritdoc />
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        using var ctx = LossContext.Create(GetName(), Task, input, target, mask, ClassWeights, IgnoreIndex, CheckValues);
        var (value, weight) = Evaluate(ctx);
        return Reductions.Apply(ctx, value, ResultAxes, Reduction, weight).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same loss computed by the reference interpreter from <see cref="BuildSpec"/> with eager
    /// TorchSharp ops. Slower; it defines what the generated code must compute.
    /// </summary>
    public Tensor Reference(Tensor input, Tensor target, Tensor? mask = null)
    {
        using var scope = NewDisposeScope();
        var spec = BuildSpec();
        using var ctx = LossContext.Create(GetName(), Task, input, target, mask, ClassWeights, IgnoreIndex, CheckValues);
        var (value, weight) = Interpreter.EvaluateResult(spec, ctx);
        return Reductions.Apply(ctx, value, LossDsl.Axes.Of(spec), Reduction, weight).MoveToOuterDisposeScope();
    }
}

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
                if (keepClass) target.Add(ctx.C);
                if (pixelwise)
                    for (var i = 0; i < ctx.SpatialRank; i++) target.Add(ctx.Input.shape[2 + i]);
                using var expanded = v.expand(FullShape(ctx, axes, v));
                v.Dispose();
                return expanded.reshape(target.ToArray());
            }
        }
    }

    // Σ weight over the value's elements (valid ones for per-pixel values); 1 where that is 0, so an
    // all-ignored batch gives 0 rather than NaN.
    private static Tensor WeightTotal(LossContext ctx, Tensor weight, Tensor value, bool pixelwise)
    {
        using var expanded = weight.expand_as(value);
        using var masked = pixelwise ? ctx.Masked(expanded) : expanded.alias();
        using var total = masked.sum();
        using var isZero = total.eq(0);
        return total.masked_fill(isZero, 1.0);
    }

    private static long[] FullShape(LossContext ctx, Over axes, Tensor v)
    {
        var shape = new long[v.dim()];
        shape[0] = (axes & Over.Batch) != 0 ? ctx.N : 1;
        shape[1] = (axes & Over.Classes) != 0 ? ctx.C : 1;
        for (var i = 2; i < shape.Length; i++) shape[i] = (axes & Over.Spatial) != 0 ? ctx.Input.shape[i] : 1;
        return shape;
    }
}
