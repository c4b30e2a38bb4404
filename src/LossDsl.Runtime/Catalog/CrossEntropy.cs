using static LossDsl.Dsl;

namespace LossDsl;

/// <summary>
/// The loss catalog, declared with the DSL itself. Each <c>[Loss]</c> method below is compiled by the
/// generator into a module (e.g. <see cref="BceLoss"/>) and a functional form (e.g.
/// <c>Losses.BceLoss(input, target)</c>). docs/catalog.md describes every loss.
/// </summary>
public static partial class Losses
{
    /// <summary>Probabilities are clamped to [Eps, 1 - Eps] before a logarithm.</summary>
    public const double Eps = 1e-7;

    /// <summary>
    /// Binary cross-entropy on logits (stable form) or probabilities: -(w⁺ y log p + w⁻ (1 - y) log(1 - p)),
    /// with PyTorch's pos_weight meaning for <paramref name="posWeight"/> and label smoothing y(1 - ls) + ls/2.
    /// </summary>
    [Loss(LossTask.Binary, Name = "BceLoss")]
    public static Expr Bce(
        Expr input,
        Expr target,
        bool fromLogits = true,
        double posWeight = 1.0,
        double negWeight = 1.0,
        double labelSmoothing = 0.0
    )
    {
        Require(posWeight >= 0, "posWeight must be >= 0");
        Require(negWeight >= 0, "negWeight must be >= 0");
        Require(labelSmoothing >= 0 && labelSmoothing <= 1, "labelSmoothing must be in [0, 1]");
        var y = labelSmoothing > 0 ? target * (1 - labelSmoothing) + labelSmoothing / 2 : target;
        var logP = LogProbability(input, fromLogits);
        var logQ = LogComplement(input, fromLogits);
        return -(posWeight * y * logP + negWeight * (1 - y) * logQ);
    }

    /// <summary>log p: LogSigmoid of logits, or the log of clamped probabilities.</summary>
    public static Expr LogProbability(Expr input, bool fromLogits) => fromLogits ? LogSigmoid(input) : Log(Clamp(input, Eps, 1 - Eps));

    /// <summary>log(1 - p): LogSigmoid(-logits), or the log of clamped complements.</summary>
    public static Expr LogComplement(Expr input, bool fromLogits) => fromLogits ? LogSigmoid(-input) : Log(Clamp(1 - input, Eps, 1 - Eps));

    /// <summary>
    /// Softmax cross-entropy with class weights and PyTorch's weighted mean (Σ w_y·nll / Σ w_y),
    /// ignore index and label smoothing; int64 class indices or soft (per-class) targets.
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "CrossEntropyLoss")]
    public static Expr CrossEntropy(Expr input, Expr target, double labelSmoothing = 0.0)
    {
        Require(labelSmoothing >= 0 && labelSmoothing <= 1, "labelSmoothing must be in [0, 1]");
        var nll = -LogSoftmax(input);
        var y = OneHot(target);
        var weighted = Sum(ClassWeights * y * nll, Over.Classes);
        var loss =
            labelSmoothing > 0
                ? (1 - labelSmoothing) * weighted + labelSmoothing / NumClasses * Sum(ClassWeights * nll, Over.Classes)
                : weighted;
        return WeightedMean(loss, Sum(ClassWeights * y, Over.Classes));
    }

    /// <summary>
    /// Multi-label BCE on logits (torch's BCEWithLogitsLoss on N, C, *spatial with a per-class weight): every
    /// channel its own sigmoid against its one-hot, multi-hot or soft target, -(w⁺ y log p + (1 - y) log(1 - p))
    /// weighted per class by the class weights, with label smoothing y(1 - ls) + ls/2, averaged over classes and
    /// valid pixels. The positive weight of class c is <paramref name="posWeight"/> · posWeights[c] (torch's
    /// <c>pos_weight</c> of shape C is the vector with the scalar left at 1).
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "MultiLabelBceLoss")]
    public static Expr MultiLabelBce(Expr input, Expr target, double posWeight = 1.0, double labelSmoothing = 0.0)
    {
        Require(posWeight >= 0, "posWeight must be >= 0");
        Require(labelSmoothing >= 0 && labelSmoothing <= 1, "labelSmoothing must be in [0, 1]");
        var y0 = OneHot(target);
        var y = labelSmoothing > 0 ? y0 * (1 - labelSmoothing) + labelSmoothing / 2 : y0;
        return Mean(ClassWeights * -(posWeight * PosWeights * y * LogSigmoid(input) + (1 - y) * LogSigmoid(-input)), Over.Classes);
    }
}
