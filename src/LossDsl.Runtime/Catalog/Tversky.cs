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
        double smoothDr = 1e-5
    )
    {
        var f = TverskyTerm(Activate(input, activation), OneHot(target), alpha, beta, batch, smoothNr, smoothDr);
        var keep = KeepClasses(includeBackground);
        return WeightedMean(f * ClassWeights * keep, keep);
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
