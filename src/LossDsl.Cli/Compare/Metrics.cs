using System;
using System.Collections.Immutable;
using System.Linq;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>Overlap scores of one class.</summary>
internal readonly record struct ClassScores(double Dice, double IoU, double Precision, double Recall)
{
    public double this[Metric metric] =>
        metric switch
        {
            Metric.Dice => Dice,
            Metric.IoU => IoU,
            Metric.Precision => Precision,
            Metric.Recall => Recall,
            _ => throw new ArgumentOutOfRangeException(nameof(metric)),
        };
}

/// <summary>The reported metrics, in report order.</summary>
internal enum Metric
{
    Dice,
    IoU,
    Precision,
    Recall,
}

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
        if (p.numel() == 0)
            return;
        var counts = (t * NumClasses + p).bincount(null, NumClasses * NumClasses).data<long>().ToArray();
        if (counts.Length != _counts.Length)
            throw new ArgumentException($"class index outside 0..{NumClasses - 1}");
        for (var i = 0; i < counts.Length; i++)
            _counts[i] += counts[i];
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
        if (tp + fp + fn == 0)
            return new ClassScores(1, 1, 1, 1);
        static double Ratio(double a, double b) => b == 0 ? 0 : a / b;
        return new ClassScores(
            Dice: Ratio(2.0 * tp, 2.0 * tp + fp + fn),
            IoU: Ratio(tp, tp + fp + fn),
            Precision: Ratio(tp, tp + fp),
            Recall: Ratio(tp, tp + fn)
        );
    }

    /// <summary>
    /// Predicted class indices (int64, N, H, W) from logits N, C, H, W: foreground where the single
    /// binary logit is above 0 (probability above ½), else the arg-max class.
    /// </summary>
    public static Tensor Predict(Tensor logits, LossTask task) =>
        task == LossTask.Binary ? logits.select(1, 0).gt(0).to(ScalarType.Int64) : logits.argmax(1);

    /// <summary>The headline score: foreground Dice (binary) or mean Dice over non-background classes.</summary>
    public static double Headline(CompareTask task, Confusion confusion) => task.ForegroundClasses.Average(c => confusion.Scores(c).Dice);

    /// <summary>A metric averaged over the non-background classes (the foreground class itself for binary).</summary>
    public static double ForegroundMean(CompareTask task, ImmutableArray<ClassScores> scores, Metric metric) =>
        task.ForegroundClasses.Average(c => scores[c][metric]);
}

/// <summary>
/// Confusion counts per image and class of one run on one split: true positives, false positives
/// and false negatives of class c in image i at <c>[i * Classes + c]</c>. Pooling them over any
/// multiset of images gives that multiset's split-level scores, which is what the paired bootstrap
/// resamples.
/// </summary>
internal sealed class ImageCounts
{
    private readonly long[] _tp;
    private readonly long[] _fp;
    private readonly long[] _fn;

    public ImageCounts(int images, int classes)
    {
        if (images < 0 || classes < 1)
            throw new ArgumentOutOfRangeException(nameof(images));
        Images = images;
        Classes = classes;
        _tp = new long[images * classes];
        _fp = new long[images * classes];
        _fn = new long[images * classes];
    }

    public int Images { get; }
    public int Classes { get; }

    public long Tp(int image, int c) => _tp[image * Classes + c];

    public long Fp(int image, int c) => _fp[image * Classes + c];

    public long Fn(int image, int c) => _fn[image * Classes + c];

    /// <summary>Adds counts of class <paramref name="c"/> in image <paramref name="image"/>.</summary>
    public void Add(int image, int c, long tp, long fp, long fn)
    {
        var k = image * Classes + c;
        _tp[k] += tp;
        _fp[k] += fp;
        _fn[k] += fn;
    }

    /// <summary>
    /// Counts of predicted class indices against true ones, over valid pixels: <paramref name="predicted"/>,
    /// <paramref name="labels"/> and <paramref name="valid"/> are images × pixels, image-major.
    /// </summary>
    public static ImageCounts FromPredictions(
        ReadOnlySpan<byte> predicted,
        ReadOnlySpan<byte> labels,
        ReadOnlySpan<bool> valid,
        int images,
        int classes
    )
    {
        if (
            predicted.Length != labels.Length
            || valid.Length != labels.Length
            || images == 0 && labels.Length != 0
            || images > 0 && labels.Length % images != 0
        )
            throw new ArgumentException("predictions, labels and mask must have one length, a whole number of images");
        var counts = new ImageCounts(images, classes);
        if (images == 0)
            return counts;
        var pixels = labels.Length / images;
        for (var i = 0; i < images; i++)
        for (var p = i * pixels; p < (i + 1) * pixels; p++)
        {
            if (!valid[p])
                continue;
            int t = labels[p],
                g = predicted[p];
            if (t >= classes || g >= classes)
                throw new ArgumentException($"class index outside 0..{classes - 1}");
            if (t == g)
                counts._tp[i * classes + t]++;
            else
            {
                counts._fn[i * classes + t]++;
                counts._fp[i * classes + g]++;
            }
        }
        return counts;
    }

    /// <summary>Scores of class <paramref name="c"/> pooled over images, each counted <paramref name="weights"/>[i] times (every image once without weights).</summary>
    public ClassScores Pooled(int c, ReadOnlySpan<int> weights = default)
    {
        long tp = 0,
            fp = 0,
            fn = 0;
        for (var i = 0; i < Images; i++)
        {
            long w = weights.IsEmpty ? 1 : weights[i];
            if (w == 0)
                continue;
            var k = i * Classes + c;
            tp += w * _tp[k];
            fp += w * _fp[k];
            fn += w * _fn[k];
        }
        return Metrics.Score(tp, fp, fn);
    }

    /// <summary>Pooled scores of every class, in class order.</summary>
    public ImmutableArray<ClassScores> AllScores() => Enumerable.Range(0, Classes).Select(c => Pooled(c)).ToImmutableArray();

    /// <summary>The headline score (mean pooled Dice over <paramref name="classes"/>), images weighted by <paramref name="weights"/>.</summary>
    public double Headline(ImmutableArray<int> classes, ReadOnlySpan<int> weights = default)
    {
        var sum = 0.0;
        foreach (var c in classes)
            sum += Pooled(c, weights).Dice;
        return sum / classes.Length;
    }
}
