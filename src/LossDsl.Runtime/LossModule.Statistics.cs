using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>
/// Losses across data-parallel replicas: the sums a loss is a function of, exposed so that whatever runs
/// the replicas can add them up (an all-reduce), and the loss finished from the added sums with a gradient
/// that is exact for the global loss.
/// </summary>
public abstract partial class LossModule
{
    // Where the loss's batch-wide sums are.
    private enum StatisticsKind
    {
        Unsupported,
        Pooled,
        Reduction,
    }

    private sealed record StatisticsPlan(StatisticsKind Kind, Expr Spec, IReadOnlyList<Reduce> Pooled, string? Why);

    private StatisticsPlan? _statisticsPlan;

    /// <summary>
    /// The sums over the batch that this loss is a function of, as one 1-D float64-or-input-dtype tensor on
    /// the input's device, differentiable with respect to <paramref name="input"/>. Adding the statistics of
    /// several replicas element-wise (an all-reduce with sum) gives the statistics of the whole batch; pass
    /// both to <see cref="FromStatistics"/>. A spec that reads named maps takes them in <paramref name="maps"/>, as
    /// <c>forward</c> does.
    /// </summary>
    /// <remarks>
    /// Two kinds of loss have them. A loss pooled over the batch (e.g. <c>DiceLoss(batch: true)</c>,
    /// <c>MccLoss</c>) is a function of sums over batch and pixels (tp, Σp, Σt per class …): the statistics
    /// are those sums, and the global loss is not the mean of the replicas' losses. A loss with one value per
    /// sample or pixel under <c>Reduction.Mean</c> or <c>Sum</c> has the statistics [Σ value, Σ weight]
    /// (the weight: the valid-pixel count, the sample count, or Σ class weight for a weighted mean), so the
    /// global mean divides by the whole batch's valid count even when replicas hold different numbers of
    /// valid pixels, where averaging per-replica means is wrong.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The loss has no such sums (Reduction.None, or a spec that mixes
    /// batch-pooled sums with per-sample values).</exception>
    public Tensor Statistics(Tensor input, Tensor target, Tensor? mask = null, IReadOnlyDictionary<string, Tensor>? maps = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        CheckMaps(maps);
        var plan = PlanStatistics();
        using var scope = NewDisposeScope();
        using var ctx = Context(input, target, mask, null, maps);
        CheckLayout(ctx.C);
        if (plan.Kind == StatisticsKind.Pooled)
        {
            var parts = new List<Tensor>();
            foreach (var r in plan.Pooled)
            {
                var sum = Interpreter.Evaluate(r.Op == ReduceOp.Sum ? r : new Reduce(ReduceOp.Sum, r.Arg, r.Over), ctx);
                parts.Add(sum.reshape(-1));
                if (r.Op == ReduceOp.Mean)
                    parts.Add(
                        ctx.Count(r.Over & Axes.Of(r.Arg), Axes.IsPixelwise(Axes.Of(r.Arg)), atLeastOne: false)
                            .reshape(-1)
                            .expand(sum.numel())
                    );
            }
            return cat(parts, 0).MoveToOuterDisposeScope();
        }
        var (value, weight) = Interpreter.EvaluateResult(plan.Spec, ctx);
        var pixelwise = Axes.IsPixelwise(ResultAxes);
        using var total = Reductions.Apply(ctx, value, ResultAxes, Reduction.Sum);
        Tensor count;
        if (weight is null)
            count = ctx.Count(ResultAxes, pixelwise, atLeastOne: false); // 0 for a replica without valid pixels
        else
        {
            var full = value.dim() == 0 ? value.reshape(Reductions.FullShape(ctx, ResultAxes, (int)ctx.Input.dim())) : value;
            using var expanded = weight.expand_as(full);
            using var masked = pixelwise ? ctx.Masked(expanded) : expanded.alias();
            count = masked.sum();
        }
        using (count)
            return stack(new[] { total.reshape(Array.Empty<long>()), count.reshape(Array.Empty<long>()).to(total.dtype) })
                .MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The loss of the whole batch from its statistics: the value is computed from
    /// <paramref name="globalStatistics"/> (the element-wise sum of every replica's <see cref="Statistics"/>), the
    /// gradient flows through <paramref name="localStatistics"/> (this replica's, still attached to its input),
    /// so each replica's backward gives its share of the exact gradient of the global loss. With one replica
    /// (global = local) it equals <c>forward(input, target, mask)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The two tensors differ in shape, or do not come from this loss.</exception>
    public Tensor FromStatistics(Tensor localStatistics, Tensor globalStatistics)
    {
        ArgumentNullException.ThrowIfNull(localStatistics);
        ArgumentNullException.ThrowIfNull(globalStatistics);
        var plan = PlanStatistics();
        if (localStatistics.dim() != 1 || !localStatistics.shape.SequenceEqual(globalStatistics.shape))
            throw new ArgumentException(
                $"{GetName()}: localStatistics has shape [{string.Join(", ", localStatistics.shape)}] and globalStatistics [{string.Join(", ", globalStatistics.shape)}]; expected two 1-D tensors of the same length from Statistics (the global one the element-wise sum over replicas)",
                nameof(globalStatistics)
            );
        using var scope = NewDisposeScope();
        // The value of the global statistics, the gradient of the local ones.
        var s = localStatistics + (globalStatistics.to(localStatistics.dtype, localStatistics.device) - localStatistics).detach();
        if (plan.Kind == StatisticsKind.Reduction)
        {
            if (s.shape[0] != 2)
                throw new ArgumentException(
                    $"{GetName()}: expected the 2 statistics [Σ value, Σ weight] of this loss, got {s.shape[0]}",
                    nameof(localStatistics)
                );
            if (Reduction == Reduction.Sum)
                return s[0].MoveToOuterDisposeScope();
            // As forward: a total weight of 0 (nothing valid anywhere) divides by 1, giving 0.
            using var zero = 0.0.ToScalar();
            using var one = 1.0.ToScalar();
            var total = s[1].masked_fill(s[1].eq(zero), one);
            return (s[0] / total).MoveToOuterDisposeScope();
        }
        // Class-level evaluation: a context with no pixels but this input's classes.
        var classes = PooledClasses(plan, s.shape[0]);
        using var input = zeros(new long[] { 1, classes, 1 }, dtype: s.dtype, device: s.device);
        using var target =
            Task == LossTask.Binary
                ? zeros(new long[] { 1, 1, 1 }, dtype: s.dtype, device: s.device)
                : zeros(new long[] { 1, classes, 1 }, dtype: s.dtype, device: s.device);
        using var ctx = WithPosWeights(
            LossContext.Create(GetName(), Task, input, target, null, ClassWeights, IgnoreIndex, checkValues: false)
        );
        var known = new Dictionary<Expr, Tensor>();
        long at = 0;
        foreach (var r in plan.Pooled)
        {
            var n = (Axes.Of(r) & Over.Classes) != 0 ? classes : 1;
            var sum = s.narrow(0, at, n).reshape(1, n, 1);
            at += n;
            if (r.Op == ReduceOp.Mean)
            {
                using var one = 1.0.ToScalar();
                sum = sum / s.narrow(0, at, n).reshape(1, n, 1).clamp_min(one);
                at += n;
            }
            known[r] = sum;
        }
        var (value, weight) = Interpreter.EvaluateResult(plan.Spec, ctx, known);
        return Reductions.Apply(ctx, value, ResultAxes, Reduction, weight).MoveToOuterDisposeScope();
    }

    // The class count the pooled statistics were made with, from their length.
    private long PooledClasses(StatisticsPlan plan, long length)
    {
        long perClass = 0,
            scalar = 0;
        foreach (var r in plan.Pooled)
        {
            var k = r.Op == ReduceOp.Mean ? 2 : 1;
            if ((Axes.Of(r) & Over.Classes) != 0)
                perClass += k;
            else
                scalar += k;
        }
        if (perClass == 0)
            return length == scalar ? 1 : throw WrongLength(length, scalar);
        if ((length - scalar) % perClass != 0 || length <= scalar)
            throw WrongLength(length, scalar + perClass);
        return (length - scalar) / perClass;

        ArgumentException WrongLength(long got, long unit) =>
            new(
                $"{GetName()}: statistics of length {got} do not come from this loss (expected {unit} per class{(scalar > 0 ? $" plus {scalar}" : "")})",
                "localStatistics"
            );
    }

    private StatisticsPlan PlanStatistics()
    {
        var plan = _statisticsPlan ??= MakeStatisticsPlan();
        if (plan.Kind == StatisticsKind.Unsupported)
            throw new InvalidOperationException($"{GetName()}: {plan.Why}");
        return plan;
    }

    private StatisticsPlan MakeStatisticsPlan()
    {
        var spec = BuildSpec();
        if ((ResultAxes & Over.Batch) != 0 || Axes.IsPixelwise(ResultAxes))
        {
            // One value per sample or pixel: the statistics are the final reduction's sum and weight.
            if (Reduction == Reduction.None)
                return new(
                    StatisticsKind.Unsupported,
                    spec,
                    Array.Empty<Reduce>(),
                    "Reduction.None gives one value per sample or pixel; statistics need Mean or Sum"
                );
            var pooledInside = Walk(spec).Pooled;
            return pooledInside.Count == 0
                ? new(StatisticsKind.Reduction, spec, Array.Empty<Reduce>(), null)
                : new(
                    StatisticsKind.Unsupported,
                    spec,
                    Array.Empty<Reduce>(),
                    "its per-sample values also depend on sums over the whole batch, which would need two rounds of all-reduce"
                );
        }
        var (pooled, pixels) = Walk(spec);
        return pixels
            ? new(StatisticsKind.Unsupported, spec, Array.Empty<Reduce>(), "its value depends on pixels outside sums over the batch")
            : new(StatisticsKind.Pooled, spec, pooled, null);
    }

    // The reductions over the batch (not looked into), and whether anything else reads pixel data.
    private static (List<Reduce> Pooled, bool Pixels) Walk(Expr spec)
    {
        var pooled = new List<Reduce>();
        var seen = new HashSet<Expr>();
        var pixels = false;
        var stack = new Stack<Expr>();
        stack.Push(spec);
        while (stack.Count > 0)
        {
            var e = stack.Pop();
            if (!seen.Add(e))
                continue;
            switch (e)
            {
                case Reduce r when (r.Over & Axes.Of(r.Arg) & Over.Batch) != 0 && (Axes.Of(r.Arg) & ~r.Over & Over.Spatial) == 0:
                    if (!pooled.Contains(r))
                        pooled.Add(r);
                    continue;
                case Cond k when k.Test is Const c:
                    stack.Push(c.Value != 0 ? k.Then : k.Else);
                    continue;
                case Input { Kind: InputKind.Prediction or InputKind.Target } or OneHot or SelectTarget or Masked or PlainSum:
                    pixels = true;
                    continue;
                case Count c when (c.Over & (Over.Batch | Over.Spatial)) != 0:
                    pixels = true;
                    continue;
                case Reduce r when (Axes.Of(r.Arg) & (Over.Batch | Over.Spatial)) != 0:
                    pixels = true;
                    continue;
            }
            foreach (var child in Structure.Children(e))
                stack.Push(child);
        }
        return (pooled, pixels);
    }
}
