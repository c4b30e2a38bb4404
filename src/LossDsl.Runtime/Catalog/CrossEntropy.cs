using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// Binary cross-entropy per pixel: pw·y·(-log p) + nw·(1 - y)·(-log(1 - p)). On logits it is computed
    /// as pw·y·softplus(-x) + nw·(1 - y)·softplus(x), finite for any logit; on probabilities
    /// (<paramref name="fromLogits"/> false) p is clamped to [eps, 1 - eps].
    /// </summary>
    /// <param name="input">Logits (or probabilities), <c>N, 1, *spatial</c> or <c>N, *spatial</c>.</param>
    /// <param name="target">Hard or soft targets in [0, 1], the input's shape.</param>
    /// <param name="fromLogits">True: the input holds logits; false: probabilities.</param>
    /// <param name="posWeight">Weight of the positive term (PyTorch's <c>pos_weight</c>).</param>
    /// <param name="negWeight">Weight of the negative term.</param>
    /// <param name="labelSmoothing">Targets become y·(1 - ls) + ls/2.</param>
    /// <param name="eps">Clamp for probabilities (only when <paramref name="fromLogits"/> is false).</param>
    [Loss(LossTask.Binary, Name = "BceLoss")]
    public static Expr Bce(Expr input, Expr target, bool fromLogits = true, double posWeight = 1.0,
                           double negWeight = 1.0, double labelSmoothing = 0.0, double eps = 1e-7)
    {
        var y = target;
        if (labelSmoothing > 0) y = target * (1.0 - labelSmoothing) + 0.5 * labelSmoothing;
        Expr loss;
        if (fromLogits)
        {
            loss = posWeight * y * Softplus(-input) + negWeight * (1.0 - y) * Softplus(input);
        }
        else
        {
            var p = Clamp(input, eps, 1.0 - eps);
            loss = -(posWeight * y * Log(p) + negWeight * (1.0 - y) * Log(1.0 - p));
        }
        return loss;
    }

    /// <summary>
    /// Softmax cross-entropy, PyTorch's <c>nn.CrossEntropyLoss</c>: per pixel Σ_c w_c ỹ_c (-log softmax(x)_c)
    /// with ỹ = (1 - ls)·y + ls/C; the Mean reduction divides by Σ w_y (the weight of each pixel's target class).
    /// </summary>
    /// <param name="input">Logits <c>N, C, *spatial</c>.</param>
    /// <param name="target">Class indices <c>N, *spatial</c> (int64) or per-class (soft) targets <c>N, C, *spatial</c>.</param>
    /// <param name="labelSmoothing">Mixes the target with the uniform distribution: (1 - ls)·y + ls/C.</param>
    [Loss(LossTask.Multiclass, Name = "CrossEntropyLoss")]
    public static Expr CrossEntropy(Expr input, Expr target, double labelSmoothing = 0.0) =>
        WeightedMean(SoftmaxCrossEntropy(input, target, labelSmoothing), TargetClassWeight(target));
}
