using System;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>One loss `lossdsl compare` can train with: its CLI name, task, and how to build it.</summary>
/// <param name="Name">The CLI name (as in the catalog's documentation).</param>
/// <param name="Task">The task (layout) it is registered for.</param>
/// <param name="Description">One line for the report: module and options.</param>
/// <param name="Create">Builds the loss from the training split's label statistics, with any tensor it holds (class weights) on the given device.</param>
/// <param name="CSharp">The C# expression that builds the same loss, with the statistics' values filled in.</param>
internal sealed record LossEntry(
    string Name,
    LossTask Task,
    string Description,
    Func<TrainingStats, Device, LossFunction> Create,
    Func<TrainingStats, string> CSharp
);

/// <summary>
/// THE place where `lossdsl compare` chooses losses: CLI name → catalog module with its options.
/// Factories receive the training split's label statistics, so balancing losses derive their
/// weights from the data. Binary inputs are logits N,1,H,W with float targets N,1,H,W; multiclass
/// inputs are logits N,C,H,W with int64 class indices N,H,W; masks are N,H,W.
/// </summary>
internal static class LossRegistry
{
    /// <summary>A number as C# source: "20", "0.25", "98.7".</summary>
    public static string Num(double v) => v.ToString(Math.Abs(v) >= 10 ? "0.#" : "0.###", CultureInfo.InvariantCulture);

    /// <summary>Class weights as a C# expression.</summary>
    public static string WeightsCs(ImmutableArray<double> w) =>
        "torch.tensor(new float[] { " + string.Join(", ", w.Select(x => Num(x) + "f")) + " })";

    private static string WeightsText(ImmutableArray<double> w) => string.Join(", ", w.Select(Num));

    /// <summary>Weighted BCE with a given positive weight.</summary>
    public static LossEntry Bce(string name, double posWeight) =>
        new(
            name,
            LossTask.Binary,
            $"BceLoss(posWeight = {Num(posWeight)})",
            (_, _) => new BceLoss(posWeight: posWeight),
            _ => $"new BceLoss(posWeight: {Num(posWeight)})"
        );

    /// <summary>Binary focal loss.</summary>
    public static LossEntry BinaryFocal(string name, double gamma, double alpha) =>
        new(
            name,
            LossTask.Binary,
            $"BinaryFocalLoss(gamma = {Num(gamma)}, alpha = {Num(alpha)})",
            (_, _) => new BinaryFocalLoss(gamma: gamma, alpha: alpha),
            _ => $"new BinaryFocalLoss(gamma: {Num(gamma)}, alpha: {Num(alpha)})"
        );

    /// <summary>BCE + Dice blend.</summary>
    public static LossEntry BceDice(string name, double diceWeight) =>
        new(
            name,
            LossTask.Binary,
            $"BceDiceLoss(diceWeight = {Num(diceWeight)})",
            (_, _) => new BceDiceLoss(diceWeight: diceWeight),
            _ => $"new BceDiceLoss(diceWeight: {Num(diceWeight)})"
        );

    /// <summary>Binary Tversky loss (batch, smoothing 1).</summary>
    public static LossEntry Tversky(string name, double alpha, double beta) =>
        new(
            name,
            LossTask.Binary,
            $"TverskyLoss(alpha = {Num(alpha)}, beta = {Num(beta)}, batch = true, smooth 1)",
            (_, _) => new TverskyLoss(alpha: alpha, beta: beta, activation: Activation.Sigmoid, batch: true, smoothNr: 1.0, smoothDr: 1.0),
            _ =>
                $"new TverskyLoss(alpha: {Num(alpha)}, beta: {Num(beta)}, activation: Activation.Sigmoid, batch: true, smoothNr: 1, smoothDr: 1)"
        );

    /// <summary>Cross-entropy with class weights (1/(C · fraction))^power of the training split (power 0: unweighted).</summary>
    public static LossEntry WeightedCe(string name, double power) =>
        new(
            name,
            LossTask.Multiclass,
            power == 0
                ? "CrossEntropyLoss()"
                : $"CrossEntropyLoss with class weights (1/(C · class fraction))^{Num(power)} of the training split",
            (stats, device) =>
                power == 0
                    ? new CrossEntropyLoss()
                    : new CrossEntropyLoss { ClassWeights = tensor(Powered(stats, power).Select(w => (float)w).ToArray(), device: device) },
            stats => power == 0 ? "new CrossEntropyLoss()" : $"new CrossEntropyLoss {{ ClassWeights = {WeightsCs(Powered(stats, power))} }}"
        );

