using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// Sigmoid focal loss (Lin et al.): y·α·(1 - p)^γ·(-log p) + (1 - y)·(1 - α)·p^γ·(-log(1 - p)), with the
    /// focal factors computed in log space, (1 - p)^γ = exp(γ·log σ(-x)), so logits of ±100 stay finite.
    /// </summary>
    /// <param name="input">Logits (or probabilities), <c>N, 1, *spatial</c> or <c>N, *spatial</c>.</param>
    /// <param name="target">Hard or soft targets in [0, 1].</param>
    /// <param name="gamma">Focusing exponent γ (0 gives binary cross-entropy).</param>
    /// <param name="alpha">Weight α of positives (1 - α of negatives); negative: off (both weigh 1).</param>
    /// <param name="fromLogits">True: the input holds logits; false: probabilities, clamped to [eps, 1 - eps].</param>
    /// <param name="eps">Clamp for probabilities.</param>
    [Loss(LossTask.Binary, Name = "BinaryFocalLoss")]
    public static Expr BinaryFocal(Expr input, Expr target, double gamma = 2.0, double alpha = -1.0,
                                   bool fromLogits = true, double eps = 1e-7)
    {
        Expr logP, logQ;
        if (fromLogits)
        {
            logP = LogSigmoid(input);
            logQ = LogSigmoid(-input);
        }
        else
        {
            logP = Log(Clamp(input, eps, 1.0 - eps));
            logQ = Log(1.0 - Clamp(input, eps, 1.0 - eps));
        }
        var positive = -target * Exp(gamma * logQ) * logP;
        var negative = -(1.0 - target) * Exp(gamma * logP) * logQ;
        var loss = positive + negative;
        if (alpha >= 0) loss = alpha * positive + (1.0 - alpha) * negative;
        return loss;
    }

    /// <summary>
    /// Softmax focal loss: per pixel Σ_c α_c (1 - p_c)^γ (-ỹ_c log p_c), with α the class weights (all 1 when
    /// none are given) and ỹ = (1 - ls)·y + ls/C; for class-index targets the sum is a gather.
    /// </summary>
    /// <param name="input">Logits <c>N, C, *spatial</c>.</param>
    /// <param name="target">Class indices <c>N, *spatial</c> (int64) or per-class (soft) targets.</param>
    /// <param name="gamma">Focusing exponent γ (0 gives cross-entropy with a plain mean); use γ ≥ 1 for finite gradients at saturated logits.</param>
    /// <param name="labelSmoothing">Mixes the target with the uniform distribution: (1 - ls)·y + ls/C.</param>
    [Loss(LossTask.Multiclass, Name = "FocalLoss")]
    public static Expr Focal(Expr input, Expr target, double gamma = 2.0, double labelSmoothing = 0.0)
    {
        var logp = LogSoftmax(input);
        var term = -ClassWeights * Pow(1.0 - Exp(logp), gamma) * logp;
        var loss = Sum(term * OneHot(target), Over.Classes);
        if (labelSmoothing > 0)
            loss = (1.0 - labelSmoothing) * loss + labelSmoothing / NumClasses * Sum(term, Over.Classes);
        return loss;
    }
}
