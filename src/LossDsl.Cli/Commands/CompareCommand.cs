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
/// the user's PNGs) over several seeds and reports held-out Dice, IoU, precision and recall.
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
            Description = "comma-separated loss names (default: every loss of the task); binary: " +
                          string.Join(", ", LossRegistry.Names(LossTask.Binary)) + "; multiclass: " + string.Join(", ", LossRegistry.Names(LossTask.Multiclass)),
            AllowMultipleArgumentsPerToken = true,
        };
        var epochs = new Option<int>("--epochs") { Description = "training epochs per run", DefaultValueFactory = _ => CompareOptions.DefaultEpochs };
        var seed = new Option<int>("--seed") { Description = "data seed and first training seed", DefaultValueFactory = _ => CompareOptions.DefaultSeed };
        var seeds = new Option<int>("--seeds") { Description = "number of training seeds (seed, seed+1, …); mean ± spread is over these", DefaultValueFactory = _ => CompareOptions.DefaultSeeds };
        var train = new Option<int>("--train-images") { Description = "training images per synthetic task", DefaultValueFactory = _ => CompareOptions.DefaultTrainImages };
        var heldOut = new Option<int>("--held-out-images") { Description = "held-out images per synthetic task", DefaultValueFactory = _ => CompareOptions.DefaultHeldOutImages };
        var data = new Option<string?>("--data") { Description = "use your data instead: DIR/images/*.png, DIR/masks/*.png (class index per pixel value; 0/255 = binary), optional DIR/valid/*.png" };
        var output = new Option<string>("--out") { Description = "output directory for report.md and the PNG plots", DefaultValueFactory = _ => CompareOptions.DefaultOutDir };

        var command = new Command("compare", "Which loss wins on sparse, imbalanced data? Trains a small U-Net per loss and seed and reports held-out scores.")
        {
            task, losses, epochs, seed, seeds, train, heldOut, data, output,
        };
        command.SetAction((parse, _) =>
        {
            var names = (parse.GetValue(losses) ?? Array.Empty<string>())
                .SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .ToImmutableArray();
            var options = new CompareOptions(
                Enum.Parse<TaskChoice>(parse.GetValue(task)!, ignoreCase: true),
                names,
                Positive("--epochs", parse.GetValue(epochs), 1000),
                parse.GetValue(seed),
                Positive("--seeds", parse.GetValue(seeds), 100),
                Positive("--train-images", parse.GetValue(train), 100_000),
                Positive("--held-out-images", parse.GetValue(heldOut), 100_000),
                parse.GetValue(data),
                parse.GetValue(output)!,
                "");
            if (options.DataDir is not null && !Directory.Exists(options.DataDir))
                throw new UsageException($"--data {options.DataDir}: no such directory");
            if (string.IsNullOrWhiteSpace(options.OutDir)) throw new UsageException("--out needs a directory name");
            options = options with { CommandLine = Reproduce(options) };
            var console = ConsoleFor(parse.InvocationConfiguration.Output);
            return System.Threading.Tasks.Task.FromResult(CompareRunner.Run(options, console));
        });
        return command;
    }

    private static int Positive(string name, int value, int max) =>
        value >= 1 && value <= max ? value : throw new UsageException($"{name} must be between 1 and {max}, got {value}");

    /// <summary>The command line that reproduces <paramref name="o"/>, every option spelled out.</summary>
    internal static string Reproduce(CompareOptions o)
    {
        var parts = new System.Collections.Generic.List<string>
        {
            "dotnet run --project src/LossDsl.Cli -c Release -- compare",
            "--task " + o.Task.ToString().ToLowerInvariant(),
        };
        if (!o.Losses.IsDefaultOrEmpty) parts.Add("--losses " + string.Join(",", o.Losses));
        parts.Add($"--epochs {o.Epochs} --seed {o.Seed} --seeds {o.Seeds}");
        if (o.DataDir is null) parts.Add($"--train-images {o.TrainImages} --held-out-images {o.HeldOutImages}");
        else parts.Add("--data " + Quote(o.DataDir));
        parts.Add("--out " + Quote(o.OutDir));
        return string.Join(" ", parts);
    }

    private static string Quote(string s) => s.Any(c => char.IsWhiteSpace(c) || "'\"$`\\".Contains(c)) ? "'" + s.Replace("'", "'\\''") + "'" : s;

    /// <summary>
    /// A Spectre console writing to <paramref name="writer"/>. When that is not a terminal (tests,
    /// pipes) it is treated as a plain 140-column stream without colours or live progress.
    /// </summary>
    private static IAnsiConsole ConsoleFor(TextWriter writer)
    {
        var terminal = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = 140;
        return console;
    }
}
