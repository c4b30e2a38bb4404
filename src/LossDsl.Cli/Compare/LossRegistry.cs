using System;
using System.Collections.Immutable;
using System.Linq;

namespace LossDsl.Cli.Compare;

/// <summary>One loss `lossdsl compare` can train with: its CLI name, task, and how to build it.</summary>
internal sealed record LossEntry(string Name, LossTask Task, string Description,
                                 Func<CompareTask, TrainingStats, LossFunction> Create);

/// <summary>
/// THE place where `lossdsl compare` chooses losses: CLI name → factory. Factories receive the task
/// and the training split's label statistics (foreground fraction, class fractions), so balancing
/// losses derive their weights from the data. Swapping an entry for a catalog module changes
/// nothing else in the tool.
/// </summary>
internal static class LossRegistry
{
    public static readonly ImmutableArray<LossEntry> All = ImmutableArray.Create(
        // Binary (one logit per pixel, class 1 = foreground).
        new LossEntry("bce", LossTask.Binary, "binary cross-entropy on logits",
            (_, _) => new InterimBceLoss()),
        new LossEntry("weighted-bce", LossTask.Binary, "BCE with pos_weight = negatives/positives of the training split",
            (_, stats) => new InterimBceLoss(posWeight: stats.PosWeight)),
        new LossEntry("dice", LossTask.Binary, "soft Dice on sigmoid probabilities, pooled over the batch, smooth 1",
            (_, _) => new InterimBinaryDiceLoss()),
        new LossEntry("bce-dice", LossTask.Binary, "0.5 · BCE + 0.5 · soft Dice",
            (_, _) => 0.5 * new InterimBceLoss() + 0.5 * new InterimBinaryDiceLoss()),
        new LossEntry("binary-focal", LossTask.Binary, "binary focal loss, γ = 2, α = 0.25",
            (_, _) => new InterimBinaryFocalLoss(gamma: 2.0, alpha: 0.25)),
        new LossEntry("tversky", LossTask.Binary, "Tversky loss, α = 0.3 (false positives), β = 0.7 (false negatives)",
            (_, _) => new InterimTverskyLoss(alpha: 0.3, beta: 0.7)),
        // Multiclass (C logits per pixel, class-index targets, class 0 = background).
        new LossEntry("cross-entropy", LossTask.Multiclass, "softmax cross-entropy",
            (_, _) => new InterimCrossEntropyLoss()),
        new LossEntry("weighted-cross-entropy", LossTask.Multiclass, "cross-entropy with balanced class weights 1/(C · class fraction) of the training split",
            (_, stats) => new InterimCrossEntropyLoss(stats.BalancedClassWeights)),
        new LossEntry("dice", LossTask.Multiclass, "soft Dice on softmax probabilities, per class pooled over the batch, mean over all classes",
            (_, _) => new InterimMulticlassDiceLoss()),
        new LossEntry("dice-ce", LossTask.Multiclass, "0.5 · cross-entropy + 0.5 · soft Dice",
            (_, _) => 0.5 * new InterimCrossEntropyLoss() + 0.5 * new InterimMulticlassDiceLoss()),
        new LossEntry("focal", LossTask.Multiclass, "multiclass focal loss, γ = 2",
            (_, _) => new InterimFocalLoss(gamma: 2.0)),
        new LossEntry("generalized-dice", LossTask.Multiclass, "generalized Dice, class weights 1/(Σ target)² per batch",
            (_, _) => new InterimGeneralizedDiceLoss()));

    /// <summary>The losses a task runs when --losses is not given.</summary>
    public static ImmutableArray<string> Defaults(LossTask task) => Names(task);

    /// <summary>Every loss name registered for <paramref name="task"/>, in registry order.</summary>
    public static ImmutableArray<string> Names(LossTask task) =>
        All.Where(e => e.Task == task).Select(e => e.Name).ToImmutableArray();

    /// <summary>The entry named <paramref name="name"/> for <paramref name="task"/>, or null.</summary>
    public static LossEntry? Find(LossTask task, string name) =>
        All.FirstOrDefault(e => e.Task == task && string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));
}
