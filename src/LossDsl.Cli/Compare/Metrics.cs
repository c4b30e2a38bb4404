using System;
using System.Collections.Immutable;
using System.Linq;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>Overlap scores of one class.</summary>
internal readonly record struct ClassScores(double Dice, double IoU, double Precision, double Recall)
{
    public double this[Metric metric] => metric switch
    {
        Metric.Dice => Dice,
        Metric.IoU => IoU,
        Metric.Precision => Precision,
        Metric.Recall => Recall,
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };
}

/// <summary>The reported metrics, in report order.</summary>
internal enum Metric { Dice, IoU, Precision, Recall }

/// <summary>
/// A confusion matrix over valid pixels: <c>Counts[truth * C + predicted]</c>. Counts accumulate
/// over a whole split (not averaged per image), so images without foreground do not produce 0/0.
/// </summary>
internal sealed class Confusion
{
    private readonly long[] _counts;

    public Confusion(int numClasses)
    {
        NumClasses = numClasses;
        _counts = new long[numClasses * numClasses];
    }

    public int NumClasses { get; }

    public long this[int truth, int predicted] => _counts[truth * NumClasses + predicted];

    public long TruePositives(int c) => this[c, c];
    public long FalsePositives(int c) => Enumerable.Range(0, NumClasses).Where(t => t != c).Sum(t => this[t, c]);
    public long FalseNegatives(int c) => Enumerable.Range(0, NumClasses).Where(p => p != c).Sum(p => this[c, p]);

    /// <summary>
    /// Adds predicted class indices against true ones (any equal shapes), counting only pixels
    /// where <paramref name="valid"/> is true.
    /// </summary>
    public void Add(Tensor predicted, Tensor truth, Tensor valid)
    {
        using var scope = NewDisposeScope();
        var p = predicted.to(ScalarType.Int64).masked_select(valid);
        var t = truth.to(ScalarType.Int64).masked_select(valid);
        if (p.numel() == 0) return;
        var counts = (t * NumClasses + p).bincount(null, NumClasses * NumClasses).data<long>().ToArray();
        if (counts.Length != _counts.Length) throw new ArgumentException($"class index outside 0..{NumClasses - 1}");
        for (var i = 0; i < counts.Length; i++) _counts[i] += counts[i];
    }

    /// <summary>Scores of class <paramref name="c"/>.</summary>
    public ClassScores Scores(int c) => Metrics.Score(TruePositives(c), FalsePositives(c), FalseNegatives(c));

    /// <summary>Scores of every class, in class order.</summary>
    public ImmutableArray<ClassScores> AllScores() => Enumerable.Range(0, NumClasses).Select(Scores).ToImmutableArray();
}

/// <summary>Dice, IoU, precision and recall from counts, and predictions from logits.</summary>
internal static class Metrics
{
    /// <summary>
    /// Scores from true positives, false positives and false negatives. When there is nothing to
    /// find and nothing was found (all three 0) every score is 1; any other 0/0 (e.g. precision
    /// when nothing was predicted but something was there) is 0.
    /// </summary>
    public static ClassScores Score(long tp, long fp, long fn)
    {
        if (tp + fp + fn == 0) return new ClassScores(1, 1, 1, 1);
        static double Ratio(double a, double b) => b == 0 ? 0 : a / b;
        return new ClassScores(
            Dice: Ratio(2.0 * tp, 2.0 * tp + fp + fn),
            IoU: Ratio(tp, tp + fp + fn),
            Precision: Ratio(tp, tp + fp),
            Recall: Ratio(tp, tp + fn));
    }

    /// <summary>
    /// Predicted class indices (int64, N, H, W) from logits N, C, H, W: foreground where the single
    /// binary logit is above 0 (probability above ½), else the arg-max class.
    /// </summary>
    public static Tensor Predict(Tensor logits, LossTask task) =>
        task == LossTask.Binary ? logits.select(1, 0).gt(0).to(ScalarType.Int64) : logits.argmax(1);

    /// <summary>The headline score: foreground Dice (binary) or mean Dice over non-background classes.</summary>
    public static double Headline(CompareTask task, Confusion confusion) =>
        task.ForegroundClasses.Average(c => confusion.Scores(c).Dice);

    /// <summary>A metric averaged over the non-background classes (the foreground class itself for binary).</summary>
    public static double ForegroundMean(CompareTask task, ImmutableArray<ClassScores> scores, Metric metric) =>
        task.ForegroundClasses.Average(c => scores[c][metric]);
}
