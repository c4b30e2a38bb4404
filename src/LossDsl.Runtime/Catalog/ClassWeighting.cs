using System;
using System.Linq;
using static TorchSharp.torch;

namespace LossDsl;

/// <summary>
/// Class-weight estimators from label statistics, for the <c>classWeights</c> of the catalog's losses
/// (or <see cref="PosWeight"/> for <c>BceLoss</c>'s <c>posWeight</c>). Every estimator counts valid pixels
/// only (a mask and <c>ignoreIndex</c> remove pixels) and stays finite when a class is absent: an absent
/// class gets the largest weight of the present classes (all ones when no class is present).
/// </summary>
public static class ClassWeightEstimators
{
    /// <summary>
    /// Valid pixels per class: for int64 class indices <c>N, *spatial</c> (pixels equal to
    /// <paramref name="ignoreIndex"/> skipped), or per-class targets <c>N, C, *spatial</c> (summed per class).
    /// </summary>
    /// <param name="target">Class indices or per-class targets.</param>
    /// <param name="numClasses">C.</param>
    /// <param name="mask">Optional validity mask <c>N, *spatial</c> (non-zero = valid).</param>
    /// <param name="ignoreIndex">Class index of void pixels (index targets only).</param>
    /// <returns>The C counts, in float64.</returns>
    public static double[] Counts(Tensor target, int numClasses, Tensor? mask = null, long ignoreIndex = -100)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (numClasses < 1)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses must be at least 1");
        using var scope = NewDisposeScope();
        if (target.is_floating_point())
        {
            if (target.dim() < 2 || target.shape[1] != numClasses)
                throw new ArgumentException(
                    $"ClassWeightEstimators: target has shape {Show(target.shape)}; per-class targets must be N, C, *spatial with C = {numClasses}.",
                    nameof(target)
                );
            var t = target.to(ScalarType.Float64);
            if (mask is not null)
            {
                var pixel = PixelShape(target.shape, withClassAxis: true);
                CheckMask(mask, target.shape.Take(1).Concat(target.shape.Skip(2)).ToArray());
                t = t * mask.ne(0).reshape(pixel).to(ScalarType.Float64);
            }
            var dims = Enumerable.Range(0, (int)t.dim()).Where(d => d != 1).Select(d => (long)d).ToArray();
            return t.sum(dims).data<double>().ToArray();
        }
        if (target.dtype == ScalarType.Bool)
            throw new ArgumentException(
                "ClassWeightEstimators: target has dtype Bool; expected int64 class indices N, *spatial or float per-class targets N, C, *spatial.",
                nameof(target)
            );
        var idx = target.to(ScalarType.Int64).flatten();
        var valid = idx.ne(ignoreIndex);
        if (mask is not null)
        {
            CheckMask(mask, target.shape);
            valid = valid.logical_and(mask.ne(0).flatten());
        }
        var kept = idx.masked_select(valid);
        if (kept.numel() > 0)
        {
            var lo = kept.min().item<long>();
            var hi = kept.max().item<long>();
            if (lo < 0 || hi >= numClasses)
                throw new ArgumentException(
                    $"ClassWeightEstimators: target holds class index {(lo < 0 ? lo : hi)}, outside [0, {numClasses - 1}] (and not ignoreIndex = {ignoreIndex}).",
                    nameof(target)
                );
        }
        return kept.bincount(null, numClasses).to(ScalarType.Float64).data<double>().ToArray();
    }

    /// <summary>scikit-learn's "balanced": w_c = n / (C · n_c), n the number of valid pixels.</summary>
    /// <inheritdoc cref="Counts"/>
    public static Tensor Balanced(Tensor target, int numClasses, Tensor? mask = null, long ignoreIndex = -100)
    {
        var counts = Counts(target, numClasses, mask, ignoreIndex);
        var total = counts.Sum();
        return Finish(counts, c => total / (numClasses * c));
    }

    /// <summary>
    /// Inverse frequency blended toward a constant: w_c = (1 - blend)·u_c + blend, where u_c = (1/f_c)
    /// normalised to mean 1 over the present classes and f_c = n_c / n. blend = 0: pure inverse frequency;
    /// blend = 1: all ones.
    /// </summary>
    /// <param name="target">Class indices or per-class targets.</param>
    /// <param name="numClasses">C.</param>
    /// <param name="blend">In [0, 1]: how far the weights move toward 1.</param>
    /// <param name="mask">Optional validity mask <c>N, *spatial</c>.</param>
    /// <param name="ignoreIndex">Class index of void pixels (index targets only).</param>
    /// <returns>The C weights, float32.</returns>
    public static Tensor InverseFrequency(Tensor target, int numClasses, double blend = 0.0, Tensor? mask = null, long ignoreIndex = -100)
    {
        if (!(blend >= 0 && blend <= 1))
            throw new ArgumentOutOfRangeException(nameof(blend), blend, "blend must lie in [0, 1]");
        var counts = Counts(target, numClasses, mask, ignoreIndex);
        var total = counts.Sum();
        var inverse = counts.Select(c => c > 0 ? total / c : 0.0).ToArray();
        var present = counts.Count(c => c > 0);
        var mean = present == 0 ? 1.0 : inverse.Sum() / present;
        return Finish(counts, c => (1 - blend) * (total / c) / mean + blend);
    }

    /// <summary>Median frequency balancing (Eigen and Fergus): w_c = median(f) / f_c, the median over present classes.</summary>
    /// <inheritdoc cref="Counts"/>
    public static Tensor MedianFrequency(Tensor target, int numClasses, Tensor? mask = null, long ignoreIndex = -100)
    {
        var counts = Counts(target, numClasses, mask, ignoreIndex);
        var present = counts.Where(c => c > 0).OrderBy(c => c).ToArray();
        var median =
            present.Length == 0 ? 1.0
            : present.Length % 2 == 1 ? present[present.Length / 2]
            : 0.5 * (present[present.Length / 2 - 1] + present[present.Length / 2]);
        return Finish(counts, c => median / c);
    }

    /// <summary>
    /// Effective number of samples (Cui et al.): w_c = (1 - β) / (1 - β^n_c), normalised so the weights of
    /// the present classes sum to their number.
    /// </summary>
    /// <param name="target">Class indices or per-class targets.</param>
    /// <param name="numClasses">C.</param>
    /// <param name="beta">β in [0, 1); larger β weighs rare classes more.</param>
    /// <param name="mask">Optional validity mask <c>N, *spatial</c>.</param>
    /// <param name="ignoreIndex">Class index of void pixels (index targets only).</param>
    /// <returns>The C weights, float32.</returns>
    public static Tensor EffectiveNumber(Tensor target, int numClasses, double beta = 0.999, Tensor? mask = null, long ignoreIndex = -100)
    {
        if (!(beta >= 0 && beta < 1))
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "beta must lie in [0, 1)");
        var counts = Counts(target, numClasses, mask, ignoreIndex);
        double Raw(double c) => (1 - beta) / (1 - Math.Pow(beta, c));
        var present = counts.Where(c => c > 0).ToArray();
        var scale = present.Length == 0 ? 1.0 : present.Length / present.Sum(Raw);
        return Finish(counts, c => Raw(c) * scale);
    }

    /// <summary>
    /// #negatives / #positives of a binary target (valid pixels only), PyTorch's <c>pos_weight</c> for
    /// <c>BceLoss</c>. Soft targets count fractionally. Without positives the count is floored at 1 pixel;
    /// without any valid pixel the result is 1.
    /// </summary>
    /// <param name="target">Targets in [0, 1], any shape.</param>
    /// <param name="mask">Optional validity mask, the target's shape without its class axis or with it.</param>
    /// <returns>The positive-class weight.</returns>
    public static double PosWeight(Tensor target, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        using var scope = NewDisposeScope();
        var t = target.to(ScalarType.Float64).flatten();
        if (mask is not null)
        {
            if (mask.numel() != target.numel())
                throw new ArgumentException(
                    $"ClassWeightEstimators: mask has shape {Show(mask.shape)}; expected {target.numel()} elements, the target's shape {Show(target.shape)}.",
                    nameof(mask)
                );
            t = t.masked_select(mask.ne(0).flatten());
        }
        var n = (double)t.numel();
        if (n == 0)
            return 1.0;
        var positives = t.sum().item<double>();
        return (n - positives) / Math.Max(positives, 1.0);
    }

    private static Tensor Finish(double[] counts, Func<double, double> weightOfCount)
    {
        var w = counts.Select(c => c > 0 ? weightOfCount(c) : double.NaN).ToArray();
        var present = w.Where(v => !double.IsNaN(v)).ToArray();
        var fill = present.Length == 0 ? 1.0 : present.Max();
        var result = w.Select(v => double.IsNaN(v) ? fill : v).Select(v => (float)v).ToArray();
        return tensor(result);
    }

    private static void CheckMask(Tensor mask, long[] pixelShape)
    {
        if (
            mask.numel() != pixelShape.Aggregate(1L, (a, b) => a * b)
            || mask.shape.Where(d => d != 1).Count() > pixelShape.Count(d => d != 1)
        )
            throw new ArgumentException(
                $"ClassWeightEstimators: mask has shape {Show(mask.shape)}; expected {Show(pixelShape)} (N, *spatial).",
                nameof(mask)
            );
    }

    private static long[] PixelShape(long[] shape, bool withClassAxis)
    {
        var s = shape.ToArray();
        if (withClassAxis)
            s[1] = 1;
        return s;
    }

    private static string Show(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
