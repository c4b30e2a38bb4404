using System;
using System.Collections.Immutable;
using System.CommandLine;
using System.IO;
using System.Linq;
using LossDsl.Cli.Compare;
using Spectre.Console;

namespace LossDsl.Cli.Commands;

/// <summary>
/// `lossdsl compare`: trains a small U-Net with each selected loss on built-in synthetic data (or
/// the user's PNGs) over several seeds, until the validation score stops improving within a time
/// budget, and reports test Dice, IoU, precision and recall, paired differences with intervals and a
/// recommendation.
/// </summary>
internal sealed class CompareCommand : ICliCommand
{
    /// <inheritdoc />
    public Command Create()
    {
        var task = new Option<string>("--task")
        {
            Description = "binary (sparse LiDAR-like range images), multiclass (5-class satellite-like scenes) or both",
            DefaultValueFactory = _ => "both",
        };
        task.AcceptOnlyFromAmong("binary", "multiclass", "both");
        var losses = new Option<string[]>("--losses")
        {
            Description =
                "comma-separated loss names (default: every loss of the task); binary: "
                + string.Join(", ", LossRegistry.Names(LossTask.Binary))
                + "; multiclass: "
                + string.Join(", ", LossRegistry.Names(LossTask.Multiclass)),
            AllowMultipleArgumentsPerToken = true,
        };
        var epochs = new Option<string?>("--epochs")
        {
            Description =
                "epoch cap per run, fixed instead of derived from --budget (results no longer depend on the machine's speed): N, or binary=N,multiclass=M; runs stop earlier when the validation score stops improving",
        };
        var budget = new Option<double>("--budget")
        {
            Description =
                "seconds for the whole comparison, process start to report; the epoch cap of each task is derived from it (one timed epoch), the same for every loss",
            DefaultValueFactory = _ => CompareOptions.DefaultBudget,
        };
        var seed = new Option<int>("--seed")
        {
            Description = "data seed and first training seed",
            DefaultValueFactory = _ => CompareOptions.DefaultSeed,
        };
        var seeds = new Option<int>("--seeds")
        {
            Description = "number of training seeds (seed, seed+1, …); the paired statistics are over these",
            DefaultValueFactory = _ => CompareOptions.DefaultSeeds,
        };
        var train = new Option<int>("--train-images")
        {
            Description = "training images per synthetic task, a quarter of them the validation split",
            DefaultValueFactory = _ => CompareOptions.DefaultTrainImages,
        };
        var heldOut = new Option<int>("--held-out-images")
        {
            Description = "test images per synthetic task (scored once per run, at the end)",
            DefaultValueFactory = _ => CompareOptions.DefaultHeldOutImages,
        };
        var data = new Option<string?>("--data")
        {
            Description =
                "use your data instead: DIR/images/*.png, DIR/masks/*.png (class index per pixel value; 0/255 = binary), optional DIR/valid/*.png",
        };
        var output = new Option<string>("--out")
        {
            Description = "output directory for report.md and the PNG plots",
            DefaultValueFactory = _ => CompareOptions.DefaultOutDir,
        };
        var sweep = new Option<bool>("--sweep")
        {
            Description =
                "after the comparison, sweep the main option of the best loss (posWeight, focal gamma/alpha, Dice/BCE weight, Tversky alpha/beta, class-weight power, …)",
        };
        var device = new Option<string>("--device")
        {
            Description = "cpu, or cuda where TorchSharp sees a GPU (a CUDA build: -p:TorchBackend=cuda)",
            DefaultValueFactory = _ => "cpu",
        };
        device.AcceptOnlyFromAmong("cpu", "cuda");

        var command = new Command(
            "compare",
            "Which loss wins on sparse, imbalanced data? Trains a small U-Net per loss and seed (early stopping on a validation split, within --budget) and reports test scores, paired differences and a recommendation."
        )
        {
            task,
            losses,
            budget,
            epochs,
            seed,
            seeds,
            train,
            heldOut,
            data,
            output,
            sweep,
            device,
        };
        command.SetAction(
            (parse, _) =>
            {
                var names = (parse.GetValue(losses) ?? Array.Empty<string>())
                    .SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    .ToImmutableArray();
                var options = new CompareOptions(
                    Enum.Parse<TaskChoice>(parse.GetValue(task)!, ignoreCase: true),
                    names,
                    CompareOptions.ParseEpochs(parse.GetValue(epochs), EpochBudget.MaxEpochs),
                    Budget(parse.GetValue(budget)),
                    parse.GetValue(seed),
                    Positive("--seeds", parse.GetValue(seeds), 100),
                    AtLeast("--train-images", parse.GetValue(train), 2, 100_000),
                    Positive("--held-out-images", parse.GetValue(heldOut), 100_000),
                    parse.GetValue(data),
                    parse.GetValue(output)!,
                    parse.GetValue(sweep),
                    parse.GetValue(device)!,
                    ""
                );
                if (options.DataDir is not null && !Directory.Exists(options.DataDir))
                    throw new UsageException($"--data {options.DataDir}: no such directory");
                if (string.IsNullOrWhiteSpace(options.OutDir))
                    throw new UsageException("--out needs a directory name");
                options = options with { CommandLine = Reproduce(options) };
                var console = ConsoleFor(parse.InvocationConfiguration.Output);
                return System.Threading.Tasks.Task.FromResult(CompareRunner.Run(options, console));
            }
        );
        return command;
    }

