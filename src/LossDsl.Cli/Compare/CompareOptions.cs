using System.Collections.Immutable;

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
/// <param name="Epochs">Training epochs per run.</param>
/// <param name="Seed">The data seed and the first training seed.</param>
/// <param name="Seeds">Training seeds: Seed, Seed + 1, ….</param>
/// <param name="TrainImages">Training images generated per task (synthetic data).</param>
/// <param name="HeldOutImages">Held-out images generated per task (synthetic data).</param>
/// <param name="DataDir">User data directory, or null for the built-in synthetic data.</param>
/// <param name="OutDir">Where report.md and the plots go.</param>
/// <param name="CommandLine">The command line as given, for the report.</param>
internal sealed record CompareOptions(
    TaskChoice Task,
    ImmutableArray<string> Losses,
    int Epochs,
    int Seed,
    int Seeds,
    int TrainImages,
    int HeldOutImages,
    string? DataDir,
    string OutDir,
    string CommandLine)
{
    /// <summary>Default epochs: sized so the default run (both tasks, 3 seeds) stays within a few minutes on 2 cores.</summary>
    public const int DefaultEpochs = 8;

    /// <summary>Default number of training seeds.</summary>
    public const int DefaultSeeds = 3;

    /// <summary>Default data seed and first training seed.</summary>
    public const int DefaultSeed = 1;

    /// <summary>Default training images per synthetic task.</summary>
    public const int DefaultTrainImages = 40;

    /// <summary>Default held-out images per synthetic task.</summary>
    public const int DefaultHeldOutImages = 16;

    /// <summary>Default output directory.</summary>
    public const string DefaultOutDir = "lossdsl-report";

    /// <summary>Training seeds, in order.</summary>
    public ImmutableArray<int> TrainingSeeds
    {
        get
        {
            var b = ImmutableArray.CreateBuilder<int>(Seeds);
            for (var i = 0; i < Seeds; i++) b.Add(Seed + i);
            return b.MoveToImmutable();
        }
    }
}
