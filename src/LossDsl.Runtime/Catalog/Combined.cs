using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// Weighted BCE plus soft Dice for binary segmentation: (1 - diceWeight)·BCE + diceWeight·(1 - Dice),
    /// both per sample (BCE averaged over the sample's valid pixels), then averaged over the batch.
    /// </summary>
    [Loss(LossTask.Binary, Name = "BceDiceLoss")]
    public static Expr BceDice(Expr input, Expr target, double diceWeight = 0.5, double posWeight = 1.0, double smooth = 1.0)
    {
        Require(diceWeight >= 0 && diceWeight <= 1, "diceWeight must be in [0, 1]");
        Require(smooth >= 0, "smooth must be >= 0");
        var bce = Mean(Bce(input, target, true, posWeight, 1.0, 0.0), Over.Spatial);
        var p = Sigmoid(input);
        var dice = 1 - (2 * Sum(p * target, Over.Spatial) + smooth) / (Sum(p + target, Over.Spatial) + smooth);
        return (1 - diceWeight) * bce + diceWeight * dice;
    }

    /// <summary>
    /// Dice plus cross-entropy (MONAI's DiceCELoss): λ_dice·mean over classes of (1 - Dice) of the
    /// activated input (softmax by default; None is MONAI's default) + λ_ce·mean over pixels of the
    /// softmax cross-entropy, per sample, then averaged over the batch.
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "DiceCeLoss")]
    public static Expr DiceCe(
        Expr input,
        Expr target,
        double lambdaDice = 1.0,
        double lambdaCe = 1.0,
        bool includeBackground = true,
        double smoothNr = 1e-5,
        double smoothDr = 1e-5,
        Activation activation = Activation.Softmax
    )
    {
        Require(lambdaDice >= 0, "lambdaDice must be >= 0");
        Require(lambdaCe >= 0, "lambdaCe must be >= 0");
        var y = OneHot(target);
        var ce = Mean(-Sum(y * LogSoftmax(input), Over.Classes), Over.Spatial);
        var f = DiceTerm(Activate(input, activation), y, false, false, false, smoothNr, smoothDr);
        var dice = includeBackground ? Mean(f, Over.Classes) : Sum(f * Min(ClassIndex, 1), Over.Classes) / (NumClasses - 1);
        return lambdaDice * dice + lambdaCe * ce;
    }

    /// <summary>
    /// Dice plus focal loss (MONAI's DiceFocalLoss): λ_dice·mean over classes of (1 - Dice) of the activated input
    /// (softmax by default) + λ_focal·focal, per sample, then averaged. The focal part is the softmax focal loss,
    /// mean over pixels of Σ_c (1 - p_c)^γ (-y_c log p_c), or with <paramref name="focalActivation"/> Sigmoid the
    /// sigmoid focal loss of every channel against its one-hot target, averaged over the (included) classes and
    /// pixels: what MONAI's DiceFocalLoss computes (it never passes use_softmax to its FocalLoss).
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "DiceFocalLoss")]
    public static Expr DiceFocal(
        Expr input,
        Expr target,
        double lambdaDice = 1.0,
        double lambdaFocal = 1.0,
        double gamma = 2.0,
        bool includeBackground = true,
        double smoothNr = 1e-5,
        double smoothDr = 1e-5,
        Activation activation = Activation.Softmax,
        Activation focalActivation = Activation.Softmax
    )
    {
        Require(lambdaDice >= 0, "lambdaDice must be >= 0");
        Require(lambdaFocal >= 0, "lambdaFocal must be >= 0");
        Require(gamma >= 0, "gamma must be >= 0");
        Require(focalActivation != Activation.None, "focalActivation must be Softmax or Sigmoid (the focal part needs logits)");
        var y = OneHot(target);
        Expr focal;
        if (focalActivation == Activation.Sigmoid)
        {
            var perClass = SigmoidFocalTerm(input, y, gamma);
            focal = includeBackground
                ? Mean(Mean(perClass, Over.Classes), Over.Spatial)
                : Mean(Sum(perClass * Min(ClassIndex, 1), Over.Classes) / (NumClasses - 1), Over.Spatial);
        }
        else
        {
            var logp = LogSoftmax(input);
            focal = Mean(Sum(y * Pow(1 - Exp(logp), gamma) * -logp, Over.Classes), Over.Spatial);
        }
        var f = DiceTerm(Activate(input, activation), y, false, false, false, smoothNr, smoothDr);
        var dice = includeBackground ? Mean(f, Over.Classes) : Sum(f * Min(ClassIndex, 1), Over.Classes) / (NumClasses - 1);
        return lambdaDice * dice + lambdaFocal * focal;
    }
}
