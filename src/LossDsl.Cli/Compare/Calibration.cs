using System;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;

namespace LossDsl.Cli.Compare;

/// <summary>
/// How a network's logits become class indices. Binary: foreground where the probability is above
/// <see cref="Threshold"/> (0.5 = logit above 0). Multiclass: the arg-max of logit + <see cref="Offsets"/>
/// (all 0 = plain arg-max); class 0's offset stays 0, since only differences between classes matter.
/// </summary>
/// <param name="Threshold">Binary probability threshold (unused for multiclass).</param>
/// <param name="Offsets">Multiclass per-class logit offsets; empty for binary.</param>
internal sealed record DecisionRule(double Threshold, ImmutableArray<double> Offsets)
{
    /// <summary>Threshold 0.5 (binary) or plain arg-max (multiclass): what the network predicts untuned.</summary>
    public static DecisionRule Default(LossTask task, int classes) =>
        task == LossTask.Binary
            ? new DecisionRule(0.5, ImmutableArray<double>.Empty)
            : new DecisionRule(0.5, ImmutableArray.CreateRange(Enumerable.Repeat(0.0, classes)));

    /// <summary>Whether this is a binary rule (a threshold).</summary>
    public bool IsBinary => Offsets.IsDefaultOrEmpty;

    /// <summary>
    /// Class indices (images × pixels) from logits laid out images × channels × pixels (one channel
    /// for binary, <paramref name="classes"/> for multiclass).
    /// </summary>
    public byte[] Predict(ReadOnlySpan<float> logits, int images, int classes)
    {
        var channels = IsBinary ? 1 : classes;
        if (images <= 0 || logits.Length % (images * channels) != 0)
            throw new ArgumentException("logits are not images × channels × pixels", nameof(logits));
        var pixels = logits.Length / (images * channels);
        var result = new byte[images * pixels];
        if (IsBinary)
        {
            var cut = Calibration.Logit(Threshold);
            for (var i = 0; i < result.Length; i++)
                result[i] = (double)logits[i] > cut ? (byte)1 : (byte)0;
            return result;
        }
        if (Offsets.Length != classes)
            throw new ArgumentException($"{Offsets.Length} offsets for {classes} classes");
        for (var n = 0; n < images; n++)
        for (var p = 0; p < pixels; p++)
        {
            var best = 0;
            var bestValue = logits[n * classes * pixels + p] + Offsets[0];
            for (var c = 1; c < classes; c++)
            {
                var v = logits[(n * classes + c) * pixels + p] + Offsets[c];
                if (v > bestValue)
                {
                    best = c;
                    bestValue = v;
                }
            }
            result[n * pixels + p] = (byte)best;
        }
        return result;
    }

    /// <summary>"threshold 0.62" or "offsets building +0.50, road 0, …" (class 0 omitted).</summary>
    public string Describe(CompareTask task) =>
        IsBinary
            ? "threshold " + Threshold.ToString("0.00", CultureInfo.InvariantCulture)
            : "offsets "
                + string.Join(
                    ", ",
                    Enumerable.Range(1, Offsets.Length - 1).Select(c => $"{task.ClassNames[c]} {Calibration.Signed(Offsets[c])}")
                );
}

/// <summary>
/// Tunes the decision rule on the validation split, so that a loss whose network is well trained but
/// mis-calibrated (e.g. weighted BCE, whose probabilities are pushed up on purpose) is not judged by a
/// threshold it was never meant to use. The tuned rule is then applied, unchanged, to the test split.
/// </summary>
internal static class Calibration
{
    /// <summary>Binary thresholds tried: probabilities 0.01, 0.02, …, 0.99 (0.5 among them).</summary>
    public static readonly ImmutableArray<double> ThresholdGrid = Enumerable.Range(1, 99).Select(k => k / 100.0).ToImmutableArray();

    /// <summary>Multiclass logit offsets tried per class: −3, −2.75, …, 3 (0 among them).</summary>
    public static readonly ImmutableArray<double> OffsetGrid = Enumerable.Range(-12, 25).Select(k => k / 4.0).ToImmutableArray();

