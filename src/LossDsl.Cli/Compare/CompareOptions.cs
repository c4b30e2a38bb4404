using System;
using System.Collections.Immutable;
using System.Linq;

namespace LossDsl.Cli.Compare;

/// <summary>Which task(s) a comparison runs.</summary>
internal enum TaskChoice
{
    /// <summary>Binary segmentation only.</summary>
    Binary,

    /// <summary>Multiclass segmentation only.</summary>
    Multiclass,

    /// <summary>Both tasks, one after the other.</summary>
    Both,
}

/// <summary>Everything that determines a comparison (and so its report).</summary>
/// <param name="Task">The task(s); with user data, the data's own task.</param>
/// <param name="Losses">Loss names, or empty for every loss registered for the task.</param>
/// <param name="Epochs">Epoch caps given with --epochs, per task (a task without one gets its cap from the budget); empty: every cap from the budget.</param>
/// <param name="Budget">Seconds for the whole comparison, process start to report; the epoch caps are derived from it.</param>
/// <param name="Seed">The data seed and the first training seed.</param>
/// <param name="Seeds">Training seeds: Seed, Seed + 1, ….</param>
/// <param name="TrainImages">Training images generated per task (synthetic data), the validation split included.</param>
/// <param name="HeldOutImages">Test images generated per task (synthetic data).</param>
/// <param name="DataDir">User data directory, or null for the built-in synthetic data.</param>
/// <param name="OutDir">Where report.md and the plots go.</param>
/// <param name="Sweep">Whether to sweep the recommended loss's main option after the comparison.</param>
/// <param name="Device">"cpu" or "cuda".</param>
/// <param name="CommandLine">The command line as given, for the report.</param>
internal sealed record CompareOptions(
    TaskChoice Task,
    ImmutableArray<string> Losses,
    ImmutableDictionary<LossTask, int> Epochs,
    double Budget,
    int Seed,
    int Seeds,
    int TrainImages,
    int HeldOutImages,
    string? DataDir,
    string OutDir,
    bool Sweep,
    string Device,
    string CommandLine
)
{
    /// <summary>
    /// Default budget in seconds: the default run (both tasks, every loss, <see cref="DefaultSeeds"/>
    /// seeds) then takes under 5 minutes on a 2-core machine, startup included (docs/compare.md).
    /// </summary>
    public const double DefaultBudget = 280;

    /// <summary>Default number of training seeds.</summary>
    public const int DefaultSeeds = 5;

    /// <summary>Default data seed and first training seed.</summary>
    public const int DefaultSeed = 1;

    /// <summary>Default training images per synthetic task (the validation split included).</summary>
    public const int DefaultTrainImages = 48;

    /// <summary>Default test images per synthetic task.</summary>
    public const int DefaultHeldOutImages = 32;

    /// <summary>Default output directory.</summary>
    public const string DefaultOutDir = "lossdsl-report";

    /// <summary>Share of the training images that becomes the validation split (synthetic data; user data: see <see cref="UserData"/>).</summary>
    public const double ValidationShare = 0.25;

    /// <summary>Validation images carved from <paramref name="trainImages"/> synthetic training images (at least 1, leaving at least 1).</summary>
    public static int ValidationCount(int trainImages) =>
        Math.Clamp((int)Math.Round(trainImages * ValidationShare), 1, Math.Max(1, trainImages - 1));

    /// <summary>Training seeds, in order.</summary>
    public ImmutableArray<int> TrainingSeeds
    {
        get
        {
            var b = ImmutableArray.CreateBuilder<int>(Seeds);
            for (var i = 0; i < Seeds; i++)
                b.Add(Seed + i);
            return b.MoveToImmutable();
        }
    }

    /// <summary>The --epochs cap of a task, or null when it comes from the budget.</summary>
    public int? EpochsFor(LossTask task) => Epochs.TryGetValue(task, out var e) ? e : null;

    /// <summary>Parses --epochs: "N" (every task) or "binary=N,multiclass=M".</summary>
    /// <exception cref="UsageException">Not of that form, or a cap outside 1–<paramref name="max"/>.</exception>
    public static ImmutableDictionary<LossTask, int> ParseEpochs(string? text, int max)
    {
        var result = ImmutableDictionary.CreateBuilder<LossTask, int>();
        if (string.IsNullOrWhiteSpace(text))
            return result.ToImmutable();
        int Cap(string s) =>
            int.TryParse(s.Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n)
            && n >= 1
            && n <= max
                ? n
                : throw new UsageException($"--epochs must be between 1 and {max} (or binary=N,multiclass=M), got {text}");
        if (!text.Contains('='))
        {
            var n = Cap(text);
            result[LossTask.Binary] = n;
            result[LossTask.Multiclass] = n;
            return result.ToImmutable();
        }
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            var task = kv[0].ToLowerInvariant() switch
            {
                "binary" => LossTask.Binary,
                "multiclass" => LossTask.Multiclass,
                _ => throw new UsageException($"--epochs {text}: expected N or binary=N,multiclass=M"),
            };
            result[task] = Cap(kv.Length == 2 ? kv[1] : "");
        }
        return result.ToImmutable();
    }

    /// <summary>--epochs as given to <see cref="ParseEpochs"/>, or null when empty.</summary>
    public static string? FormatEpochs(ImmutableDictionary<LossTask, int> epochs)
    {
        if (epochs.IsEmpty)
            return null;
        if (epochs.Count == 2 && epochs[LossTask.Binary] == epochs[LossTask.Multiclass])
            return epochs[LossTask.Binary].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return string.Join(
            ",",
            epochs.OrderBy(kv => kv.Key).Select(kv => $"{(kv.Key == LossTask.Binary ? "binary" : "multiclass")}={kv.Value}")
        );
    }
}
