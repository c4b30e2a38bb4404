using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// 1 - Tversky index per sample and class: 1 - (tp + nr) / (tp + α fp + β fn + dr), with
    /// fp = Σp - tp and fn = Σt - tp (over the batch too when <paramref name="batch"/>).
    /// </summary>
    public static Expr TverskyTerm(Expr p, Expr t, double alpha, double beta, bool batch, double smoothNr, double smoothDr)
    {
        Require(alpha >= 0, "alpha must be >= 0");
        Require(beta >= 0, "beta must be >= 0");
        Require(smoothNr >= 0, "smoothNr must be >= 0");
        Require(smoothDr >= 0, "smoothDr must be >= 0");
        Require(
            alpha + beta > 0 || smoothDr > 0,
            "alpha + beta or smoothDr must be > 0 (with alpha = beta = smoothDr = 0 the index is tp / tp, 0/0 on an empty class)"
        );
        var tp = batch ? Sum(p * t, Over.Batch | Over.Spatial) : Sum(p * t, Over.Spatial);
        var sp = batch ? Sum(p, Over.Batch | Over.Spatial) : Sum(p, Over.Spatial);
        var st = batch ? Sum(t, Over.Batch | Over.Spatial) : Sum(t, Over.Spatial);
        return 1 - (tp + smoothNr) / (tp + alpha * (sp - tp) + beta * (st - tp) + smoothDr);
    }

    /// <summary>
    /// Tversky loss (Salehi et al.): α weighs false positives, β false negatives; α = β = 0.5 is Dice.
    /// <paramref name="gamma"/> ≠ 1 raises the class mean of the loss to γ (segmentation_models_pytorch's
    /// TverskyLoss <c>gamma</c>; FocalTverskyLoss raises each class's term instead): per sample (over the batch
    /// with <paramref name="batch"/>) the class terms are scaled by m^(γ-1), m their mean, so their mean is m^γ.
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "TverskyLoss")]
    public static Expr Tversky(
        Expr input,
        Expr target,
        double alpha = 0.5,
        double beta = 0.5,
        Activation activation = Activation.Sigmoid,
        bool includeBackground = true,
        bool batch = false,
        double smoothNr = 1e-5,
        double smoothDr = 1e-5,
        double gamma = 1.0
    )
    {
        Require(gamma > 0, "gamma must be > 0 (gamma = 0 makes the loss a constant)");
        var f = TverskyTerm(Activate(input, activation), OneHot(target), alpha, beta, batch, smoothNr, smoothDr);
        var keep = KeepClasses(includeBackground);
        var terms = f * ClassWeights * keep;
        // The floor keeps m^(γ-1) finite at a perfect prediction (m = 0) when γ < 1.
        var m = Max(Sum(terms, Over.Classes) / (includeBackground ? NumClasses : NumClasses - 1), 1e-12);
        return WeightedMean(gamma == 1 ? terms : terms * Pow(m, gamma - 1), keep);
    }

    /// <summary>
    /// Focal Tversky loss (Abraham and Khan): (1 - Tversky index)^γ; γ &lt; 1 (default 0.75 = 1/(4/3))
    /// emphasises hard examples with a small index.
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "FocalTverskyLoss")]
    public static Expr FocalTversky(
        Expr input,
        Expr target,
        double alpha = 0.7,
        double beta = 0.3,
        double gamma = 0.75,
        Activation activation = Activation.Sigmoid,
        bool includeBackground = true,
        bool batch = false,
        double smoothNr = 1e-5,
        double smoothDr = 1e-5
    )
    {
        Require(gamma > 0, "gamma must be > 0 (gamma = 0 makes the loss a constant)");
        var f = TverskyTerm(Activate(input, activation), OneHot(target), alpha, beta, batch, smoothNr, smoothDr);
        var keep = KeepClasses(includeBackground);
        // The floor keeps the derivative γ·f^(γ-1) finite at a perfect prediction (f = 0) when γ < 1.
        return WeightedMean(Pow(Max(f, 1e-12), gamma) * ClassWeights * keep, keep);
    }
}
