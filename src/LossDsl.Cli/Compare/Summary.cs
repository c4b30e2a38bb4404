using System;
using System.Collections.Immutable;
using System.Linq;

namespace LossDsl.Cli.Compare;

/// <summary>A mean over seeds and its spread (sample standard deviation; 0 for one seed).</summary>
internal readonly record struct Stat(double Mean, double Spread, int Count)
{
    /// <summary>Mean and sample standard deviation of <paramref name="values"/>.</summary>
    public static Stat Of(System.Collections.Generic.IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) return new Stat(double.NaN, double.NaN, 0);
        var mean = values.Average();
        var spread = values.Count < 2 ? 0.0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return new Stat(mean, spread, values.Count);
    }

    /// <summary>"0.512 ± 0.034" (or "0.512" for one seed).</summary>
    public string Format(string format = "F3") =>
        Count < 2 ? Mean.ToString(format, System.Globalization.CultureInfo.InvariantCulture)
                  : $"{Mean.ToString(format, System.Globalization.CultureInfo.InvariantCulture)} ± {Spread.ToString(format, System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>One loss's results over every seed.</summary>
internal sealed record LossSummary(string Name, string Description, ImmutableArray<RunResult> Runs, CompareTask Task)
{
    /// <summary>A metric averaged over the foreground classes, per seed, then over seeds.</summary>
    public Stat Metric(Metric metric) => Stat.Of(Runs.Select(r => Metrics.ForegroundMean(Task, r.Scores, metric)).ToArray());

    /// <summary>A metric of one class over seeds.</summary>
    public Stat ClassMetric(int c, Metric metric) => Stat.Of(Runs.Select(r => r.Scores[c][metric]).ToArray());

    /// <summary>The headline score: foreground Dice (binary) or the mean Dice of the non-background classes.</summary>
    public Stat Headline => Metric(Compare.Metric.Dice);

    /// <summary>Training seconds per epoch over seeds.</summary>
    public Stat SecondsPerEpoch => Stat.Of(Runs.Select(r => r.SecondsPerEpoch).ToArray());

    /// <summary>Mean over seeds of the training loss after each epoch.</summary>
    public double[] MeanEpochLoss() => Enumerable.Range(0, Runs[0].EpochLoss.Length).Select(e => Runs.Average(r => r.EpochLoss[e])).ToArray();

    /// <summary>Mean over seeds of the held-out headline Dice after each epoch.</summary>
    public double[] MeanEpochScore() => Enumerable.Range(0, Runs[0].EpochHeldOutScore.Length).Select(e => Runs.Average(r => r.EpochHeldOutScore[e])).ToArray();
}

/// <summary>The verdict of a comparison: who won, by how much, and whether that is beyond the spread.</summary>
/// <param name="Winner">The loss with the highest mean headline score.</param>
/// <param name="RunnerUp">The second best, or null when only one loss ran.</param>
/// <param name="Margin">Winner's mean minus runner-up's mean.</param>
/// <param name="BeyondSpread">
/// Whether the margin exceeds the sum of the two standard deviations (so the seeds' ranges, mean ±
/// one standard deviation, do not overlap); false with one seed, where there is no spread to compare.
/// </param>
internal sealed record Verdict(LossSummary Winner, LossSummary? RunnerUp, double Margin, bool BeyondSpread)
{
    /// <summary>Ranks <paramref name="losses"/> by mean headline score (ties: registry order).</summary>
    public static Verdict Of(ImmutableArray<LossSummary> losses)
    {
        if (losses.IsDefaultOrEmpty) throw new ArgumentException("no losses to compare", nameof(losses));
        var ranked = losses.Select((l, i) => (l, i)).OrderByDescending(x => x.l.Headline.Mean).ThenBy(x => x.i).Select(x => x.l).ToArray();
        var winner = ranked[0];
        if (ranked.Length == 1) return new Verdict(winner, null, 0, false);
        var second = ranked[1];
        var margin = winner.Headline.Mean - second.Headline.Mean;
        var beyond = winner.Headline.Count > 1 && margin > winner.Headline.Spread + second.Headline.Spread;
        return new Verdict(winner, second, margin, beyond);
    }

    /// <summary>The verdict in one or two plain sentences.</summary>
    public string Sentence(string scoreName)
    {
        var w = Winner.Headline;
        if (RunnerUp is null) return $"Only {Winner.Name} ran: {scoreName} {w.Format()}.";
        var r = RunnerUp.Headline;
        var head = $"{Winner.Name} won: {scoreName} {w.Format()} against {r.Format()} for {RunnerUp.Name}, the runner-up, a margin of {Margin:F3}";
        if (w.Count < 2) return head + ". With one seed there is no spread, so this cannot be told apart from noise; use --seeds 3 or more.";
        return BeyondSpread
            ? head + $", larger than the two standard deviations together ({w.Spread:F3} + {r.Spread:F3}): beyond the spread."
            : head + $", not larger than the two standard deviations together ({w.Spread:F3} + {r.Spread:F3}): within the spread, not a clear win.";
    }
}

/// <summary>Everything one task of a comparison produced.</summary>
internal sealed record TaskResult(
    CompareData Data,
    TrainingPlan Plan,
    TrainingStats TrainStats,
    TrainingStats HeldOutStats,
    ImmutableArray<LossSummary> Losses,
    ImmutableArray<int> PreviewIndices,
    double WallSeconds)
{
    /// <summary>The task.</summary>
    public CompareTask Task => Data.Task;

    /// <summary>The verdict over <see cref="Losses"/>.</summary>
    public Verdict Verdict => Verdict.Of(Losses);

    /// <summary>What the headline score is called.</summary>
    public string ScoreName => Task.Kind == LossTask.Binary ? "foreground Dice" : "mean Dice over the non-background classes";
}
