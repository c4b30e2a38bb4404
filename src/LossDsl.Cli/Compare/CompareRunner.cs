using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Spectre.Console;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>A task ready to run: its data, training plan and selected losses.</summary>
internal sealed record TaskSetup(CompareData Data, TrainingPlan Plan, ImmutableArray<LossEntry> Losses);

/// <summary>
/// Runs `lossdsl compare`: builds each task's data, trains one network per loss and seed, prints
/// progress and the results table, and writes the report.
/// </summary>
internal static class CompareRunner
{
    /// <summary>Threads libtorch may use: fixed, so results for a seed do not depend on the machine's core count.</summary>
    public const int Threads = 2;

    /// <summary>Preview images per task in the predictions plot.</summary>
    public const int PreviewCount = 3;

    /// <summary>The training plan of a task (the same for every loss).</summary>
    public static TrainingPlan PlanFor(CompareData data, int epochs) => data.Task.Kind == LossTask.Binary && data.Source.StartsWith("synthetic", StringComparison.Ordinal)
        // 64×256 range images, trained on 64×128 crops: half the work per step, the same objects.
        ? new TrainingPlan(epochs, BatchSize: 4, LearningRate: 3e-3, BaseChannels: 8, Levels: 3, CropWidth: 128)
        : new TrainingPlan(epochs, BatchSize: 4, LearningRate: 3e-3, BaseChannels: 8, Levels: 3, CropWidth: 0);

    /// <summary>Builds the tasks of <paramref name="options"/>, validating loss names against each task.</summary>
    /// <exception cref="UsageException">An unknown loss, or user data that cannot be used.</exception>
    public static ImmutableArray<TaskSetup> Prepare(CompareOptions options)
    {
        var datasets = new List<CompareData>();
        if (options.DataDir is not null)
        {
            var data = UserData.Load(options.DataDir, options.Seed);
            var want = options.Task switch { TaskChoice.Binary => LossTask.Binary, TaskChoice.Multiclass => LossTask.Multiclass, _ => data.Task.Kind };
            if (want != data.Task.Kind)
                throw new UsageException($"--task {options.Task.ToString().ToLowerInvariant()} does not match --data {options.DataDir}, whose masks make a {data.Task.Name} task ({data.Task.NumClasses} classes)");
            datasets.Add(data);
        }
        else
        {
            if (options.Task != TaskChoice.Multiclass) datasets.Add(SyntheticData(LossTask.Binary, options));
            if (options.Task != TaskChoice.Binary) datasets.Add(SyntheticData(LossTask.Multiclass, options));
        }
        return datasets.Select(d => new TaskSetup(d, PlanFor(d, options.Epochs), SelectLosses(d.Task.Kind, options.Losses))).ToImmutableArray();
    }

    /// <summary>The built-in data of a task: train and held-out images generated from the data seed.</summary>
    public static CompareData SyntheticData(LossTask task, CompareOptions options)
    {
        var total = options.TrainImages + options.HeldOutImages;
        if (task == LossTask.Binary)
        {
            var all = SyntheticLidar.Generate(total, options.Seed);
            return new CompareData(SyntheticLidar.Task, all.Select(Enumerable.Range(0, options.TrainImages).ToArray()),
                all.Select(Enumerable.Range(options.TrainImages, options.HeldOutImages).ToArray()),
                $"synthetic LiDAR-like range images, {SyntheticLidar.Height}×{SyntheticLidar.Width}, data seed {options.Seed}",
                SyntheticLidar.ChannelNames);
        }
        var sat = SyntheticSatellite.Generate(total, options.Seed);
        return new CompareData(SyntheticSatellite.Task, sat.Select(Enumerable.Range(0, options.TrainImages).ToArray()),
            sat.Select(Enumerable.Range(options.TrainImages, options.HeldOutImages).ToArray()),
            $"synthetic satellite-like scenes, {SyntheticSatellite.Size}×{SyntheticSatellite.Size}, data seed {options.Seed}",
            SyntheticSatellite.ChannelNames);
    }

    private static ImmutableArray<LossEntry> SelectLosses(LossTask task, ImmutableArray<string> names)
    {
        if (names.IsDefaultOrEmpty) return LossRegistry.Defaults(task).Select(n => LossRegistry.Find(task, n)!).ToImmutableArray();
        var known = LossRegistry.Names(task);
        var unknown = names.Where(n => LossRegistry.Find(task, n) is null).ToArray();
        if (unknown.Length > 0)
        {
            var kind = task == LossTask.Binary ? "binary" : "multiclass";
            throw new UsageException($"unknown {kind} loss '{unknown[0]}'; {kind} losses are: {string.Join(", ", known)}");
        }
        return names.Distinct(StringComparer.OrdinalIgnoreCase).Select(n => LossRegistry.Find(task, n)!).ToImmutableArray();
    }

    /// <summary>Runs every task, prints the tables and writes the report; returns the exit code.</summary>
    public static int Run(CompareOptions options, IAnsiConsole console)
    {
        var total = Stopwatch.StartNew();
        var setups = Prepare(options);
        Directory.CreateDirectory(options.OutDir);
        set_num_threads(Threads);
        var results = new List<TaskResult>();
        foreach (var setup in setups)
        {
            var result = RunTask(setup, options, console);
            results.Add(result);
            PrintTable(console, result);
        }
        total.Stop();
        var files = ReportWriter.Write(options, results, total.Elapsed.TotalSeconds);
        console.MarkupLine($"Report: [bold]{Markup.Escape(Path.Combine(options.OutDir, "report.md"))}[/] and {files.Count(f => f.EndsWith(".png", StringComparison.Ordinal))} plots in {Markup.Escape(options.OutDir)} ({total.Elapsed.TotalSeconds:F0} s in all).");
        return ExitCodes.Success;
    }

