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
    /// Dice plus cross-entropy (MONAI's DiceCELoss): λ_dice·(mean over the included classes of w_c·(1 - Dice_c) of
    /// the activated input; softmax by default, None is MONAI's default) + λ_ce·the softmax cross-entropy with
    /// torch's class weights and label smoothing. The cross-entropy is torch's weighted mean over the batch's valid
    /// pixels, Σ w_y·ℓ / Σ w_y: each sample contributes Σ_s w_y·ℓ divided by the batch mean of Σ_s w_y, so the mean
    /// over samples is exactly that value (and, without weights or mask, the per-pixel mean). The Dice options are
    /// DiceLoss's (<paramref name="squaredPred"/>, <paramref name="jaccard"/>, <paramref name="batch"/>).
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
        Activation activation = Activation.Softmax,
        bool squaredPred = false,
        bool jaccard = false,
        bool batch = false,
        double labelSmoothing = 0.0
    )
    {
        Require(lambdaDice >= 0, "lambdaDice must be >= 0");
        Require(lambdaCe >= 0, "lambdaCe must be >= 0");
        Require(labelSmoothing >= 0 && labelSmoothing <= 1, "labelSmoothing must be in [0, 1]");
        var y = OneHot(target);
        var nll = -LogSoftmax(input);
        var hard = Sum(ClassWeights * y * nll, Over.Classes);
        var perPixel =
            labelSmoothing > 0 ? (1 - labelSmoothing) * hard + labelSmoothing / NumClasses * Sum(ClassWeights * nll, Over.Classes) : hard;
        var meanWeight = Mean(Sum(Sum(ClassWeights * y, Over.Classes), Over.Spatial), Over.Batch);
        // A batch without valid pixels (or with zero weights only) has Σ w_y = 0 and a cross-entropy of 0.
        var softmaxCe = Sum(perPixel, Over.Spatial) / Max(meanWeight, 1e-12);
        var f = DiceTerm(Activate(input, activation), y, squaredPred, jaccard, batch, smoothNr, smoothDr, false);
        if (activation == Activation.Softmax)
            return lambdaDice * ClassAverage(f * ClassWeights, includeBackground) + lambdaCe * softmaxCe;
        // With a sigmoid (or no) activation one channel is MONAI's binary case (a softmax Dice needs two channels, so
        // the default pays nothing for it): the cross-entropy becomes BCE with logits, the class weight its pos_weight,
        // averaged over the sample's valid pixels (label smoothing is CE's only), and the Dice part is unweighted.
        // oneChannel is 1 there and 0 for C ≥ 2 (the number of channels is known per call).
        var oneChannel = 1 - Min(NumClasses - 1, 1);
        var bce = Mean(ClassWeights * y * Softplus(-input) + (1 - y) * Softplus(input), Over.Sample);
        var ce = (1 - oneChannel) * softmaxCe + oneChannel * bce;
        var dice = ClassAverage(f * ((1 - oneChannel) * ClassWeights + oneChannel), includeBackground);
        return lambdaDice * dice + lambdaCe * ce;
    }

    /// <summary>The mean over the included classes (every class, or all but class 0) of per-class values.</summary>
    public static Expr ClassAverage(Expr perClass, bool includeBackground) =>
        includeBackground ? Mean(perClass, Over.Classes) : Sum(perClass * Min(ClassIndex, 1), Over.Classes) / (NumClasses - 1);

    /// <summary>
    /// Dice plus focal loss (MONAI's DiceFocalLoss): λ_dice·(mean over the included classes of w_c·(1 - Dice_c) of
    /// the activated input; softmax by default) + λ_focal·focal, per sample, then averaged. The focal part is the
    /// softmax focal loss, mean over pixels of Σ_c w_c·α_c·(1 - p_c)^γ (-y_c log p_c), or with
    /// <paramref name="focalActivation"/> Sigmoid the sigmoid focal loss of every channel against its one-hot
    /// target, w_c·α_t·BCE·(1 - p_t)^γ averaged over the (included) classes and pixels: what MONAI's DiceFocalLoss
    /// computes (it never passes use_softmax to its FocalLoss). <paramref name="alpha"/> ≥ 0 balances as MONAI's
    /// FocalLoss does: α for positives and 1 - α for negatives (sigmoid), 1 - α for class 0 and α for the others
    /// (softmax); negative turns it off. w_c are the class weights (MONAI's <c>weight</c>, used by both parts).
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
        Activation focalActivation = Activation.Softmax,
        double alpha = -1.0,
        bool squaredPred = false,
        bool jaccard = false,
        bool batch = false
    )
    {
        Require(lambdaDice >= 0, "lambdaDice must be >= 0");
        Require(lambdaFocal >= 0, "lambdaFocal must be >= 0");
        Require(gamma >= 0, "gamma must be >= 0");
        Require(alpha <= 1, "alpha must be in [0, 1] (or negative for no α-balancing)");
        Require(focalActivation != Activation.None, "focalActivation must be Softmax or Sigmoid (the focal part needs logits)");
        var y = OneHot(target);
        Expr focal;
        if (focalActivation == Activation.Sigmoid)
        {
            var term = SigmoidFocalTerm(input, y, gamma);
            var balanced = alpha >= 0 ? (alpha * y + (1 - alpha) * (1 - y)) * term : term;
            focal = Mean(ClassAverage(ClassWeights * balanced, includeBackground), Over.Spatial);
        }
        else
        {
            var logp = LogSoftmax(input);
            var balance = alpha >= 0 ? alpha + (1 - 2 * alpha) * (1 - Min(ClassIndex, 1)) : 1.0;
            focal = Mean(Sum(ClassWeights * balance * y * Pow(1 - Exp(logp), gamma) * -logp, Over.Classes), Over.Spatial);
        }
        var f = DiceTerm(Activate(input, activation), y, squaredPred, jaccard, batch, smoothNr, smoothDr, false);
        var dice = ClassAverage(f * ClassWeights, includeBackground);
        return lambdaDice * dice + lambdaFocal * focal;
    }
}