    private static double Budget(double seconds) =>
        seconds >= 1 && seconds <= 7 * 24 * 3600
            ? seconds
            : throw new UsageException(
                $"--budget must be between 1 and 604800 seconds, got {seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}"
            );

    private static int AtLeast(string name, int value, int min, int max) =>
        value >= min && value <= max ? value : throw new UsageException($"{name} must be between {min} and {max}, got {value}");

    private static int Positive(string name, int value, int max) =>
        value >= 1 && value <= max ? value : throw new UsageException($"{name} must be between 1 and {max}, got {value}");

    /// <summary>The command line of <paramref name="o"/>, every option spelled out (with --budget, the caps come from the machine's speed; ReportWriter adds the --epochs that fix them).</summary>
    internal static string Reproduce(CompareOptions o)
    {
        var parts = new System.Collections.Generic.List<string>
        {
            "dotnet run --project src/LossDsl.Cli -c Release -- compare",
            "--task " + o.Task.ToString().ToLowerInvariant(),
        };
        if (!o.Losses.IsDefaultOrEmpty)
            parts.Add("--losses " + string.Join(",", o.Losses));
        parts.Add($"--budget {o.Budget.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        if (CompareOptions.FormatEpochs(o.Epochs) is { } e)
            parts.Add($"--epochs {e}");
        parts.Add($"--seed {o.Seed} --seeds {o.Seeds}");
        if (o.DataDir is null)
            parts.Add($"--train-images {o.TrainImages} --held-out-images {o.HeldOutImages}");
        else
            parts.Add("--data " + Quote(o.DataDir));
        if (o.Sweep)
            parts.Add("--sweep");
        if (o.Device != "cpu")
            parts.Add("--device " + o.Device);
        parts.Add("--out " + Quote(o.OutDir));
        return string.Join(" ", parts);
    }

    private static string Quote(string s) =>
        s.Any(c => char.IsWhiteSpace(c) || "'\"$`\\".Contains(c)) ? "'" + s.Replace("'", "'\\''") + "'" : s;

    /// <summary>
    /// A Spectre console writing to <paramref name="writer"/>. When that is not a terminal (tests,
    /// pipes) it is treated as a plain 180-column stream without colours or live progress.
    /// </summary>
    private static IAnsiConsole ConsoleFor(TextWriter writer)
    {
        var terminal = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(
            new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(writer),
                Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
                ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
                Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
            }
        );
        if (!terminal)
            console.Profile.Width = 180;
        return console;
    }
}
