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
        md.AppendLine(
            Invariant(
                $"Trained a small U-Net once per loss and seed on the same data, split and batches; every run stopped when its validation score had not improved for a while (or at the task's epoch cap, derived from the budget and the same for every loss) and was scored on the test split with the weights of its best validation epoch. Total time {totalSeconds:F0} s since the process started, budget {options.Budget:F0} s ({Environment.ProcessorCount} cores visible; libtorch ran on {CompareRunner.Threads} thread{(CompareRunner.Threads == 1 ? "" : "s")}, device {options.Device})."
            )
        );
        md.AppendLine();
        md.AppendLine(
            "Scores are computed over valid pixels only, pooled over all test images (not averaged per image). *Tuned* scores use a decision rule tuned on the validation split (binary: the probability threshold; multiclass: per-class logit offsets) and applied unchanged to the test split; *@0.5* / *arg-max* scores use the network's plain output. The ranking uses the tuned scores, so a loss is not judged by a threshold it was never meant to use."
        );
        md.AppendLine();
        md.AppendLine(
            Invariant(
                $"Losses are compared **paired**: for one seed every loss starts from the same network, sees the same batches and is scored on the same test images, so the comparison is made seed by seed. Δ is a loss's score minus the best loss's, averaged over seeds; its 95 % interval is a two-level paired bootstrap ({PairedBootstrap.DefaultResamples} resamples of the seeds and of the test images, the same resample for both losses, Dice recomputed from the resampled images' pooled counts; fixed random seed). A loss whose interval includes 0 is *tied with the best*."
            )
        );
        md.AppendLine();
        foreach (var result in results)
        {
            var plots = Plots.Write(options.OutDir, result);
            files.AddRange(plots);
            Task(md, result, plots);
        }
        Configuration(md, options, results);
        md.AppendLine("## Recommendation");
        md.AppendLine();
        foreach (var result in results)
        {
            md.AppendLine(result.Recommendation);
            md.AppendLine();
        }
        var path = Path.Combine(options.OutDir, "report.md");
        File.WriteAllText(path, md.ToString().TrimEnd() + Environment.NewLine);
        files.Add("report.md");
        return files.ToImmutable();
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Pct(double v) => (100 * v).ToString("F2", CultureInfo.InvariantCulture) + " %";

    private static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);

    private static string Fractions(CompareTask task, TrainingStats s) =>
        Invariant($"{Pct(s.InvalidFraction)} of pixels invalid; of the valid pixels, ")
        + string.Join(", ", task.ClassNames.Select((n, c) => $"{n} {Pct(s.ClassFractions[c])}"));

    private static void Task(StringBuilder md, TaskResult result, ImmutableArray<string> plots)
    {
        var task = result.Task;
        var data = result.Data;
        var plan = result.Plan;
        md.AppendLine(task.Kind == LossTask.Binary ? "## Binary task" : "## Multiclass task");
        md.AppendLine();
        md.AppendLine(
            $"Data: {data.Source}; channels {string.Join(", ", data.ChannelNames)}; {data.Train.Count} training, {data.Validation.Count} validation (carved from the training images) and {data.Test.Count} test images."
        );
        md.AppendLine();
        md.AppendLine($"- training split: {Fractions(task, result.TrainStats)};");
        md.AppendLine($"- validation split: {Fractions(task, result.ValidationStats)};");
        md.AppendLine($"- test split: {Fractions(task, result.TestStats)}.");
        md.AppendLine();
        var runs = result.Losses.SelectMany(l => l.Runs).ToArray();
        var capped = result.Losses.Sum(l => l.StillImprovingAtCap(plan));
        md.AppendLine(
            Invariant(
                $"Training: at most {plan.MaxEpochs} epochs ({result.CapSource}), early stopping with patience {plan.Patience}; the runs trained {runs.Average(r => r.EpochsRun):F1} epochs on average (best epoch {runs.Average(r => r.BestEpoch):F1}), {runs.Count(r => r.EpochsRun < plan.MaxEpochs)} of {runs.Length} stopped early. "
            )
                + (
                    capped == 0
                        ? "No run was still improving at the cap."
                        : $"**{capped} of {runs.Length} runs were still improving at the cap**: a larger budget may change the ranking."
                )
        );
        md.AppendLine();
        md.AppendLine($"**Result.** {result.Recommendation}");
        md.AppendLine();
        Scores(md, result.Main, task, withModules: true);
        Paired(md, result.Main, task, tuned: true, "### Paired comparison (tuned rule, used for the ranking)");
        Paired(
            md,
            result.Main,
            task,
            tuned: false,
            task.Kind == LossTask.Binary ? "### Paired comparison at threshold 0.5" : "### Paired comparison with plain arg-max"
        );
        if (task.Kind == LossTask.Multiclass)
        {
            md.AppendLine("### Dice per class (tuned rule; arg-max in parentheses)");
            md.AppendLine();
            md.AppendLine("| Loss | " + string.Join(" | ", task.ClassNames) + " |");
            md.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", task.NumClasses)));
            foreach (var loss in result.Main.Ranked)
                md.AppendLine(
                    $"| {loss.Name} | "
                        + string.Join(
                            " | ",
                            Enumerable
                                .Range(0, task.NumClasses)
                                .Select(c =>
                                    $"{loss.ClassMetric(c, Metric.Dice, true).Format()} ({F(loss.ClassMetric(c, Metric.Dice).Mean)})"
                                )
                        )
                        + " |"
                );
            md.AppendLine();
        }
        md.AppendLine("### Per seed");
        md.AppendLine();
        md.AppendLine($"Test {result.ScoreName}, tuned (at 0.5 / arg-max), and the epoch whose weights were kept:");
        md.AppendLine();
        foreach (var loss in result.Main.Ranked)
            md.AppendLine(
                $"- {loss.Name}: "
                    + string.Join(
                        ", ",
                        loss.Runs.Select(r =>
                            Invariant(
                                $"seed {r.Seed} {r.TestTuned.Headline(task.ForegroundClasses):F3} ({r.Test.Headline(task.ForegroundClasses):F3}, epoch {r.BestEpoch}/{r.EpochsRun})"
                            )
                        )
                    )
            );
        md.AppendLine();
        foreach (var plot in plots.Where(p => !p.Contains("-sweep", StringComparison.Ordinal)))
        {
            md.AppendLine($"![{plot}]({plot})");
            md.AppendLine();
        }
        if (result.Sweep is { } sweep)
        {
            md.AppendLine(task.Kind == LossTask.Binary ? "## Binary sweep" : "## Multiclass sweep");
            md.AppendLine();
            md.AppendLine(
                $"Around {sweep.Family}, the best loss of the comparison: {sweep.Plan.Option}. Same data, seeds, cap and patience as above; settings the comparison already trained are reused, not retrained."
            );
            md.AppendLine();
            Scores(md, sweep.Comparison, task, withModules: true);
            Paired(md, sweep.Comparison, task, tuned: true, "### Sweep: paired comparison (tuned rule)");
            foreach (var plot in plots.Where(p => p.Contains("-sweep", StringComparison.Ordinal)))
            {
                md.AppendLine($"![{plot}]({plot})");
                md.AppendLine();
            }
        }
    }

    private static void Scores(StringBuilder md, Comparison comparison, CompareTask task, bool withModules)
    {
        var untuned = task.Kind == LossTask.Binary ? "@0.5" : "arg-max";
        md.AppendLine(
            task.Kind == LossTask.Binary ? "### Test scores (foreground)" : "### Test scores (mean over the non-background classes)"
        );
        md.AppendLine();
        md.AppendLine(
            $"| Loss | Dice tuned | IoU tuned | Precision tuned | Recall tuned | Dice {untuned} | IoU {untuned} | Precision {untuned} | Recall {untuned} | tuned rule (median over seeds) | epochs best/trained | s/epoch |{(withModules ? " C# |" : "")}"
        );
        md.AppendLine($"|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|{(withModules ? "---|" : "")}");
        foreach (var loss in comparison.Ranked)
        {
            var name = comparison.Of(loss).Status == PairStatus.Best ? $"**{loss.Name}**" : loss.Name;
            md.AppendLine(
                $"| {name} | {loss.TunedHeadline.Format()} | {loss.Metric(Metric.IoU, true).Format()} | {loss.Metric(Metric.Precision, true).Format()} | {loss.Metric(Metric.Recall, true).Format()} | "
                    + $"{loss.Headline.Format()} | {loss.Metric(Metric.IoU).Format()} | {loss.Metric(Metric.Precision).Format()} | {loss.Metric(Metric.Recall).Format()} | {loss.TunedRule} | "
                    + Invariant($"{loss.BestEpoch.Mean:F1}/{loss.EpochsRun.Mean:F1} | {loss.SecondsPerEpoch.Format("F2")} |")
                    + (withModules ? $" `{loss.CSharp}` |" : "")
            );
        }
        md.AppendLine();
        md.AppendLine(
            "Mean ± standard deviation over seeds, sorted by the tuned Dice; s/epoch is training time per epoch (without evaluation)."
        );
        md.AppendLine();
    }

    private static void Paired(StringBuilder md, Comparison comparison, CompareTask task, bool tuned, string heading)
    {
        var analysis = tuned ? comparison.Tuned : comparison.Untuned;
        md.AppendLine(heading);
        md.AppendLine();
        md.AppendLine("| Rank | Loss | Dice | Δ vs best | 95 % interval | seeds above / below the best | status |");
        md.AppendLine("|---:|---|---:|---:|---|---:|---|");
        var rank = 1;
        foreach (var i in analysis.Ranking)
        {
            var d = analysis.Differences[i];
            var loss = comparison.Losses[i];
            md.AppendLine(
                d.Status == PairStatus.Best
                    ? $"| {rank} | **{loss.Name}** | {F(d.Score)} | — | — | — | best |"
                    : $"| {rank} | {loss.Name} | {F(d.Score)} | {Recommendation.Signed(d.Mean)} | {Recommendation.Interval(d)} | {d.SeedsAhead} / {d.SeedsBehind} | {CompareRunner.StatusText(d.Status)} |"
            );
            rank++;
        }
        md.AppendLine();
        md.AppendLine(
            Invariant(
                $"Best: {comparison.Losses[analysis.Best].Name}. Intervals: paired bootstrap, {analysis.Resamples} resamples of {analysis.Seeds} seed{(analysis.Seeds == 1 ? "" : "s")} and {analysis.Images} test images, random seed {analysis.RngSeed}."
            )
                + (
                    analysis.Seeds < 3
                        ? " With fewer than 3 seeds the interval mostly reflects the test images, not the training noise: use --seeds 5 or more."
                        : ""
                )
        );
        md.AppendLine();
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
        md.AppendLine(Invariant($"| budget | {options.Budget:F0} s |"));
        foreach (var r in results)
        {
            var p = r.Plan;
            md.AppendLine(Invariant($"| {r.Task.Name} epoch cap | {p.MaxEpochs} ({r.CapSource}), patience {p.Patience} |"));
            md.AppendLine(
                Invariant(
                    $"| {r.Task.Name} model | U-Net, {p.Levels} levels, {p.BaseChannels}–{p.BaseChannels << (p.Levels - 1)} channels, BatchNorm, ReLU, max-pool down, nearest upsampling + 1×1 conv up |"
                )
            );
            md.AppendLine(
                Invariant(
                    $"| {r.Task.Name} training | Adam, learning rate {p.LearningRate}, batch {p.BatchSize}, {(p.CropWidth > 0 ? $"random {r.Data.Train.Height}×{p.CropWidth} crops, " : "")}random horizontal flips; {r.Losses.Length} losses in {r.WallSeconds:F0} s |"
                )
            );
            md.AppendLine($"| {r.Task.Name} losses | {string.Join(", ", r.Losses.Select(l => l.Name))} |");
        }
        md.AppendLine($"| threads | {CompareRunner.Threads} (libtorch) |");
        md.AppendLine($"| device | {options.Device} |");
        md.AppendLine(
            $"| runtime | .NET {Environment.Version}, TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription} |"
        );
        md.AppendLine();
        var caps = results.ToImmutableDictionary(r => r.Task.Kind, r => r.Plan.MaxEpochs);
        var exact = options with { Epochs = caps };
        md.AppendLine("To run this comparison again (with --budget alone, the epoch caps follow the machine's speed):");
        md.AppendLine();
        md.AppendLine("```bash");
        md.AppendLine(options.CommandLine);
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine(
            "To reproduce these numbers exactly (the same caps; same numbers on CPU for the same seeds, threads and library versions):"
        );
        md.AppendLine();
        md.AppendLine("```bash");
        md.AppendLine(Commands.CompareCommand.Reproduce(exact));
        md.AppendLine("```");
        md.AppendLine();
    }
}
