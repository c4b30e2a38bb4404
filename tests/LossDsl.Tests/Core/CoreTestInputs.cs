using System;
using System.Linq;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Core;

/// <summary>Random float64 loss inputs and an element-wise comparison of two specs under the interpreter.</summary>
public static class CoreTestInputs
{
    public const int N = 2,
        C = 3,
        H = 4,
        W = 5;

    public enum TargetForm
    {
        /// <summary>int64 class indices N, H, W (some set to the ignore index when masked).</summary>
        Index,

        /// <summary>Soft float targets N, C, H, W in [0, 1].</summary>
        Soft,
    }

    private const long IgnoreIndex = -100;

    /// <summary>A context for N×C×H×W float64 logits in [-4, 4]; the caller owns a dispose scope.</summary>
    public static LossContext Context(LossTask task, TargetForm form, bool masked, bool weights, int seed)
    {
        var rng = new Random(seed);
        var c = task == LossTask.Binary ? 1 : C;
        var pixels = N * H * W;
        var xs = Enumerable.Range(0, N * c * H * W).Select(_ => (rng.NextDouble() * 2 - 1) * 4).ToArray();
        var input = tensor(xs, new long[] { N, c, H, W }, float64);

        Tensor target;
        if (task == LossTask.Multiclass && form == TargetForm.Index)
        {
            // With a mask, some pixels also carry the ignore index: both become invalid pixels.
            var idx = Enumerable.Range(0, pixels).Select(_ => masked && rng.NextDouble() < 0.15 ? IgnoreIndex : rng.Next(c)).ToArray();
            target = tensor(idx, new long[] { N, H, W }, int64);
        }
        else
        {
            var ts = Enumerable.Range(0, N * c * H * W).Select(_ => rng.NextDouble()).ToArray();
            target = tensor(ts, new long[] { N, c, H, W }, float64);
        }

        Tensor? mask = null;
        if (masked)
        {
            var ms = Enumerable.Range(0, pixels).Select(_ => rng.NextDouble() < 0.7).ToArray();
            ms[0] = true; // at least one valid pixel
            mask = tensor(ms, new long[] { N, H, W });
        }

        Tensor? classWeights = weights ? tensor(Enumerable.Range(0, c).Select(_ => 0.25 + rng.NextDouble()).ToArray(), float64) : null;
        return LossContext.Create("core-test", task, input, target, mask, classWeights, IgnoreIndex, checkValues: true);
    }

    /// <summary>The value's shape and float64 elements.</summary>
    public static (long[] Shape, double[] Values) Values(Tensor t) => (t.shape, t.to(float64).contiguous().data<double>().ToArray());

    /// <summary>
    /// Asserts that <paramref name="expected"/> and <paramref name="actual"/> have the same shape and
    /// agree element-wise to ~1e-12 relative, where the expected value is finite (stable forms may
    /// turn an overflow of the original into a finite value).
    /// </summary>
    public static void AssertSameValues(Tensor expected, Tensor actual, string what, double tolerance = 1e-12)
    {
        var (es, ev) = Values(expected);
        var (@as, av) = Values(actual);
        Assert.True(es.SequenceEqual(@as), $"{what}: shape [{string.Join(", ", es)}] became [{string.Join(", ", @as)}]");
        for (var i = 0; i < ev.Length; i++)
        {
            if (!double.IsFinite(ev[i]))
                continue;
            var tol = tolerance * Math.Max(1, Math.Abs(ev[i]));
            Assert.True(Math.Abs(ev[i] - av[i]) <= tol, $"{what}: element {i} was {ev[i]:R}, simplified {av[i]:R}");
        }
    }

    /// <summary>Evaluates a spec and its simplified form on the context and asserts equal values.</summary>
    public static void AssertSimplifyPreserves(Expr spec, LossContext ctx, string what, Expr? simplified = null, double tolerance = 1e-12)
    {
        simplified ??= Simplifier.Simplify(spec);
        var (value, weight) = Interpreter.EvaluateResult(spec, ctx);
        var (sValue, sWeight) = Interpreter.EvaluateResult(simplified, ctx);
        AssertSameValues(value, sValue, what + " value", tolerance);
        Assert.Equal(weight is null, sWeight is null);
        if (weight is not null)
            AssertSameValues(weight, sWeight!, what + " weight", tolerance);
    }
}
