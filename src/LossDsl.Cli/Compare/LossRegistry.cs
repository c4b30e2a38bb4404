using System;
using System.Collections.Immutable;
using System.Linq;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>One loss `lossdsl compare` can train with: its CLI name, task, and how to build it.</summary>
/// <param name="Name">The CLI name (as in the catalog's documentation).</param>
/// <param name="Task">The task (layout) it is registered for.</param>
/// <param name="Description">One line for the report: module and options.</param>
/// <param name="Create">Builds the loss from the training split's label statistics.</param>
internal sealed record LossEntry(string Name, LossTask Task, string Description,
                                 Func<TrainingStats, LossFunction> Create);

/// <summary>
/// THE place where `lossdsl compare` chooses losses: CLI name → catalog module with its options.
/// Factories receive the training split's label statistics, so balancing losses derive their
/// weights from the data. Binary inputs are logits N,1,H,W with float targets N,1,H,W; multiclass
/// inputs are logits N,C,H,W with int64 class indices N,H,W; masks are N,H,W.
/// </summary>
internal static class LossRegistry
{
    /// <summary>Every registered loss, binary first, in report order.</summary>
    public static readonly ImmutableArray<LossEntry> All = ImmutableArray.Create(
        // Binary (one logit per pixel, class 1 = foreground).
        new LossEntry("bce", LossTask.Binary, "BceLoss()",
            _ => new BceLoss()),
        new LossEntry("weighted-bce", LossTask.Binary, "BceLoss(posWeight = negatives/positives of the training split)",
            stats => new BceLoss(posWeight: stats.PosWeight)),
        new LossEntry("binary-focal", LossTask.Binary, "BinaryFocalLoss(gamma = 2, alpha = 0.25)",
            _ => new BinaryFocalLoss(gamma: 2.0, alpha: 0.25)),
        new LossEntry("dice", LossTask.Binary, "DiceLoss(activation = Sigmoid, batch = true, smooth 1)",
            _ => new DiceLoss(activation: Activation.Sigmoid, batch: true, smoothNr: 1.0, smoothDr: 1.0)),
        new LossEntry("bce-dice", LossTask.Binary, "BceDiceLoss(diceWeight = 0.5)",
            _ => new BceDiceLoss(diceWeight: 0.5)),
        new LossEntry("tversky", LossTask.Binary, "TverskyLoss(alpha = 0.3, beta = 0.7, batch = true, smooth 1)",
            _ => new TverskyLoss(alpha: 0.3, beta: 0.7, activation: Activation.Sigmoid, batch: true, smoothNr: 1.0, smoothDr: 1.0)),
        // Multiclass (C logits per pixel, class-index targets, class 0 = background).
        new LossEntry("cross-entropy", LossTask.Multiclass, "CrossEntropyLoss()",
            _ => new CrossEntropyLoss()),
        new LossEntry("weighted-cross-entropy", LossTask.Multiclass, "CrossEntropyLoss with class weights 1/(C · class fraction) of the training split",
            stats => new CrossEntropyLoss { ClassWeights = tensor(stats.BalancedClassWeights.Select(w => (float)w).ToArray()) }),
        new LossEntry("focal", LossTask.Multiclass, "FocalLoss(gamma = 2)",
            _ => new FocalLoss(gamma: 2.0)),
        new LossEntry("dice", LossTask.Multiclass, "DiceLoss(activation = Softmax, batch = true, smooth 1)",
            _ => new DiceLoss(activation: Activation.Softmax, batch: true, smoothNr: 1.0, smoothDr: 1.0)),
        new LossEntry("generalized-dice", LossTask.Multiclass, "GeneralizedDiceLoss(weightType = Square, batch = true)",
            _ => new GeneralizedDiceLoss(batch: true)),
        new LossEntry("dice-ce", LossTask.Multiclass, "DiceCeLoss(lambdaDice = 1, lambdaCe = 1)",
            _ => new DiceCeLoss()));

    /// <summary>The losses a task runs when --losses is not given: all of them.</summary>
    public static ImmutableArray<string> Defaults(LossTask task) => Names(task);

    /// <summary>Every loss name registered for <paramref name="task"/>, in registry order.</summary>
    public static ImmutableArray<string> Names(LossTask task) =>
        All.Where(e => e.Task == task).Select(e => e.Name).ToImmutableArray();

    /// <summary>Every loss name of any task, without repeats, in registry order.</summary>
    public static ImmutableArray<string> AllNames() => All.Select(e => e.Name).Distinct().ToImmutableArray();

    /// <summary>The entry named <paramref name="name"/> for <paramref name="task"/>, or null.</summary>
    public static LossEntry? Find(LossTask task, string name) =>
        All.FirstOrDefault(e => e.Task == task && string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));
}