    private static ImmutableArray<double> Powered(TrainingStats stats, double power) =>
        stats.BalancedClassWeights.Select(w => Math.Pow(w, power)).ToImmutableArray();

    /// <summary>Softmax focal loss.</summary>
    public static LossEntry Focal(string name, double gamma) =>
        new(
            name,
            LossTask.Multiclass,
            $"FocalLoss(gamma = {Num(gamma)})",
            (_, _) => new FocalLoss(gamma: gamma),
            _ => $"new FocalLoss(gamma: {Num(gamma)})"
        );

    /// <summary>Dice + cross-entropy.</summary>
    public static LossEntry DiceCe(string name, double lambdaDice, double lambdaCe) =>
        new(
            name,
            LossTask.Multiclass,
            $"DiceCeLoss(lambdaDice = {Num(lambdaDice)}, lambdaCe = {Num(lambdaCe)})",
            (_, _) => new DiceCeLoss(lambdaDice: lambdaDice, lambdaCe: lambdaCe),
            _ => $"new DiceCeLoss(lambdaDice: {Num(lambdaDice)}, lambdaCe: {Num(lambdaCe)})"
        );

    /// <summary>Generalized Dice with a weight type.</summary>
    public static LossEntry GeneralizedDice(string name, DiceWeightType type) =>
        new(
            name,
            LossTask.Multiclass,
            $"GeneralizedDiceLoss(weightType = {type}, batch = true)",
            (_, _) => new GeneralizedDiceLoss(weightType: type, batch: true),
            _ =>
                type == DiceWeightType.Square
                    ? "new GeneralizedDiceLoss(batch: true)"
                    : $"new GeneralizedDiceLoss(weightType: DiceWeightType.{type}, batch: true)"
        );

    /// <summary>Every registered loss, binary first, in report order.</summary>
    public static readonly ImmutableArray<LossEntry> All = ImmutableArray.Create(
        // Binary (one logit per pixel, class 1 = foreground).
        new LossEntry("bce", LossTask.Binary, "BceLoss()", (_, _) => new BceLoss(), _ => "new BceLoss()"),
        new LossEntry(
            "weighted-bce",
            LossTask.Binary,
            "BceLoss(posWeight = negatives/positives of the training split)",
            (stats, _) => new BceLoss(posWeight: stats.PosWeight),
            stats => $"new BceLoss(posWeight: {Num(stats.PosWeight)})"
        ),
        BinaryFocal("binary-focal", 2.0, 0.25),
        new LossEntry(
            "dice",
            LossTask.Binary,
            "DiceLoss(activation = Sigmoid, batch = true, smooth 1)",
            (_, _) => new DiceLoss(activation: Activation.Sigmoid, batch: true, smoothNr: 1.0, smoothDr: 1.0),
            _ => "new DiceLoss(activation: Activation.Sigmoid, batch: true, smoothNr: 1, smoothDr: 1)"
        ),
        BceDice("bce-dice", 0.5),
        Tversky("tversky", 0.3, 0.7),
        // Multiclass (C logits per pixel, class-index targets, class 0 = background).
        new LossEntry(
            "cross-entropy",
            LossTask.Multiclass,
            "CrossEntropyLoss()",
            (_, _) => new CrossEntropyLoss(),
            _ => "new CrossEntropyLoss()"
        ),
        new LossEntry(
            "weighted-cross-entropy",
            LossTask.Multiclass,
            "CrossEntropyLoss with class weights 1/(C · class fraction) of the training split",
            (stats, device) =>
                new CrossEntropyLoss { ClassWeights = tensor(stats.BalancedClassWeights.Select(w => (float)w).ToArray(), device: device) },
            stats => $"new CrossEntropyLoss {{ ClassWeights = {WeightsCs(stats.BalancedClassWeights)} }}"
        ),
        Focal("focal", 2.0),
        new LossEntry(
            "dice",
            LossTask.Multiclass,
            "DiceLoss(activation = Softmax, batch = true, smooth 1)",
            (_, _) => new DiceLoss(activation: Activation.Softmax, batch: true, smoothNr: 1.0, smoothDr: 1.0),
            _ => "new DiceLoss(activation: Activation.Softmax, batch: true, smoothNr: 1, smoothDr: 1)"
        ),
        GeneralizedDice("generalized-dice", DiceWeightType.Square),
        DiceCe("dice-ce", 1.0, 1.0)
    );

