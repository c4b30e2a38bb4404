using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace LossDsl.Cli.Compare;

/// <summary>Writes report.md and the plots.</summary>
internal static class ReportWriter
{
    /// <summary>Writes the report of <paramref name="results"/>; returns every file written (names within the out dir).</summary>
    public static ImmutableArray<string> Write(CompareOptions options, IReadOnlyList<TaskResult> results, double totalSeconds)
    {
        var files = ImmutableArray.CreateBuilder<string>();
        var md = new StringBuilder();
        md.AppendLine("# lossdsl compare: which loss wins on sparse, imbalanced data");
        md.AppendLine();
        md.AppendLine(Invariant($"Trained a small U-Net once per loss and seed on the same data, split and batches, and scored it on held-out images. Total time {totalSeconds:F0} s ({Environment.ProcessorCount} cores visible, libtorch limited to {CompareRunner.Threads} threads)."));
        md.AppendLine();
        md.AppendLine("Scores are computed over valid pixels only, pooled over all held-out images (not averaged per image). Each cell is the mean over seeds ± the sample standard deviation (the spread). A win is called *beyond the spread* when the margin between first and second is larger than their two standard deviations added together.");
        md.AppendLine();
        foreach (var result in results)
        {
            var plots = Plots.Write(options.OutDir, result);
            files.AddRange(plots);
            Task(md, result, plots);
        }
        Configuration(md, options, results);
        var path = Path.Combine(options.OutDir, "report.md");
        File.WriteAllText(path, md.ToString());
        files.Add("report.md");
        return files.ToImmutable();
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Pct(double v) => (100 * v).ToString("F2", CultureInfo.InvariantCulture) + " %";

    private static void Task(StringBuilder md, TaskResult result, ImmutableArray<string> plots)
    {
        var task = result.Task;
        var data = result.Data;
        md.AppendLine(task.Kind == LossTask.Binary ? "## Binary task" : "## Multiclass task");
        md.AppendLine();
        md.AppendLine($"Data: {data.Source}; channels {string.Join(", ", data.ChannelNames)}; {data.Train.Count} training and {data.HeldOut.Count} held-out images.");
        md.AppendLine(Invariant($"Training split: {Pct(result.TrainStats.InvalidFraction)} of pixels invalid; of the valid pixels, ") +
                      string.Join(", ", task.ClassNames.Select((n, c) => $"{n} {Pct(result.TrainStats.ClassFractions[c])}")) + ".");
        md.AppendLine(Invariant($"Held-out split: {Pct(result.HeldOutStats.InvalidFraction)} invalid; ") +
                      string.Join(", ", task.ClassNames.Select((n, c) => $"{n} {Pct(result.HeldOutStats.ClassFractions[c])}")) + ".");
        md.AppendLine();
        var verdict = result.Verdict;
        md.AppendLine($"**Result.** {verdict.Sentence(result.ScoreName)}");
        md.AppendLine();
        var scope = task.Kind == LossTask.Binary ? "foreground class" : "mean over the non-background classes";
        md.AppendLine($"| Loss | Dice | IoU | Precision | Recall | s/epoch | Loss module |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---|");
        foreach (var loss in result.Losses.OrderByDescending(l => l.Headline.Mean))
        {
            var name = loss == verdict.Winner ? $"**{loss.Name}**" : loss.Name;
            md.AppendLine($"| {name} | {loss.Metric(Metric.Dice).Format()} | {loss.Metric(Metric.IoU).Format()} | {loss.Metric(Metric.Precision).Format()} | {loss.Metric(Metric.Recall).Format()} | {loss.SecondsPerEpoch.Format("F2")} | `{loss.Description}` |");
        }
        md.AppendLine();
        md.AppendLine($"Scores of the {scope}, sorted by Dice; s/epoch is training time per epoch (without evaluation).");
        md.AppendLine();
        if (task.Kind == LossTask.Multiclass)
        {
            md.AppendLine("Dice per class:");
            md.AppendLine();
            md.AppendLine("| Loss | " + string.Join(" | ", task.ClassNames) + " |");
            md.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", task.NumClasses)));
            foreach (var loss in result.Losses)
                md.AppendLine($"| {loss.Name} | " + string.Join(" | ", Enumerable.Range(0, task.NumClasses).Select(c => loss.ClassMetric(c, Metric.Dice).Format())) + " |");
            md.AppendLine();
        }
        md.AppendLine("Per seed (" + result.ScoreName + "):");
        md.AppendLine();
        foreach (var loss in result.Losses)
            md.AppendLine($"- {loss.Name}: " + string.Join(", ", loss.Runs.Select(r => Invariant($"seed {r.Seed} {Metrics.ForegroundMean(task, r.Scores, Metric.Dice):F3}"))));
        md.AppendLine();
        foreach (var plot in plots)
        {
            md.AppendLine($"![{plot}]({plot})");
            md.AppendLine();
        }
    }

    private static void Configuration(StringBuilder md, CompareOptions options, IReadOnlyList<TaskResult> results)
    {
        md.AppendLine("## Configuration");
        md.AppendLine();
        md.AppendLine("| Setting | Value |");
        md.AppendLine("|---|---|");
        md.AppendLine($"| command | `{options.CommandLine}` |");
        md.AppendLine($"| task | {options.Task.ToString().ToLowerInvariant()} |");
        md.AppendLine($"| data | {(options.DataDir is null ? "built-in synthetic" : options.DataDir)} |");
        md.AppendLine($"| data seed | {options.Seed} |");
        md.AppendLine($"| training seeds | {string.Join(", ", options.TrainingSeeds)} |");
        md.AppendLine($"| epochs | {options.Epochs} |");
        foreach (var r in results)
        {
            var p = r.Plan;
            md.AppendLine(Invariant($"| {r.Task.Name} model | U-Net, {p.Levels} levels, {p.BaseChannels}–{p.BaseChannels << (p.Levels - 1)} channels, BatchNorm, ReLU, max-pool down, nearest upsampling + 1×1 conv up |"));
            md.AppendLine(Invariant($"| {r.Task.Name} training | Adam, learning rate {p.LearningRate}, batch {p.BatchSize}, {(p.CropWidth > 0 ? $"random {r.Data.Train.Height}×{p.CropWidth} crops, " : "")}random horizontal flips; {r.Losses.Length} losses in {r.WallSeconds:F0} s |"));
            md.AppendLine($"| {r.Task.Name} losses | {string.Join(", ", r.Losses.Select(l => l.Name))} |");
        }
        md.AppendLine($"| threads | {CompareRunner.Threads} (libtorch, CPU) |");
        md.AppendLine($"| runtime | .NET {Environment.Version}, TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription} |");
        md.AppendLine();
        md.AppendLine("To reproduce this report (same numbers on CPU for the same seed, threads and library versions):");
        md.AppendLine();
        md.AppendLine("```bash");
        md.AppendLine(options.CommandLine);
        md.AppendLine("```");
    }
}