    /// <summary>Rounds of coordinate ascent over the non-background classes.</summary>
    public const int OffsetRounds = 3;

    /// <summary>ln(t / (1 − t)): the logit above which a pixel is foreground at probability threshold t (exactly 0 at 0.5).</summary>
    public static double Logit(double threshold) => Math.Log(threshold / (1 - threshold));

    internal static string Signed(double v) => v == 0 ? "0" : v.ToString("+0.00;−0.00", CultureInfo.InvariantCulture);

    /// <summary>
    /// The rule that maximises the headline score (mean pooled Dice over the non-background classes)
    /// on the given split: a threshold from <see cref="ThresholdGrid"/> (binary; ties go to the one
    /// closest to 0.5), or per-class offsets from <see cref="OffsetGrid"/> by coordinate ascent
    /// (multiclass; a class's offset moves only when that strictly improves the score, ties then go to
    /// the smallest offset), starting from the untuned rule. The tuned score is never below the untuned one.
    /// </summary>
    /// <param name="task">The task.</param>
    /// <param name="images">Number of images.</param>
    /// <param name="logits">Images × channels × pixels.</param>
    /// <param name="labels">Images × pixels.</param>
    /// <param name="valid">Images × pixels.</param>
    public static DecisionRule Tune(
        CompareTask task,
        int images,
        ReadOnlySpan<float> logits,
        ReadOnlySpan<byte> labels,
        ReadOnlySpan<bool> valid
    ) => task.Kind == LossTask.Binary ? TuneThreshold(logits, labels, valid) : TuneOffsets(task.NumClasses, images, logits, labels, valid);

    private static DecisionRule TuneThreshold(ReadOnlySpan<float> logits, ReadOnlySpan<byte> labels, ReadOnlySpan<bool> valid)
    {
        if (logits.Length != labels.Length || valid.Length != labels.Length)
            throw new ArgumentException("binary logits, labels and mask must have one length");
        var grid = ThresholdGrid;
        var cuts = grid.Select(Logit).ToArray();
        // bucket b = how many cuts lie below the logit: the pixel is foreground at thresholds 0 … b − 1.
        var pos = new long[cuts.Length + 1];
        var neg = new long[cuts.Length + 1];
        for (var i = 0; i < labels.Length; i++)
        {
            if (!valid[i])
                continue;
            var b = Bucket(cuts, logits[i]);
            if (labels[i] != 0)
                pos[b]++;
            else
                neg[b]++;
        }
        // Foreground at threshold j: buckets above j.
        long tp = pos.Sum(),
            fp = neg.Sum(),
            totalPos = tp;
        var best = -1;
        var bestDice = double.NegativeInfinity;
        for (var j = 0; j < cuts.Length; j++)
        {
            tp -= pos[j];
            fp -= neg[j];
            var dice = Metrics.Score(tp, fp, totalPos - tp).Dice;
            if (dice > bestDice + 1e-12 || Math.Abs(dice - bestDice) <= 1e-12 && Math.Abs(grid[j] - 0.5) < Math.Abs(grid[best] - 0.5))
            {
                best = j;
                bestDice = dice;
            }
        }
        return new DecisionRule(grid[best], ImmutableArray<double>.Empty);
    }

