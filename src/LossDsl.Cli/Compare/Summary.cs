using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;

namespace LossDsl.Cli.Compare;

/// <summary>A mean over seeds and its spread (sample standard deviation; 0 for one seed).</summary>
internal readonly record struct Stat(double Mean, double Spread, int Count)
{
    /// <summary>Mean and sample standard deviation of <paramref name="values"/>.</summary>
    public static Stat Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0)
            return new Stat(double.NaN, double.NaN, 0);
        var mean = values.Average();
        var spread = values.Count < 2 ? 0.0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return new Stat(mean, spread, values.Count);
    }

    /// <summary>"0.512 ± 0.034" (or "0.512" for one seed).</summary>
    public string Format(string format = "F3") =>
        Count < 2
            ? Mean.ToString(format, CultureInfo.InvariantCulture)
            : $"{Mean.ToString(format, CultureInfo.InvariantCulture)} ± {Spread.ToString(format, CultureInfo.InvariantCulture)}";
}

/// <summary>One loss's results over every seed.</summary>
internal sealed record LossSummary(string Name, string Description, string CSharp, ImmutableArray<RunResult> Runs, CompareTask Task)
{
    /// <summary>A test metric averaged over the foreground classes, per seed, then over seeds; <paramref name="tuned"/>: with the validation-tuned rule.</summary>
    public Stat Metric(Metric metric, bool tuned = false) =>
        Stat.Of(Runs.Select(r => Metrics.ForegroundMean(Task, tuned ? r.TunedScores : r.Scores, metric)).ToArray());

    /// <summary>A test metric of one class over seeds.</summary>
    public Stat ClassMetric(int c, Metric metric, bool tuned = false) =>
        Stat.Of(Runs.Select(r => (tuned ? r.TunedScores : r.Scores)[c][metric]).ToArray());

    /// <summary>The headline test score (untuned rule): foreground Dice (binary) or the mean Dice of the non-background classes.</summary>
    public Stat Headline => Metric(Compare.Metric.Dice);

    /// <summary>The headline test score with the validation-tuned rule.</summary>
    public Stat TunedHeadline => Metric(Compare.Metric.Dice, tuned: true);

    /// <summary>Training seconds per epoch over seeds.</summary>
    public Stat SecondsPerEpoch => Stat.Of(Runs.Select(r => r.SecondsPerEpoch).ToArray());

    /// <summary>The epoch whose weights were kept, over seeds.</summary>
    public Stat BestEpoch => Stat.Of(Runs.Select(r => (double)r.BestEpoch).ToArray());

    /// <summary>Epochs trained, over seeds.</summary>
    public Stat EpochsRun => Stat.Of(Runs.Select(r => (double)r.EpochsRun).ToArray());

    /// <summary>
    /// Runs that reached the cap still improving: their best tuned validation score over the last
    /// quarter of the cap (at least 2 epochs) beats the best before by more than <see cref="ImprovingMargin"/>.
    /// The learning rate is annealed to the cap, so those last epochs run at under 15 % of the peak rate;
    /// a real gain there means the budget, not the loss, ended the run.
    /// </summary>
    public int StillImprovingAtCap(TrainingPlan plan) => Runs.Count(r => StillImproving(r, plan));

    /// <summary>Validation gain over the last patience epochs that counts as still improving.</summary>
    public const double ImprovingMargin = 0.01;

    /// <summary>Whether <paramref name="r"/> reached the cap still improving (see <see cref="StillImprovingAtCap"/>).</summary>
    public static bool StillImproving(RunResult r, TrainingPlan plan)
    {
        if (r.EpochsRun < plan.MaxEpochs)
            return false;
        var split = Math.Max(0, r.EpochsRun - Math.Max(2, (plan.MaxEpochs + 3) / 4));
        var before = split == 0 ? 0.0 : r.EpochValidationTuned.Take(split).Max();
        return r.EpochValidationTuned.Skip(split).Max() > before + ImprovingMargin;
    }

    /// <summary>Median over seeds of the tuned binary threshold (NaN for multiclass).</summary>
    public double MedianThreshold => Task.Kind == LossTask.Binary ? Median(Runs.Select(r => r.Rule.Threshold)) : double.NaN;

