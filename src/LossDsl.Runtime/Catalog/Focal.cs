using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// Sigmoid focal loss (Lin et al.): BCE · (1 - p_t)^γ, optionally α-balanced (α for positives,
    /// 1 - α for negatives; off when <paramref name="alpha"/> is negative). Computed in log space, with
    /// 1 - p_t = q·y + p·(1 - y) so that no probability near 1 is subtracted from 1. smp's options:
    /// <paramref name="reducedThreshold"/> &gt; 0 is the reduced focal loss (Sergievskiy and Ponamarev): the
    /// modulator is ((1 - p_t) / threshold)^γ where p_t ≥ threshold and 1 below it; <paramref name="normalized"/>
    /// divides every term by the batch's total modulator Σ (1 - p_t)^γ (at least 1e-6), as smp's
    /// <c>normalized=True</c> (Lin et al. 2019, arXiv:1909.07829). <paramref name="posWeight"/> weighs the positive
    /// term of the cross-entropy, as kornia's <c>pos_weight</c>.
    /// </summary>
    [Loss(LossTask.Binary, Name = "BinaryFocalLoss")]
    public static Expr BinaryFocal(
        Expr input,
        Expr target,
        double gamma = 2.0,
        double alpha = -1.0,
        bool fromLogits = true,
        bool normalized = false,
        double reducedThreshold = 0.0,
        double posWeight = 1.0
    )
    {
        Require(gamma >= 0, "gamma must be >= 0");
        Require(alpha <= 1, "alpha must be in [0, 1] (or negative for no α-balancing)");
        Require(posWeight >= 0, "posWeight must be >= 0");
        var logP = LogProbability(input, fromLogits);
        var logQ = LogComplement(input, fromLogits);
        var p = Exp(logP);
        var q = Exp(logQ);
        var ce = -(posWeight * target * logP + (1 - target) * logQ);
        var modulator = FocalModulator(q * target + p * (1 - target), gamma, reducedThreshold);
        var loss = ce * modulator;
        var weighted = alpha >= 0 ? (alpha * target + (1 - alpha) * (1 - target)) * loss : loss;
        return normalized ? weighted / Max(Sum(modulator, Over.All), 1e-6) : weighted;
    }

    /// <summary>
    /// The focal modulator (1 - p_t)^γ, or with <paramref name="reducedThreshold"/> &gt; 0 the reduced focal loss's
    /// ((1 - p_t) / threshold)^γ where p_t ≥ threshold and 1 below it (Sergievskiy and Ponamarev; smp's
    /// <c>reduced_threshold</c>).
    /// </summary>
    public static Expr FocalModulator(Expr oneMinusPt, double gamma, double reducedThreshold)
    {
        Require(reducedThreshold >= 0 && reducedThreshold < 1, "reducedThreshold must be in [0, 1) (0 for the plain focal loss)");
        if (reducedThreshold > 0)
        {
            // 1 where p_t < threshold, i.e. 1 - p_t > 1 - threshold.
            var easy = Step(oneMinusPt - (1 - reducedThreshold));
            return easy + (1 - easy) * Pow(oneMinusPt / reducedThreshold, gamma);
        }
        return Pow(oneMinusPt, gamma);
    }

    /// <summary>
    /// Softmax focal loss: Σ_c α_c (1 - p_c)^γ (-y_c log p_c), α from the class weights, with label
    /// smoothing; hard (index) or soft targets. With <paramref name="includeBackground"/> false, channel 0 is left
    /// out before the softmax, as MONAI's FocalLoss does: its logit is lowered by 10⁴, so its probability is exactly 0
    /// in floating point (unless it exceeds every other logit by more than about 9,000) and it gets no gradient; the
    /// sum and the smoothing run over classes 1…C-1, and a pixel of class 0 contributes nothing.
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "FocalLoss")]
    public static Expr Focal(Expr input, Expr target, double gamma = 2.0, double labelSmoothing = 0.0, bool includeBackground = true)
    {
        Require(gamma >= 0, "gamma must be >= 0");
        Require(labelSmoothing >= 0 && labelSmoothing <= 1, "labelSmoothing must be in [0, 1]");
        var keep = KeepClasses(includeBackground);
        var logp = LogSoftmax(includeBackground ? input : input - (1 - keep) * 1e4);
        var p = Exp(logp);
        var kept = includeBackground ? NumClasses : NumClasses - 1;
        var y = labelSmoothing > 0 ? (1 - labelSmoothing) * OneHot(target) + labelSmoothing / kept : OneHot(target);
        return Sum(keep * ClassWeights * y * Pow(1 - p, gamma) * -logp, Over.Classes);
    }

    /// <summary>
    /// The sigmoid focal loss of every channel against its per-class target y: BCE(x, y) · (1 - p_t)^γ,
    /// 1 - p_t = σ(-x)·y + σ(x)·(1 - y), computed in log space.
    /// </summary>
    public static Expr SigmoidFocalTerm(Expr input, Expr y, double gamma)
    {
        var logP = LogSigmoid(input);
        var logQ = LogSigmoid(-input);
        return -(y * logP + (1 - y) * logQ) * Pow(Exp(logQ) * y + Exp(logP) * (1 - y), gamma);
    }

    /// <summary>
    /// Multi-label sigmoid focal loss (MONAI's FocalLoss without softmax, smp's multilabel FocalLoss): every
    /// channel its own sigmoid focal loss against its one-hot, multi-hot or soft target, α-balanced when
    /// <paramref name="alpha"/> ≥ 0, weighted per class by the class weights, averaged over the (included)
    /// classes and the valid pixels. smp's <paramref name="normalized"/> and <paramref name="reducedThreshold"/> as
    /// in <see cref="BinaryFocal"/>: the normalizer is the total modulator over the batch, its pixels and classes.
    /// The positive term of class c is weighted by <paramref name="posWeight"/> · posWeights[c] (kornia's <c>pos_weight</c>).
    /// </summary>
    [Loss(LossTask.Multiclass, Name = "MultiLabelFocalLoss")]
    public static Expr MultiLabelFocal(
        Expr input,
        Expr target,
        double gamma = 2.0,
        double alpha = -1.0,
        bool includeBackground = true,
        bool normalized = false,
        double reducedThreshold = 0.0,
        double posWeight = 1.0
    )
    {
        Require(gamma >= 0, "gamma must be >= 0");
        Require(alpha <= 1, "alpha must be in [0, 1] (or negative for no α-balancing)");
        Require(posWeight >= 0, "posWeight must be >= 0");
        var y = OneHot(target);
        var logP = LogSigmoid(input);
        var logQ = LogSigmoid(-input);
        var modulator = FocalModulator(Exp(logQ) * y + Exp(logP) * (1 - y), gamma, reducedThreshold);
        var term = -(posWeight * PosWeights * y * logP + (1 - y) * logQ) * modulator;
        var focal = normalized ? term / Max(Sum(modulator * KeepClasses(includeBackground), Over.All), 1e-6) : term;
        var balanced = alpha >= 0 ? (alpha * y + (1 - alpha) * (1 - y)) * focal : focal;
        return includeBackground
            ? Mean(ClassWeights * balanced, Over.Classes)
            : Sum(ClassWeights * balanced * Min(ClassIndex, 1), Over.Classes) / (NumClasses - 1);
    }
}
