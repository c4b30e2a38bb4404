using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Spectre.Console;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>A task ready to run: its data, training plan (the cap still to be set) and selected losses.</summary>
internal sealed record TaskSetup(CompareData Data, TrainingPlan Plan, ImmutableArray<LossEntry> Losses);

/// <summary>
/// Runs `lossdsl compare`: builds each task's data, derives the epoch caps from the budget, trains one
/// network per loss and seed, compares the losses pairwise, optionally sweeps the recommended loss's
/// option, prints progress, tables and recommendations, and writes the report.
/// </summary>
internal static class CompareRunner
{
    /// <summary>
    /// Threads libtorch may use: fixed, so results for a seed do not depend on the machine's core
    /// count. One: these convolutions are small, and on a 2-core machine shared with other work, two
    /// OpenMP threads were measured up to 10× slower per epoch (each parallel region waits for the
    /// thread that lost its core), while one thread was as fast as two on an unloaded machine.
    /// </summary>
    public const int Threads = 1;

    /// <summary>Preview images per task in the predictions plot.</summary>
    public const int PreviewCount = 3;

    /// <summary>
    /// The training plan of a task (the same for every loss); the cap and patience are set later,
    /// from --epochs or the budget. Range images (64×256) are trained on random 64×64 crops: a quarter
    /// of the work per step, so about four times the steps fit in the budget; every object is still
    /// seen, in some crop, every few epochs. Evaluation always uses whole images. The learning rate
    /// (Adam, 6·10⁻³ annealed by a cosine to 2 % of it at the cap) was chosen on short runs of both
    /// tasks: at a cap of 16 epochs it beat 3·10⁻³ for nearly every loss; 10⁻² made validation scores jump.
    /// </summary>
    public static TrainingPlan PlanFor(CompareData data, int maxEpochs) =>
        data.Task.Kind == LossTask.Binary && data.Source.StartsWith("synthetic", StringComparison.Ordinal)
            ? new TrainingPlan(
                maxEpochs,
                TrainingPlan.PatienceFor(maxEpochs),
                BatchSize: 4,
                LearningRate: 6e-3,
                BaseChannels: 8,
                Levels: 3,
                CropWidth: 64
            )
            : new TrainingPlan(
                maxEpochs,
                TrainingPlan.PatienceFor(maxEpochs),
                BatchSize: 4,
                LearningRate: 6e-3,
                BaseChannels: 8,
                Levels: 3,
                CropWidth: 0
            );