    /// <summary>Median over seeds of each class's tuned offset (empty for binary).</summary>
    public ImmutableArray<double> MedianOffsets =>
        Task.Kind == LossTask.Binary
            ? ImmutableArray<double>.Empty
            : Enumerable.Range(0, Task.NumClasses).Select(c => Median(Runs.Select(r => r.Rule.Offsets[c]))).ToImmutableArray();

    /// <summary>The tuned rule in words, medians over seeds.</summary>
    public string TunedRule => new DecisionRule(Task.Kind == LossTask.Binary ? MedianThreshold : 0.5, MedianOffsets).Describe(Task);

    /// <summary>Per epoch: the mean over seeds of a per-epoch series, over the runs that reached that epoch.</summary>
    public double[] MeanPerEpoch(Func<RunResult, ImmutableArray<double>> series)
    {
        var longest = Runs.Max(r => series(r).Length);
        return Enumerable.Range(0, longest).Select(e => Runs.Where(r => series(r).Length > e).Average(r => series(r)[e])).ToArray();
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length == 0 ? double.NaN
            : v.Length % 2 == 1 ? v[v.Length / 2]
            : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>Test counts per seed (untuned or tuned), for the paired analysis.</summary>
    public IReadOnlyList<ImageCounts> Counts(bool tuned) => Runs.Select(r => tuned ? r.TestTuned : r.Test).ToArray();
}

/// <summary>A group of losses compared with each other: the main comparison, or a sweep.</summary>
/// <param name="Losses">The losses, in input order.</param>
/// <param name="Tuned">The paired analysis of the scores with the validation-tuned rule (the one the ranking uses).</param>
/// <param name="Untuned">The paired analysis at threshold 0.5 / arg-max.</param>
internal sealed record Comparison(ImmutableArray<LossSummary> Losses, PairedAnalysis Tuned, PairedAnalysis Untuned)
{
    /// <summary>Analyses <paramref name="losses"/> with the paired bootstrap (both rules).</summary>
    public static Comparison Of(ImmutableArray<LossSummary> losses)
    {
        if (losses.IsDefaultOrEmpty)
            throw new ArgumentException("no losses to compare", nameof(losses));
        var classes = losses[0].Task.ForegroundClasses;
        return new Comparison(
            losses,
            PairedBootstrap.Analyse(losses.Select(l => l.Counts(tuned: true)).ToArray(), classes),
            PairedBootstrap.Analyse(losses.Select(l => l.Counts(tuned: false)).ToArray(), classes)
        );
    }

    /// <summary>The best loss (tuned rule).</summary>
    public LossSummary Best => Losses[Tuned.Best];

    /// <summary>Losses in ranking order (tuned rule).</summary>
    public IEnumerable<LossSummary> Ranked => Tuned.Ranking.Select(i => Losses[i]);

    /// <summary>The entry of <paramref name="loss"/> in the tuned analysis.</summary>
    public PairedDifference Of(LossSummary loss, bool tuned = true) => (tuned ? Tuned : Untuned).Differences[Losses.IndexOf(loss)];
}

/// <summary>What a sweep produced.</summary>
internal sealed record SweepResult(string Family, SweepPlan Plan, Comparison Comparison);

/// <summary>Everything one task of a comparison produced.</summary>
internal sealed record TaskResult(
    CompareData Data,
    TrainingPlan Plan,
    string CapSource,
    double CalibrationSecondsPerEpoch,
    TrainingStats TrainStats,
    TrainingStats ValidationStats,
    TrainingStats TestStats,
    Comparison Main,
    SweepResult? Sweep,
    ImmutableArray<int> PreviewIndices,
    double WallSeconds
)
{
    /// <summary>The task.</summary>
    public CompareTask Task => Data.Task;

    /// <summary>The losses of the main comparison.</summary>
    public ImmutableArray<LossSummary> Losses => Main.Losses;

    /// <summary>What the headline score is called.</summary>
    public string ScoreName => Task.Kind == LossTask.Binary ? "foreground Dice" : "mean Dice over the non-background classes";

    /// <summary>The line that ends the task's part of the report and the console.</summary>
    public string Recommendation => Compare.Recommendation.Line(this);
}
