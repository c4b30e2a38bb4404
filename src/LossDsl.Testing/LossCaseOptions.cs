using System;

namespace LossDsl.Testing;

/// <summary>Which target kinds a generator may draw.</summary>
[Flags]
public enum TargetKinds
{
    /// <summary>0/1 floats (binary masks, one-hot).</summary>
    Hard = 1,

    /// <summary>Soft floats in [0, 1] (per-pixel distributions for multiclass).</summary>
    Soft = 2,

    /// <summary>int64 class indices (multiclass only; ignored for binary).</summary>
    Index = 4,

    /// <summary>Hard or index targets: what laws about perfect predictions need.</summary>
    HardOrIndex = Hard | Index,

    /// <summary>Every kind.</summary>
    Any = Hard | Soft | Index,
}

/// <summary>Which validity masks a generator may draw.</summary>
[Flags]
public enum MaskKinds
{
    /// <summary>No mask at all.</summary>
    None = 1,

    /// <summary>A mask with every pixel valid.</summary>
    Full = 2,

    /// <summary>A mask with no valid pixel.</summary>
    Empty = 4,

    /// <summary>A random sparse mask (10 % to 90 % valid).</summary>
    Sparse = 8,

    /// <summary>Some mask or none, but never an empty one.</summary>
    NonEmpty = None | Full | Sparse,

    /// <summary>Every kind.</summary>
    Any = None | Full | Empty | Sparse,
}

/// <summary>How large the generated input values are.</summary>
public enum LogitRange
{
    /// <summary>Logits in [-scale, scale] only.</summary>
    Moderate,

    /// <summary>Mostly moderate, with about one value in six from ±100, ±30, ±15 or 0.</summary>
    WithExtremes,

    /// <summary>Only extreme values: ±100, ±50, ±30 (and 0); probabilities of exactly 0 and 1 and their neighbours.</summary>
    Extreme,
}

/// <summary>
/// What <see cref="LossGen.Cases"/> draws. The defaults (<see cref="For"/>) cover the layouts every loss must
/// accept: batch 1–4, 1-D/2-D/3-D spatial axes, 2–6 classes (1 for binary), every target and mask kind,
/// logits with occasional extremes. Tensors stay small (at most 64 pixels per sample) so a property with
/// a hundred cases runs in a fraction of a second.
/// </summary>
public sealed record LossCaseOptions
{
    /// <summary>The layout: binary (C = 1) or multiclass.</summary>
    public LossTask Task { get; init; } = LossTask.Binary;

    /// <summary>Smallest batch size.</summary>
    public int MinBatch { get; init; } = 1;

    /// <summary>Largest batch size.</summary>
    public int MaxBatch { get; init; } = 4;

    /// <summary>Smallest number of classes (multiclass; binary is always 1).</summary>
    public int MinClasses { get; init; } = 2;

    /// <summary>Largest number of classes (multiclass; binary is always 1).</summary>
    public int MaxClasses { get; init; } = 6;

    /// <summary>Spatial ranks to draw from (each 1, 2 or 3).</summary>
    public int[] SpatialRanks { get; init; } = { 1, 2, 3 };

    /// <summary>Largest extent of one spatial axis for 1-D (2-D and 3-D use smaller extents: at most 4 and 3).</summary>
    public int MaxLength { get; init; } = 8;

    /// <summary>Target kinds to draw from (Index is ignored for binary).</summary>
    public TargetKinds Targets { get; init; } = TargetKinds.Any;

    /// <summary>Masks to draw from.</summary>
    public MaskKinds Masks { get; init; } = MaskKinds.Any;

    /// <summary>Whether the input holds logits or probabilities.</summary>
    public InputSpace Input { get; init; } = InputSpace.Logits;

    /// <summary>How large the input values get.</summary>
    public LogitRange Range { get; init; } = LogitRange.WithExtremes;

    /// <summary>Moderate logits lie in [-Scale, Scale].</summary>
    public double Scale { get; init; } = 4;

    /// <summary>Whether to draw class weights (positive, 0.1 to 5) for every case.</summary>
    public bool ClassWeights { get; init; }

    /// <summary>The defaults for a layout.</summary>
    public static LossCaseOptions For(LossTask task) => new() { Task = task };

    /// <summary>Checks the options are consistent; throws <see cref="ArgumentException"/> naming the culprit.</summary>
    public void Validate()
    {
        if (MinBatch < 1 || MaxBatch < MinBatch)
            throw new ArgumentException($"LossCaseOptions: batch range [{MinBatch}, {MaxBatch}] is empty or below 1.");
        if (Task == LossTask.Multiclass && (MinClasses < 1 || MaxClasses < MinClasses))
            throw new ArgumentException($"LossCaseOptions: class range [{MinClasses}, {MaxClasses}] is empty or below 1.");
        if (SpatialRanks.Length == 0 || Array.Exists(SpatialRanks, r => r < 1 || r > 3))
            throw new ArgumentException(
                $"LossCaseOptions: spatial ranks must be a non-empty subset of {{1, 2, 3}}, got {{{string.Join(", ", SpatialRanks)}}}."
            );
        if (MaxLength < 1)
            throw new ArgumentException($"LossCaseOptions: MaxLength must be at least 1, got {MaxLength}.");
        var targets = Task == LossTask.Binary ? Targets & ~TargetKinds.Index : Targets;
        if (targets == 0)
            throw new ArgumentException($"LossCaseOptions: no target kind left to draw for a {Task} loss (Targets = {Targets}).");
        if ((Masks & MaskKinds.Any) == 0)
            throw new ArgumentException("LossCaseOptions: no mask kind to draw (Masks = 0).");
        if (!(Scale > 0) || double.IsInfinity(Scale))
            throw new ArgumentException($"LossCaseOptions: Scale must be positive and finite, got {Scale}.");
    }
}
