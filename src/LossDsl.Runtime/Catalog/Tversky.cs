using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// Tversky loss (Salehi et al., MONAI's <c>TverskyLoss</c>): per sample and class,
    /// 1 - (tp + nr) / (tp + α·fp + β·fn + dr) with tp = Σp·t, fp = Σp·(1 - t), fn = Σ(1 - p)·t.
    /// </summary>
    /// <param name="input">Logits or probabilities <c>N, C, *spatial</c>.</param>
    /// <param name="target">Class indices <c>N, *spatial</c> or per-class targets <c>N, C, *spatial</c>.</param>
    /// <param name="alpha">Weight of false positives.</param>
    /// <param name="beta">Weight of false negatives.</param>
    /// <param name="activation">Sigmoid, softmax or none (probabilities given).</param>
    /// <param name="includeBackground">False drops class 0 from the loss (ignored when C = 1).</param>
    /// <param name="batch">Sum over the batch too (one value per class).</param>
    /// <param name="smoothNr">Added to the numerator.</param>
    /// <param name="smoothDr">Added to the denominator.</param>
    [Loss(LossTask.Multiclass, Name = "TverskyLoss")]
    public static Expr Tversky(Expr input, Expr target, double alpha = 0.5, double beta = 0.5,
                               Activation activation = Activation.Softmax, bool includeBackground = true,
                               bool batch = false, double smoothNr = 1e-5, double smoothDr = 1e-5)
    {
        var p = Activate(input, activation);
        var index = TverskyIndex(p, target, alpha, beta, batch, smoothNr, smoothDr);
        var kept = KeptClasses(includeBackground);
        return WeightedMean((1.0 - index) * kept, kept);
    }

    /// <summary>
    /// Focal Tversky loss (Abraham and Khan): (1 - TI)^γ per sample and class, with the Tversky index TI of
    /// <see cref="Tversky"/>. The base is floored at 1e-12 so a perfect prediction has a finite gradient.
    /// </summary>
    /// <param name="input">Logits or probabilities <c>N, C, *spatial</c>.</param>
    /// <param name="target">Class indices <c>N, *spatial</c> or per-class targets <c>N, C, *spatial</c>.</param>
    /// <param name="alpha">Weight of false positives.</param>
    /// <param name="beta">Weight of false negatives.</param>
    /// <param name="gamma">Exponent γ applied to 1 - TI (0.75 = the paper's 1/γ with γ = 4/3).</param>
    /// <param name="activation">Sigmoid, softmax or none (probabilities given).</param>
    /// <param name="includeBackground">False drops class 0 from the loss (ignored when C = 1).</param>
    /// <param name="batch">Sum over the batch too (one value per class).</param>
    /// <param name="smoothNr">Added to the numerator.</param>
    /// <param name="smoothDr">Added to the denominator.</param>
    [Loss(LossTask.Multiclass, Name = "FocalTverskyLoss")]
    public static Expr FocalTversky(Expr input, Expr target, double alpha = 0.3, double beta = 0.7, double gamma = 0.75,
                                    Activation activation = Activation.Softmax, bool includeBackground = true,
                                    bool batch = false, double smoothNr = 1e-5, double smoothDr = 1e-5)
    {
        var p = Activate(input, activation);
        var index = TverskyIndex(p, target, alpha, beta, batch, smoothNr, smoothDr);
        var kept = KeptClasses(includeBackground);
        return WeightedMean(Pow(Max(1.0 - index, PowFloor), gamma) * kept, kept);
    }

    // The smallest base a fractional power is taken of: keeps the gradient of (1 - TI)^γ finite at TI = 1.
    private const double PowFloor = 1e-12;
}