    private static TaskResult RunTask(TaskSetup setup, CompareOptions options, IAnsiConsole console)
    {
        var watch = Stopwatch.StartNew();
        var data = setup.Data;
        var task = data.Task;
        var trainStats = data.Train.Stats(task.NumClasses);
        var heldOutStats = data.HeldOut.Stats(task.NumClasses);
        var previews = PreviewIndices(data.HeldOut, task, PreviewCount);
        using var train = new SplitTensors(data.Train);
        using var heldOut = new SplitTensors(data.HeldOut);
        var seeds = options.TrainingSeeds;
        var runs = new Dictionary<string, List<RunResult>>();
        var header = $"{task.Name}: {setup.Losses.Length} losses × {seeds.Length} seeds × {setup.Plan.Epochs} epochs, " +
                     $"{data.Train.Count} training / {data.HeldOut.Count} held-out images";
        console.MarkupLine($"[bold]{Markup.Escape(header)}[/]");

        void TrainAll(Action<LossEntry, int> starting, Action<EpochProgress> onEpoch, Action<RunResult> finished)
        {
            foreach (var entry in setup.Losses)
            foreach (var seed in seeds)
            {
                starting(entry, seed);
                using var loss = entry.Create(trainStats);
                var result = Trainer.Run(task, train, heldOut, entry.Name, loss, seed, setup.Plan,
                    seed == seeds[0] ? previews : Array.Empty<int>(), onEpoch);
                if (!runs.TryGetValue(entry.Name, out var list)) runs[entry.Name] = list = new List<RunResult>();
                list.Add(result);
                finished(result);
            }
        }

        if (console.Profile.Capabilities.Interactive)
        {
            console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var all = ctx.AddTask($"{task.Name}: all runs", maxValue: setup.Losses.Length * seeds.Length * setup.Plan.Epochs);
                    ProgressTask? current = null;
                    TrainAll(
                        (entry, seed) => current = ctx.AddTask(Markup.Escape($"{entry.Name}, seed {seed}"), maxValue: setup.Plan.Epochs),
                        p =>
                        {
                            current!.Increment(1);
                            current.Description = Markup.Escape($"{p.Loss}, seed {p.Seed}: loss {p.TrainLoss:F4}, held-out Dice {p.HeldOutScore:F3}");
                            all.Increment(1);
                        },
                        r => current!.StopTask());
                });
        }
        else
        {
            TrainAll((_, _) => { }, p => { },
                r => console.WriteLine($"{task.Name} {r.Loss} seed {r.Seed}: loss {r.EpochLoss[^1]:F4}, held-out Dice {r.EpochHeldOutScore[^1]:F3}, {r.SecondsPerEpoch:F2} s/epoch"));
        }

        var summaries = setup.Losses.Select(e => new LossSummary(e.Name, e.Description, runs[e.Name].ToImmutableArray(), task)).ToImmutableArray();
        return new TaskResult(data, setup.Plan, trainStats, heldOutStats, summaries, previews.ToImmutableArray(), watch.Elapsed.TotalSeconds);
    }

    /// <summary>Held-out images to show: those with the most foreground pixels (ties: lowest index).</summary>
    public static int[] PreviewIndices(SegmentationSet set, CompareTask task, int count)
    {
        var pixels = set.PixelsPerImage;
        return Enumerable.Range(0, set.Count)
            .Select(i => (i, fg: Enumerable.Range(i * pixels, pixels).Count(p => set.Valid[p] && set.Labels[p] != 0)))
            .OrderByDescending(x => x.fg).ThenBy(x => x.i).Take(count).Select(x => x.i).OrderBy(i => i).ToArray();
    }

    /// <summary>Prints a task's results table and verdict.</summary>
    public static void PrintTable(IAnsiConsole console, TaskResult result)
    {
        var seeds = result.Losses[0].Runs.Length;
        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"{result.Task.Name}: held-out scores, mean ± standard deviation over {seeds} seed{(seeds == 1 ? "" : "s")}"));
        var scope = result.Task.Kind == LossTask.Binary ? "foreground" : "mean of non-background classes";
        table.AddColumn("Loss");
        foreach (var m in Enum.GetValues<Metric>()) table.AddColumn(new TableColumn($"{m}").RightAligned());
        table.AddColumn(new TableColumn("s/epoch").RightAligned());
        var verdict = result.Verdict;
        foreach (var loss in result.Losses)
        {
            var name = loss == verdict.Winner ? $"[bold green]{Markup.Escape(loss.Name)}[/]" : Markup.Escape(loss.Name);
            var cells = new List<string> { name };
            cells.AddRange(Enum.GetValues<Metric>().Select(m => Markup.Escape(loss.Metric(m).Format())));
            cells.Add(Markup.Escape(loss.SecondsPerEpoch.Format("F2")));
            table.AddRow(cells.ToArray());
        }
        table.Caption(Markup.Escape($"Scores: {scope}, over valid held-out pixels."));
        console.Write(table);
        console.MarkupLine(Markup.Escape(verdict.Sentence(result.ScoreName)));
        console.WriteLine();
    }
}
