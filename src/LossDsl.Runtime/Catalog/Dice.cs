using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>Probabilities from the input under an activation.</summary>
    public static Expr Activate(Expr input, Activation activation) =>
        activation == Activation.Sigmoid ? Sigmoid(input)
        : activation == Activation.Softmax ? Softmax(input)
        : input;

    /// <summary>
    /// 1 - Dice (or 1 - Jaccard) per sample and class, or per class over the batch when
    /// <paramref name="batch"/>: 1 - (2tp + nr) / (Σp + Σt + dr), with Σp² + Σt² when
    /// <paramref name="squaredPred"/>, and 1 - (2tp + nr) / (2(Σp + Σt - tp) + dr) for Jaccard. With
    /// <paramref name="softLabel"/> (MONAI's <c>soft_label</c>) the overlap is tp = (Σp + Σt - Σ|p - t|) / 2 =
    /// Σ min(p, t), which is 1 - loss = 1 only for p = t also for soft targets (Σ p·t is not); squared sums
    /// are unchanged by it, as in MONAI.
    /// </summary>
    public static Expr DiceTerm(
        Expr p,
        Expr t,
        bool squaredPred,
        bool jaccard,
        bool batch,
        double smoothNr,
        double smoothDr,
        bool softLabel
    )
    {
        Require(smoothNr >= 0, "smoothNr must be >= 0");
        Require(smoothDr >= 0, "smoothDr must be >= 0");
        var overlap = softLabel && !squaredPred ? Min(p, t) : p * t;
        var tp = batch ? Sum(overlap, Over.Batch | Over.Spatial) : Sum(overlap, Over.Spatial);
        var pp = squaredPred ? p * p : p;
        var tt = squaredPred ? t * t : t;
        var den = batch ? Sum(pp + tt, Over.Batch | Over.Spatial) : Sum(pp + tt, Over.Spatial);
        return jaccard ? 1 - (2 * tp + smoothNr) / (2 * (den - tp) + smoothDr) : 1 - (2 * tp + smoothNr) / (den + smoothDr);
    }

    /// <summary>The weight of each class in a class average: 0 for the background class when it is excluded.</summary>
    public static Expr KeepClasses(bool includeBackground) => includeBackground ? 1.0 : Min(ClassIndex, 1);

    /// <summary>
    /// Soft Dice loss (Milletari et al.; MONAI's DiceLoss options): per sample and class (or per class
    /// with <paramref name="batch"/>), weighted by the class weights, averaged over the included classes.
    /// With <paramref name="logLoss"/> each class contributes -log(score) instead of 1 - score, the score
    /// floored at 1e-7 (segmentation_models_pytorch's <c>log_loss</c>). With <paramref name="zeroEmptyClasses"/> a
    /// class without target pixels (in the sample, or in the batch with <paramref name="batch"/>) scores 0 but still
    /// counts in the class average, as segmentation_models_pytorch's DiceLoss always does.
    /// <paramref name="softLabel"/> is MONAI's overlap for soft targets (see <see cref="DiceTerm"/>).
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "DiceLoss")]
    public static Expr Dice(
        Expr input,
        Expr target,
        Activation activation = Activation.Sigmoid,
        bool includeBackground = true,
        bool squaredPred = false,
        bool jaccard = false,
        bool batch = false,
        double smoothNr = 1e-5,
        double smoothDr = 1e-5,
        bool logLoss = false,
        bool softLabel = false,
        bool zeroEmptyClasses = false
    )
    {
        var t = OneHot(target);
        var f = DiceTerm(Activate(input, activation), t, squaredPred, jaccard, batch, smoothNr, smoothDr, softLabel);
        var score = logLoss ? -Log(Max(1 - f, 1e-7)) : f;
        var present = batch ? Step(Sum(t, Over.Batch | Over.Spatial)) : Step(Sum(t, Over.Spatial));
        var perClass = zeroEmptyClasses ? score * present : score;
        var keep = KeepClasses(includeBackground);
        return WeightedMean(perClass * ClassWeights * keep, keep);
    }

    /// <summary>
    /// Generalized Dice loss (Sudre et al.): one ratio per sample pooled over classes, each class
    /// weighted by 1/(Σt)², 1/Σt or 1. An absent class counts as one pixel, so its weight is finite and
    /// at least that of any present class.
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "GeneralizedDiceLoss")]
    public static Expr GeneralizedDice(
        Expr input,
        Expr target,
        DiceWeightType weightType = DiceWeightType.Square,
        Activation activation = Activation.Softmax,
        bool includeBackground = true,
        bool batch = false,
        double smoothNr = 1e-5,
        double smoothDr = 1e-5
    )
    {
        Require(smoothNr >= 0, "smoothNr must be >= 0");
        Require(smoothDr >= 0, "smoothDr must be >= 0");
        var p = Activate(input, activation);
        var t = OneHot(target);
        var tp = batch ? Sum(p * t, Over.Batch | Over.Spatial) : Sum(p * t, Over.Spatial);
        var ground = batch ? Sum(t, Over.Batch | Over.Spatial) : Sum(t, Over.Spatial);
        var predicted = batch ? Sum(p, Over.Batch | Over.Spatial) : Sum(p, Over.Spatial);
        // Absent classes weigh 0 (MONAI: an absent class takes the largest present weight, which is 0
        // when every class is absent); a class with at least one pixel of target mass gets 1/Σt² (1/Σt);
        // soft targets with Σt < 1 get Σt. No infinities, and an empty image gives 1 - nr/dr = 0.
        var count = Max(ground, 1.0);
        var presence = Min(ground, 1.0);
        var w =
            weightType == DiceWeightType.Square ? presence / (count * count)
            : weightType == DiceWeightType.Simple ? presence / count
            : (Expr)1.0;
        var kept = KeepClasses(includeBackground) * w;
        var numerator = 2 * Sum(kept * tp, Over.Classes) + smoothNr;
        var denominator = Sum(kept * (predicted + ground), Over.Classes) + smoothDr;
        return 1 - numerator / denominator;
    }

    /// <summary>log(cosh(1 - Dice)) per sample and class (Jadon), averaged like <see cref="Dice"/>.</summary>
    [Loss(LossTask.Multiclass, Name = "LogCoshDiceLoss")]
    public static Expr LogCoshDice(
        Expr input,
        Expr target,
        Activation activation = Activation.Sigmoid,
        bool includeBackground = true,
        double smoothNr = 1e-5,
        double smoothDr = 1e-5
    )
    {
        var f = DiceTerm(Activate(input, activation), OneHot(target), false, false, false, smoothNr, smoothDr, false);
        var keep = KeepClasses(includeBackground);
        return WeightedMean(LogCosh(f) * ClassWeights * keep, keep);
    }
}
