using static LossDsl.Dsl;

namespace LossDsl;

/// <summary>
/// The loss catalog: every loss is a <c>[Loss]</c> spec compiled by the source generator into a
/// <c>{Name}</c> module and a functional <c>Losses.{Name}(...)</c> method. See docs/catalog.md.
/// </summary>
public static partial class Losses
{
    // Shared pieces of the specs below. The generator inlines these helpers into each spec, so they
    // cost nothing at run time; called at run time they just build the same expression.

    /// <summary>
    /// The prediction as probabilities, per <paramref name="activation"/>. Given probabilities are clamped
    /// to [0, 1] (the identity for valid ones), which also lets the range analysis prove every region
    /// denominator positive.
    /// </summary>
    internal static Expr Activate(Expr input, Activation activation) =>
        activation == Activation.Sigmoid ? Sigmoid(input)
        : activation == Activation.Softmax ? Softmax(input)
        : Clamp(input, 0.0, 1.0);

    /// <summary>A sum over the spatial axes, and over the batch too when <paramref name="batch"/>.</summary>
    internal static Expr RegionSum(Expr x, bool batch) =>
        batch ? Sum(x, Over.Batch | Over.Spatial) : Sum(x, Over.Spatial);

    /// <summary>
    /// A 0/1 class-axis vector: 1 for every class, or, without the background, 0 for class 0 only.
    /// With a single channel the background cannot be dropped (as in MONAI), so it stays 1:
    /// <c>Max(2 - C, 0)</c> is 1 for C = 1 and 0 otherwise.
    /// </summary>
    internal static Expr KeptClasses(bool includeBackground) =>
        Min(ClassIndex + (includeBackground ? 1.0 : Max(2.0 - NumClasses, 0.0)), 1.0);

    /// <summary>The Dice (or Jaccard) loss per sample and class (per class with <paramref name="batch"/>).</summary>
    internal static Expr DicePerClass(Expr p, Expr target, bool squaredPred, bool jaccard, bool batch,
                                      double smoothNr, double smoothDr)
    {
        var tp = RegionSum(p * target, batch);
        var predSum = squaredPred ? RegionSum(p * p, batch) : RegionSum(p, batch);
        var targetSum = squaredPred ? RegionSum(target * target, batch) : RegionSum(target, batch);
        var denominator = predSum + targetSum;
        // Jaccard: 2·(Σp + Σt - tp), written as sums of non-negative terms (Σp·(1 - t) + Σt, or
        // Σ(p - t)² + tp when squared) so it is visibly positive.
        if (jaccard)
            denominator = squaredPred
                ? 2.0 * (RegionSum(Pow(p - target, 2.0), batch) + tp)
                : 2.0 * (RegionSum(p * (1.0 - target), batch) + targetSum);
        return 1.0 - (2.0 * tp + smoothNr) / (denominator + smoothDr);
    }

    /// <summary>The Tversky index per sample and class (per class with <paramref name="batch"/>).</summary>
    internal static Expr TverskyIndex(Expr p, Expr target, double alpha, double beta, bool batch,
                                      double smoothNr, double smoothDr)
    {
        var tp = RegionSum(p * target, batch);
        var fp = RegionSum(p * (1.0 - target), batch);
        var fn = RegionSum((1.0 - p) * target, batch);
        return (tp + smoothNr) / (tp + alpha * fp + beta * fn + smoothDr);
    }

    /// <summary>
    /// The mean of a per-class region value over the kept classes (and the batch): what the region
    /// loss's Mean reduction gives, as a scalar, so it can be added to a pixel-wise loss.
    /// </summary>
    internal static Expr KeptMean(Expr perClass, Expr kept) =>
        Mean(perClass * kept, Over.All) * NumClasses / Max(Sum(kept, Over.Classes), 1.0);

    /// <summary>Softmax cross-entropy per pixel: Σ_c w_c ỹ_c (-log p_c) with ỹ = (1 - ls)·y + ls/C.</summary>
    internal static Expr SoftmaxCrossEntropy(Expr input, Expr target, double labelSmoothing)
    {
        var logp = LogSoftmax(input);
        var nll = -Sum(ClassWeights * logp * OneHot(target), Over.Classes);
        if (labelSmoothing > 0)
            nll = (1.0 - labelSmoothing) * nll - labelSmoothing / NumClasses * Sum(ClassWeights * logp, Over.Classes);
        return nll;
    }

    /// <summary>The weight PyTorch's class-weighted mean divides by: Σ_c w_c y_c (w of the target class).</summary>
    internal static Expr TargetClassWeight(Expr target) => Sum(ClassWeights * OneHot(target), Over.Classes);
}
