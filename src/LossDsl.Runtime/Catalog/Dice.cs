using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// Soft Dice loss (MONAI's <c>DiceLoss</c>): per sample and class, tp = Σp·t, and
    /// 1 - (2tp + nr) / (Σp + Σt + dr) (Jaccard: 1 - (2tp + nr) / (2(Σp + Σt - tp) + dr)), times the class
    /// weight; the Mean reduction averages over samples and kept classes.
    /// </summary>
    /// <param name="input">Logits or probabilities <c>N, C, *spatial</c> (C = 1 for binary, with <see cref="Activation.Sigmoid"/>).</param>
    /// <param name="target">Class indices <c>N, *spatial</c> or per-class targets <c>N, C, *spatial</c>.</param>
    /// <param name="activation">Sigmoid, softmax or none (probabilities given).</param>
    /// <param name="includeBackground">False drops class 0 from the loss (ignored when C = 1).</param>
    /// <param name="squaredPred">Use Σp² and Σt² in the denominator (Milletari et al.).</param>
    /// <param name="jaccard">Use the Jaccard (IoU) form.</param>
    /// <param name="batch">Sum over the batch too (one value per class) instead of per sample.</param>
    /// <param name="smoothNr">Added to the numerator.</param>
    /// <param name="smoothDr">Added to the denominator.</param>
    [Loss(LossTask.Multiclass, Name = "DiceLoss")]
    public static Expr Dice(Expr input, Expr target, Activation activation = Activation.Softmax,
                            bool includeBackground = true, bool squaredPred = false, bool jaccard = false,
                            bool batch = false, double smoothNr = 1e-5, double smoothDr = 1e-5)
    {
        var p = Activate(input, activation);
        var loss = DicePerClass(p, target, squaredPred, jaccard, batch, smoothNr, smoothDr);
        var kept = KeptClasses(includeBackground);
        return WeightedMean(ClassWeights * loss * kept, kept);
    }

    /// <summary>
    /// Generalized Dice loss (Sudre et al.): per sample, 1 - (2 Σ_c w_c tp_c + nr) / (Σ_c w_c (Σp_c + Σt_c) + dr)
    /// with w_c from the target volume Σt_c. Absent classes get weight 0 (see docs/catalog.md).
    /// </summary>
    /// <param name="input">Logits or probabilities <c>N, C, *spatial</c>.</param>
    /// <param name="target">Class indices <c>N, *spatial</c> or per-class targets <c>N, C, *spatial</c>.</param>
    /// <param name="weightType">1/(Σt)², 1/Σt or 1.</param>
    /// <param name="activation">Sigmoid, softmax or none (probabilities given).</param>
    /// <param name="includeBackground">False drops class 0 from the loss (ignored when C = 1).</param>
    /// <param name="batch">Sum over the batch too (one value for the whole batch).</param>
    /// <param name="smoothNr">Added to the numerator.</param>
    /// <param name="smoothDr">Added to the denominator.</param>
    [Loss(LossTask.Multiclass, Name = "GeneralizedDiceLoss")]
    public static Expr GeneralizedDice(Expr input, Expr target, DiceWeightType weightType = DiceWeightType.Square,
                                       Activation activation = Activation.Softmax, bool includeBackground = true,
                                       bool batch = false, double smoothNr = 1e-5, double smoothDr = 1e-5)
    {
        var p = Activate(input, activation);
        var tp = RegionSum(p * target, batch);
        var predSum = RegionSum(p, batch);
        var targetSum = RegionSum(target, batch);
        // A class with at least one pixel's worth of target (Σt >= 1) gets 1/Σt² (or 1/Σt); an absent class
        // gets 0 instead of an infinity; in between (soft targets) the weight grows with Σt.
        var volume = Max(targetSum, 1.0);
        var presence = Min(targetSum, 1.0);
        Expr w = presence / (volume * volume);
        if (weightType == DiceWeightType.Simple) w = presence / volume;
        if (weightType == DiceWeightType.Uniform) w = 1.0;
        var kept = w * KeptClasses(includeBackground);
        var numerator = 2.0 * Sum(kept * tp, Over.Classes) + smoothNr;
        var denominator = Sum(kept * (predSum + targetSum), Over.Classes) + smoothDr;
        return 1.0 - numerator / denominator;
    }

    /// <summary>
    /// Log-cosh Dice loss (Jadon): log(cosh(Dice loss)) per sample and class, with the <see cref="Dice"/> options.
    /// </summary>
    /// <param name="input">Logits or probabilities <c>N, C, *spatial</c>.</param>
    /// <param name="target">Class indices <c>N, *spatial</c> or per-class targets <c>N, C, *spatial</c>.</param>
    /// <param name="activation">Sigmoid, softmax or none (probabilities given).</param>
    /// <param name="includeBackground">False drops class 0 from the loss (ignored when C = 1).</param>
    /// <param name="batch">Sum over the batch too (one value per class).</param>
    /// <param name="smoothNr">Added to the numerator.</param>
    /// <param name="smoothDr">Added to the denominator.</param>
    [Loss(LossTask.Multiclass, Name = "LogCoshDiceLoss")]
    public static Expr LogCoshDice(Expr input, Expr target, Activation activation = Activation.Softmax,
                                   bool includeBackground = true, bool batch = false,
                                   double smoothNr = 1e-5, double smoothDr = 1e-5)
    {
        var p = Activate(input, activation);
        var loss = LogCosh(DicePerClass(p, target, false, false, batch, smoothNr, smoothDr));
        var kept = KeptClasses(includeBackground);
        return WeightedMean(ClassWeights * loss * kept, kept);
    }
}