    /// <summary>The losses a task runs when --losses is not given: all of them.</summary>
    public static ImmutableArray<string> Defaults(LossTask task) => Names(task);

    /// <summary>Every loss name registered for <paramref name="task"/>, in registry order.</summary>
    public static ImmutableArray<string> Names(LossTask task) => All.Where(e => e.Task == task).Select(e => e.Name).ToImmutableArray();

    /// <summary>Every loss name of any task, without repeats, in registry order.</summary>
    public static ImmutableArray<string> AllNames() => All.Select(e => e.Name).Distinct().ToImmutableArray();

    /// <summary>The entry named <paramref name="name"/> for <paramref name="task"/>, or null.</summary>
    public static LossEntry? Find(LossTask task, string name) =>
        All.FirstOrDefault(e => e.Task == task && string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>One option setting of a sweep: a new loss to train, or a loss the main comparison already trained.</summary>
/// <param name="Entry">The loss with this setting.</param>
/// <param name="Reuse">Name of the main comparison's loss with exactly this setting (its runs are reused), or null.</param>
internal sealed record SweepVariant(LossEntry Entry, string? Reuse);

/// <summary>A sweep over the main option of one loss family.</summary>
/// <param name="Option">What is swept, for the report ("posWeight", "gamma and alpha", …).</param>
/// <param name="Variants">The settings, the recommended loss among them.</param>
internal sealed record SweepPlan(string Option, ImmutableArray<SweepVariant> Variants)
{
    /// <summary>Settings that need new training runs.</summary>
    public int NewVariants => Variants.Count(v => v.Reuse is null);
}

/// <summary>
/// `--sweep`: the settings tried for the family of the recommended loss. At most <see cref="MaxNew"/>
/// settings need new runs, so the budget can reserve them before the main comparison knows which
/// family it will be.
/// </summary>
internal static class Sweeps
{
    /// <summary>Most new settings a sweep trains.</summary>
    public const int MaxNew = 4;

    /// <summary>The sweep for <paramref name="loss"/> (a registered loss of <paramref name="task"/>).</summary>
    public static SweepPlan For(LossTask task, string loss, TrainingStats stats)
    {
        static SweepVariant New(LossEntry e) => new(e, null);
        static SweepVariant Old(string name, LossTask task) => new(LossRegistry.Find(task, name)!, name);
        var b = LossTask.Binary;
        var m = LossTask.Multiclass;
        switch (task, loss)
        {
            case (LossTask.Binary, "bce" or "weighted-bce"):
            {
                // posWeight from 1 (plain BCE) to negatives/positives, evenly on a log scale.
                var r = Math.Max(stats.PosWeight, 1.0);
                var w = new[] { 0.25, 0.5, 0.75 }.Select(f => Math.Round(Math.Pow(r, f), 1)).ToArray();
                return new SweepPlan(
                    "posWeight (1 = plain BCE … negatives/positives = weighted BCE)",
                    ImmutableArray.Create(
                        Old("bce", b),
                        New(LossRegistry.Bce($"bce(posWeight={LossRegistry.Num(w[0])})", w[0])),
                        New(LossRegistry.Bce($"bce(posWeight={LossRegistry.Num(w[1])})", w[1])),
                        New(LossRegistry.Bce($"bce(posWeight={LossRegistry.Num(w[2])})", w[2])),
                        Old("weighted-bce", b)
                    )
                );
            }
            case (LossTask.Binary, "binary-focal"):
                return new SweepPlan(
                    "alpha and gamma",
                    ImmutableArray.Create(
                        Old("binary-focal", b),
                        New(LossRegistry.BinaryFocal("focal(gamma=2,alpha=0.5)", 2, 0.5)),
                        New(LossRegistry.BinaryFocal("focal(gamma=2,alpha=0.75)", 2, 0.75)),
                        New(LossRegistry.BinaryFocal("focal(gamma=1,alpha=0.75)", 1, 0.75)),
                        New(LossRegistry.BinaryFocal("focal(gamma=3,alpha=0.75)", 3, 0.75))
                    )
                );
            case (LossTask.Binary, "bce-dice"):
                return new SweepPlan(
                    "diceWeight (0 = BCE … 1 = Dice)",
                    ImmutableArray.Create(
                        New(LossRegistry.BceDice("bce-dice(diceWeight=0.1)", 0.1)),
                        New(LossRegistry.BceDice("bce-dice(diceWeight=0.25)", 0.25)),
                        Old("bce-dice", b),
                        New(LossRegistry.BceDice("bce-dice(diceWeight=0.75)", 0.75)),
                        New(LossRegistry.BceDice("bce-dice(diceWeight=0.9)", 0.9))
                    )
                );
            case (LossTask.Binary, "dice" or "tversky"):
                // Tversky generalises Dice (alpha = beta = 0.5): sweep the false-positive/false-negative balance.
                return new SweepPlan(
                    "Tversky alpha/beta (false-positive vs false-negative weight; 0.5/0.5 = Dice)",
                    ImmutableArray.Create(
                        New(LossRegistry.Tversky("tversky(alpha=0.7,beta=0.3)", 0.7, 0.3)),
                        Old("dice", b),
                        Old("tversky", b),
                        New(LossRegistry.Tversky("tversky(alpha=0.2,beta=0.8)", 0.2, 0.8)),
                        New(LossRegistry.Tversky("tversky(alpha=0.1,beta=0.9)", 0.1, 0.9))
                    )
                );
            case (LossTask.Multiclass, "cross-entropy" or "weighted-cross-entropy"):
                return new SweepPlan(
                    "class-weight power p, weights (1/(C · class fraction))^p (0 = cross-entropy, 1 = weighted)",
                    ImmutableArray.Create(
                        Old("cross-entropy", m),
                        New(LossRegistry.WeightedCe("cross-entropy(p=0.25)", 0.25)),
                        New(LossRegistry.WeightedCe("cross-entropy(p=0.5)", 0.5)),
                        New(LossRegistry.WeightedCe("cross-entropy(p=0.75)", 0.75)),
                        Old("weighted-cross-entropy", m)
                    )
                );
            case (LossTask.Multiclass, "focal"):
                return new SweepPlan(
                    "gamma",
                    ImmutableArray.Create(
                        New(LossRegistry.Focal("focal(gamma=0.5)", 0.5)),
                        New(LossRegistry.Focal("focal(gamma=1)", 1)),
                        Old("focal", m),
                        New(LossRegistry.Focal("focal(gamma=3)", 3)),
                        New(LossRegistry.Focal("focal(gamma=5)", 5))
                    )
                );
            case (LossTask.Multiclass, "dice" or "dice-ce"):
                return new SweepPlan(
                    "the cross-entropy weight lambdaCe of DiceCeLoss (Dice weight 1)",
                    ImmutableArray.Create(
                        Old("dice", m),
                        New(LossRegistry.DiceCe("dice-ce(lambdaCe=0.25)", 1, 0.25)),
                        New(LossRegistry.DiceCe("dice-ce(lambdaCe=0.5)", 1, 0.5)),
                        Old("dice-ce", m),
                        New(LossRegistry.DiceCe("dice-ce(lambdaCe=2)", 1, 2))
                    )
                );
            case (LossTask.Multiclass, "generalized-dice"):
                return new SweepPlan(
                    "weightType (class weights 1/(Σ target)², 1/Σ target, 1)",
                    ImmutableArray.Create(
                        Old("generalized-dice", m),
                        New(LossRegistry.GeneralizedDice("generalized-dice(Simple)", DiceWeightType.Simple)),
                        New(LossRegistry.GeneralizedDice("generalized-dice(Uniform)", DiceWeightType.Uniform))
                    )
                );
            default:
                throw new ArgumentException($"no sweep for {task} loss '{loss}'", nameof(loss));
        }
    }
}