    /// <summary>The device of <paramref name="name"/> ("cpu" or "cuda").</summary>
    /// <exception cref="UsageException">cuda without a GPU that TorchSharp can use.</exception>
    public static Device DeviceFor(string name)
    {
        if (string.Equals(name, "cpu", StringComparison.OrdinalIgnoreCase))
            return CPU;
        if (!string.Equals(name, "cuda", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"--device must be cpu or cuda, got {name}");
        bool available;
        try
        {
            available = cuda.is_available();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            available = false;
        }
        if (!available)
            throw new UsageException(
                "--device cuda: TorchSharp sees no CUDA device (torch.cuda.is_available() is false). This build uses the CPU backend; "
                    + "build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU and driver, or use --device cpu"
            );
        return CUDA;
    }

    /// <summary>Builds the tasks of <paramref name="options"/>, validating loss names against each task.</summary>
    /// <exception cref="UsageException">An unknown loss, or user data that cannot be used.</exception>
    public static ImmutableArray<TaskSetup> Prepare(CompareOptions options)
    {
        var datasets = new List<CompareData>();
        if (options.DataDir is not null)
        {
            var data = UserData.Load(options.DataDir, options.Seed);
            var want = options.Task switch
            {
                TaskChoice.Binary => LossTask.Binary,
                TaskChoice.Multiclass => LossTask.Multiclass,
                _ => data.Task.Kind,
            };
            if (want != data.Task.Kind)
                throw new UsageException(
                    $"--task {options.Task.ToString().ToLowerInvariant()} does not match --data {options.DataDir}, whose masks make a {data.Task.Name} task ({data.Task.NumClasses} classes)"
                );
            datasets.Add(data);
        }
        else
        {
            if (options.Task != TaskChoice.Multiclass)
                datasets.Add(SyntheticData(LossTask.Binary, options));
            if (options.Task != TaskChoice.Binary)
                datasets.Add(SyntheticData(LossTask.Multiclass, options));
        }
        return datasets
            .Select(d => new TaskSetup(d, PlanFor(d, options.EpochsFor(d.Task.Kind) ?? 1), SelectLosses(d.Task.Kind, options.Losses)))
            .ToImmutableArray();
    }

    /// <summary>
    /// The built-in data of a task, generated from the data seed: the first training images are
    /// trained on, the rest of the training images (a quarter) are the validation split, then come
    /// the test images.
    /// </summary>
    public static CompareData SyntheticData(LossTask task, CompareOptions options)
    {
        var val = CompareOptions.ValidationCount(options.TrainImages);
        var fit = options.TrainImages - val;
        var total = options.TrainImages + options.HeldOutImages;
        var all = task == LossTask.Binary ? SyntheticLidar.Generate(total, options.Seed) : SyntheticSatellite.Generate(total, options.Seed);
        var trainSet = all.Select(Enumerable.Range(0, fit).ToArray());
        var valSet = all.Select(Enumerable.Range(fit, val).ToArray());
        var testSet = all.Select(Enumerable.Range(options.TrainImages, options.HeldOutImages).ToArray());
        return task == LossTask.Binary
            ? new CompareData(
                SyntheticLidar.Task,
                trainSet,
                valSet,
                testSet,
                $"synthetic LiDAR-like range images, {SyntheticLidar.Height}×{SyntheticLidar.Width}, data seed {options.Seed}",
                SyntheticLidar.ChannelNames
            )
            : new CompareData(
                SyntheticSatellite.Task,
                trainSet,
                valSet,
                testSet,
                $"synthetic satellite-like scenes, {SyntheticSatellite.Size}×{SyntheticSatellite.Size}, data seed {options.Seed}",
                SyntheticSatellite.ChannelNames
            );
    }

    private static ImmutableArray<LossEntry> SelectLosses(LossTask task, ImmutableArray<string> names)
    {
        if (names.IsDefaultOrEmpty)
            return LossRegistry.Defaults(task).Select(n => LossRegistry.Find(task, n)!).ToImmutableArray();
        var known = LossRegistry.Names(task);
        var unknown = names.Where(n => LossRegistry.Find(task, n) is null).ToArray();
        if (unknown.Length > 0)
        {
            var kind = task == LossTask.Binary ? "binary" : "multiclass";
            throw new UsageException($"unknown {kind} loss '{unknown[0]}'; {kind} losses are: {string.Join(", ", known)}");
        }
        return names.Distinct(StringComparer.OrdinalIgnoreCase).Select(n => LossRegistry.Find(task, n)!).ToImmutableArray();
    }

    /// <summary>Seconds since this process started (startup, libtorch loading and data generation included).</summary>
    public static double SinceProcessStart()
    {
        try
        {
            return (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds;
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception)
        {
            return 0;
        }
    }

    /// <summary>Runs every task, prints the tables and writes the report; returns the exit code.</summary>
    public static int Run(CompareOptions options, IAnsiConsole console)
    {
        var total = Stopwatch.StartNew();
        var device = DeviceFor(options.Device);
        var setups = Prepare(options);
        Directory.CreateDirectory(options.OutDir);
        set_num_threads(Threads);
        var tensors = setups
            .Select(s => new TaskTensors(
                new SplitTensors(s.Data.Train, device),
                new SplitTensors(s.Data.Validation, device),
                new SplitTensors(s.Data.Test, device)
            ))
            .ToArray();
        try
        {
            // Epoch caps: from --epochs, or from the budget, planned for each task just before it runs
            // (one cap for all its losses and seeds), so time an earlier task did not use goes to later ones.
            var stats = setups.Select(s => s.Data.Train.Stats(s.Data.Task.NumClasses)).ToArray();
            var calibration = new double[setups.Length];
            bool Given(int t) => options.EpochsFor(setups[t].Data.Task.Kind) is not null;
            double Calibrate(int t)
            {
                using var loss = setups[t].Losses[0].Create(stats[t], device);
                return Trainer.TimeEpoch(setups[t].Data.Task, tensors[t], loss, setups[t].Plan, device);
            }
            // A fixed-cap task after a budget task needs its time kept back: time it first.
            for (var t = 0; t < setups.Length; t++)
                if (Given(t) && Enumerable.Range(0, t).Any(u => !Given(u)))
                    calibration[t] = Calibrate(t);

            var results = new List<TaskResult>();
            for (var t = 0; t < setups.Length; t++)
            {
                string source;
                int cap;
                if (options.EpochsFor(setups[t].Data.Task.Kind) is { } given)
                {
                    cap = given;
                    source = "--epochs";
                }
                else
                {
                    calibration[t] = Calibrate(t);
                    var left = options.Budget - SinceProcessStart();
                    var later = Enumerable.Range(t + 1, setups.Length - t - 1).ToArray();
                    var fixedLater = later
                        .Where(Given)
                        .Sum(u =>
                            Runs(setups[u], options)
                            * (options.EpochsFor(setups[u].Data.Task.Kind)!.Value + EpochBudget.ScoringEpochs)
                            * calibration[u]
                            * EpochBudget.Safety
                        );
                    var runs = Runs(setups[t], options) + later.Where(u => !Given(u)).Sum(u => Runs(setups[u], options));
                    cap = EpochBudget.Caps(left - fixedLater, new[] { new TaskCost(runs, calibration[t]) })[0];
                    source =
                        Invariant($"budget: {left:F0} s left of {options.Budget:F0} s for {runs} runs")
                        + (fixedLater > 0 ? Invariant($" and {fixedLater:F0} s kept for the --epochs tasks") : "")
                        + Invariant($", one epoch measured at {calibration[t]:F2} s");
                }
                var setup = setups[t] with { Plan = setups[t].Plan with { MaxEpochs = cap, Patience = TrainingPlan.PatienceFor(cap) } };
                results.Add(RunTask(setup, tensors[t], stats[t], source, calibration[t], options, console, device));
            }
            total.Stop();
            var files = ReportWriter.Write(options, results, SinceProcessStart());
            console.MarkupLine(
                $"Report: [bold]{Markup.Escape(Path.Combine(options.OutDir, "report.md"))}[/] and {files.Count(f => f.EndsWith(".png", StringComparison.Ordinal))} plots in {Markup.Escape(options.OutDir)} ({SinceProcessStart():F0} s since start)."
            );
            foreach (var r in results)
                Raw(console, r.Recommendation);
            return ExitCodes.Success;
        }
        finally
        {
            foreach (var t in tensors)
                t.Dispose();
        }
    }

    // One line written as it is (not wrapped at the console width), so it can be found and copied whole.
    private static void Raw(IAnsiConsole console, string line)
    {
        var writer = console.Profile.Out.Writer;
        writer.WriteLine(line);
        writer.Flush();
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    // Runs a task may need: every loss and seed, plus the sweep's new settings.
    private static int Runs(TaskSetup setup, CompareOptions options) =>
        options.Seeds * (setup.Losses.Length + (options.Sweep ? Sweeps.MaxNew : 0));

    private static TaskResult RunTask(
        TaskSetup setup,
        TaskTensors tensors,
        TrainingStats trainStats,
        string capSource,
        double calibration,
        CompareOptions options,
        IAnsiConsole console,
        Device device
    )
    {
        var watch = Stopwatch.StartNew();
        var data = setup.Data;
        var task = data.Task;
        var previews = PreviewIndices(data.Test, task, PreviewCount);
        var header =
            $"{task.Name}: {setup.Losses.Length} losses × {options.Seeds} seeds, at most {setup.Plan.MaxEpochs} epochs (patience {setup.Plan.Patience}), "
            + $"{data.Train.Count} training / {data.Validation.Count} validation / {data.Test.Count} test images";
        console.MarkupLine($"[bold]{Markup.Escape(header)}[/]");
        var main = TrainAll(setup, setup.Losses, tensors, trainStats, previews, options, console, device);
        var comparison = Comparison.Of(main);
        PrintTable(
            console,
            task,
            setup.Plan,
            comparison,
            $"{task.Name}: test scores, mean ± standard deviation over {options.Seeds} seed{(options.Seeds == 1 ? "" : "s")}"
        );

        SweepResult? sweep = null;
        if (options.Sweep)
        {
            var family = comparison.Best.Name;
            var plan = Sweeps.For(task.Kind, family, trainStats);
            console.MarkupLine(
                $"[bold]{Markup.Escape($"{task.Name} sweep around {family}: {plan.Option}, {plan.Variants.Length} settings")}[/]"
            );
            var reused = plan
                .Variants.Where(v => v.Reuse is not null && main.Any(l => l.Name == v.Reuse))
                .ToDictionary(v => v.Entry.Name, v => main.First(l => l.Name == v.Reuse));
            var toTrain = plan.Variants.Where(v => !reused.ContainsKey(v.Entry.Name)).Select(v => v.Entry).ToImmutableArray();
            var trained = TrainAll(setup, toTrain, tensors, trainStats, Array.Empty<int>(), options, console, device);
            var variants = plan
                .Variants.Select(v => reused.TryGetValue(v.Entry.Name, out var r) ? r : trained.First(l => l.Name == v.Entry.Name))
                .ToImmutableArray();
            sweep = new SweepResult(family, plan, Comparison.Of(variants));
            PrintTable(console, task, setup.Plan, sweep.Comparison, $"{task.Name} sweep: {plan.Option}");
        }
        var result = new TaskResult(
            data,
            setup.Plan,
            capSource,
            calibration,
            trainStats,
            data.Validation.Stats(task.NumClasses),
            data.Test.Stats(task.NumClasses),
            comparison,
            sweep,
            previews.ToImmutableArray(),
            watch.Elapsed.TotalSeconds
        );
        Raw(console, result.Recommendation);
        console.WriteLine();
        return result;
    }

    private static ImmutableArray<LossSummary> TrainAll(
        TaskSetup setup,
        ImmutableArray<LossEntry> losses,
        TaskTensors tensors,
        TrainingStats trainStats,
        int[] previews,
        CompareOptions options,
        IAnsiConsole console,
        Device device
    )
    {
        var task = setup.Data.Task;
        var seeds = options.TrainingSeeds;
        var runs = new Dictionary<string, List<RunResult>>();
        void Each(Action<LossEntry, int> starting, Action<EpochProgress> onEpoch, Action<RunResult> finished)
        {
            foreach (var entry in losses)
            foreach (var seed in seeds)
            {
                starting(entry, seed);
                using var loss = entry.Create(trainStats, device);
                var result = Trainer.Run(
                    task,
                    tensors,
                    entry.Name,
                    loss,
                    seed,
                    setup.Plan,
                    seed == seeds[0] ? previews : Array.Empty<int>(),
                    onEpoch,
                    device
                );
                if (!runs.TryGetValue(entry.Name, out var list))
                    runs[entry.Name] = list = new List<RunResult>();
                list.Add(result);
                finished(result);
            }
        }

        string Done(RunResult r) =>
            Invariant(
                $"{task.Name} {r.Loss} seed {r.Seed}: kept epoch {r.BestEpoch}/{r.EpochsRun}, validation Dice {r.ValidationTuned:F3} tuned, {r.ValidationBest:F3} untuned, {r.SecondsPerEpoch:F2} s/epoch training, {r.WallSeconds:F1} s in all"
            );
        if (console.Profile.Capabilities.Interactive)
        {
            console
                .Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var all = ctx.AddTask($"{task.Name}: runs", maxValue: losses.Length * seeds.Length);
                    ProgressTask? current = null;
                    Each(
                        (entry, seed) => current = ctx.AddTask(Markup.Escape($"{entry.Name}, seed {seed}"), maxValue: setup.Plan.MaxEpochs),
                        p =>
                        {
                            current!.Increment(1);
                            current.Description = Markup.Escape(
                                Invariant(
                                    $"{p.Loss}, seed {p.Seed}, epoch {p.Epoch}: loss {p.TrainLoss:F4}, validation Dice {p.ValidationScore:F3}"
                                )
                            );
                        },
                        r =>
                        {
                            current!.Value = current.MaxValue;
                            current.StopTask();
                            all.Increment(1);
                            console.MarkupLine(Markup.Escape(Done(r)));
                        }
                    );
                });
        }
        else
        {
            Each((_, _) => { }, _ => { }, r => console.WriteLine(Done(r)));
        }
        return losses
            .Select(e => new LossSummary(e.Name, e.Description, e.CSharp(trainStats), runs[e.Name].ToImmutableArray(), task))
            .ToImmutableArray();
    }

    /// <summary>Test images to show: those with the most foreground pixels (ties: lowest index).</summary>
    public static int[] PreviewIndices(SegmentationSet set, CompareTask task, int count)
    {
        var pixels = set.PixelsPerImage;
        return Enumerable
            .Range(0, set.Count)
            .Select(i => (i, fg: Enumerable.Range(i * pixels, pixels).Count(p => set.Valid[p] && set.Labels[p] != 0)))
            .OrderByDescending(x => x.fg)
            .ThenBy(x => x.i)
            .Take(count)
            .Select(x => x.i)
            .OrderBy(i => i)
            .ToArray();
    }

    /// <summary>"best", "tied with the best" or "worse".</summary>
    public static string StatusText(PairStatus s) =>
        s switch
        {
            PairStatus.Best => "best",
            PairStatus.Tied => "tied with the best",
            _ => "worse",
        };

    /// <summary>Prints a comparison's table: scores tuned and at 0.5, the paired differences and their status.</summary>
    public static void PrintTable(IAnsiConsole console, CompareTask task, TrainingPlan plan, Comparison comparison, string title)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title));
        var untuned = task.Kind == LossTask.Binary ? "@0.5" : " argmax";
        foreach (
            var c in new[]
            {
                "Loss",
                "Dice tuned",
                "IoU tuned",
                "Dice" + untuned,
                "IoU" + untuned,
                "Prec.",
                "Recall",
                "Δ vs best [95 % CI]",
                "seeds +/−",
                "status",
                "epochs",
                "s/ep",
            }
        )
            table.AddColumn(
                c is "Loss" or "status"
                    ? new TableColumn(Markup.Escape(c)).NoWrap()
                    : new TableColumn(Markup.Escape(c)).RightAligned().NoWrap()
            );
        foreach (var loss in comparison.Ranked)
        {
            var d = comparison.Of(loss);
            var name =
                d.Status == PairStatus.Best ? $"[bold green]{Markup.Escape(loss.Name)}[/]"
                : d.Status == PairStatus.Tied ? $"[green]{Markup.Escape(loss.Name)}[/]"
                : Markup.Escape(loss.Name);
            table.AddRow(
                name,
                Markup.Escape(loss.TunedHeadline.Format()),
                Markup.Escape(loss.Metric(Metric.IoU, true).Mean.ToString("F3", CultureInfo.InvariantCulture)),
                Markup.Escape(loss.Headline.Mean.ToString("F3", CultureInfo.InvariantCulture)),
                Markup.Escape(loss.Metric(Metric.IoU).Mean.ToString("F3", CultureInfo.InvariantCulture)),
                Markup.Escape(loss.Metric(Metric.Precision, true).Mean.ToString("F3", CultureInfo.InvariantCulture)),
                Markup.Escape(loss.Metric(Metric.Recall, true).Mean.ToString("F3", CultureInfo.InvariantCulture)),
                d.Status == PairStatus.Best ? "—" : Markup.Escape($"{Recommendation.Signed(d.Mean)} {Recommendation.Interval(d)}"),
                d.Status == PairStatus.Best ? "" : $"{d.SeedsAhead}/{d.SeedsBehind}",
                Markup.Escape(StatusText(d.Status)),
                Markup.Escape(Invariant($"{loss.BestEpoch.Mean:F0}/{loss.EpochsRun.Mean:F0}")),
                Markup.Escape(loss.SecondsPerEpoch.Mean.ToString("F2", CultureInfo.InvariantCulture))
            );
        }
        var scope = task.Kind == LossTask.Binary ? "foreground" : "mean of the non-background classes";
        var rule = task.Kind == LossTask.Binary ? "threshold" : "class offsets";
        table.Caption(
            Markup.Escape(
                $"Test split, {scope}, mean over seeds. tuned: {rule} tuned on the validation split; Prec./Recall tuned. Dice tuned: mean ± standard deviation. "
                    + $"Δ: paired difference to the best (tuned), 95 % paired bootstrap over seeds and test images; seeds +/−: seeds above/below the best; "
                    + $"epochs: kept/trained (cap {plan.MaxEpochs})."
            )
        );
        console.Write(table);
        var capped = comparison.Losses.Sum(l => l.StillImprovingAtCap(plan));
        if (capped > 0)
            console.MarkupLine(
                Markup.Escape(
                    $"Note: {capped} of {comparison.Losses.Sum(l => l.Runs.Length)} runs were still improving at the cap of {plan.MaxEpochs} epochs; a larger --budget (or --epochs) may change the ranking."
                )
            );
    }
}