    // Number of cuts strictly below x (cuts ascending).
    private static int Bucket(double[] cuts, double x)
    {
        int lo = 0,
            hi = cuts.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >> 1;
            if (cuts[mid] < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    private static DecisionRule TuneOffsets(
        int classes,
        int images,
        ReadOnlySpan<float> logits,
        ReadOnlySpan<byte> labels,
        ReadOnlySpan<bool> valid
    )
    {
        if (
            images <= 0
            || labels.Length == 0
            || labels.Length % images != 0
            || logits.Length != labels.Length * classes
            || valid.Length != labels.Length
        )
            throw new ArgumentException("multiclass logits must be images × classes × pixels for the given labels");
        // Valid pixels only, as pixel-major logits: fewer, contiguous reads in the inner loops.
        var n = 0;
        for (var i = 0; i < valid.Length; i++)
            if (valid[i])
                n++;
        var pixels = labels.Length / images;
        var l = new float[n * classes];
        var truth = new byte[n];
        var k = 0;
        for (var img = 0; img < images; img++)
        for (var p = 0; p < pixels; p++)
        {
            var i = img * pixels + p;
            if (!valid[i])
                continue;
            for (var c = 0; c < classes; c++)
                l[k * classes + c] = logits[(img * classes + c) * pixels + p];
            truth[k++] = labels[i];
        }
        var offsets = new double[classes];
        var grid = OffsetGrid;
        var g = grid.Length;
        // For one coordinate c, a pixel is predicted c exactly for the grid offsets from some index on
        // (the condition is monotone in the offset), and otherwise keeps the best other class. So every
        // grid value's counts come from one pass: counts with every pixel at its other class, plus, from
        // each pixel's switch index on, the change of switching to c (difference arrays, then prefix sums).
        var dtp = new long[classes, g + 1];
        var dfp = new long[classes, g + 1];
        var dfn = new long[classes, g + 1];
        var tp = new long[classes];
        var fp = new long[classes];
        var fn = new long[classes];
        for (var round = 0; round < OffsetRounds; round++)
        {
            var moved = false;
            for (var c = 1; c < classes; c++)
            {
                Array.Clear(dtp);
                Array.Clear(dfp);
                Array.Clear(dfn);
                for (var i = 0; i < n; i++)
                {
                    var bv = double.NegativeInfinity;
                    var o = 0;
                    for (var cc = 0; cc < classes; cc++)
                    {
                        if (cc == c)
                            continue;
                        var v = l[i * classes + cc] + offsets[cc];
                        if (v > bv)
                        {
                            bv = v;
                            o = cc;
                        }
                    }
                    var x = (double)l[i * classes + c];
                    // First grid index where c wins: x + v > bv, or equal with c the lower class (arg-max takes the first).
                    int lo = 0,
                        hi = g;
                    while (lo < hi)
                    {
                        var mid = (lo + hi) >> 1;
                        var mine = x + grid[mid];
                        if (mine > bv || mine == bv && c < o)
                            hi = mid;
                        else
                            lo = mid + 1;
                    }
                    var t = truth[i];
                    // Predicted o for indices below lo.
                    Count(dtp, dfp, dfn, 0, t, o, +1);
                    if (lo < g)
                    {
                        Count(dtp, dfp, dfn, lo, t, o, -1);
                        Count(dtp, dfp, dfn, lo, t, c, +1);
                    }
                }
                Array.Clear(tp);
                Array.Clear(fp);
                Array.Clear(fn);
                var current = Array.IndexOf(grid.ToArray(), offsets[c]);
                var scores = new double[g];
                for (var j = 0; j < g; j++)
                {
                    var sum = 0.0;
                    for (var cc = 0; cc < classes; cc++)
                    {
                        tp[cc] += dtp[cc, j];
                        fp[cc] += dfp[cc, j];
                        fn[cc] += dfn[cc, j];
                        if (cc > 0)
                            sum += Metrics.Score(tp[cc], fp[cc], fn[cc]).Dice;
                    }
                    scores[j] = sum / (classes - 1);
                }
                var best = current;
                for (var j = 0; j < g; j++)
                {
                    if (j == current || scores[j] <= scores[current] + 1e-12)
                        continue;
                    if (
                        best == current
                        || scores[j] > scores[best] + 1e-12
                        || Math.Abs(scores[j] - scores[best]) <= 1e-12 && Math.Abs(grid[j]) < Math.Abs(grid[best])
                    )
                        best = j;
                }
                if (best != current)
                {
                    offsets[c] = grid[best];
                    moved = true;
                }
            }
            if (!moved)
                break;
        }
        return new DecisionRule(0.5, offsets.ToImmutableArray());
    }

    // Adds (sign = +1) or removes (−1) one pixel of truth t predicted as p, from grid index j on.
    private static void Count(long[,] tp, long[,] fp, long[,] fn, int j, int t, int p, int sign)
    {
        if (t == p)
            tp[t, j] += sign;
        else
        {
            fp[p, j] += sign;
            fn[t, j] += sign;
        }
    }
}
