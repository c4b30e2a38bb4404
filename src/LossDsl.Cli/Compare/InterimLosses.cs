using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LossDsl.Cli.Compare;

// Losses written directly with TorchSharp built-ins and eager ops, used by `lossdsl compare` until
// the generated catalog modules take their place in LossRegistry. Each honours the validity mask
// the way the catalog does: invalid pixels contribute nothing to any sum, and means divide by the
// number of valid pixels. Layouts: binary logits N,1,H,W with float targets N,1,H,W (or N,H,W);
// multiclass logits N,C,H,W with int64 class-index targets N,H,W; masks N,H,W (non-zero = valid).

/// <summary>Shared input handling of the interim losses.</summary>
internal static class InterimInputs
{
    /// <summary>The validity mask as float N,1,H,W in the input's dtype (all ones without a mask).</summary>
    public static Tensor Valid(Tensor input, Tensor? mask)
    {
        var shape = input.shape.ToArray();
        shape[1] = 1;
        if (mask is null) return ones(shape, dtype: input.dtype, device: input.device);
        using var m = mask.dtype == ScalarType.Bool ? mask.alias() : mask.ne(0);
        using var f = m.to(input.dtype);
        return f.reshape(shape);
    }

    /// <summary>Binary target as N,1,H,W in the input's dtype.</summary>
    public static Tensor BinaryTarget(Tensor input, Tensor target)
    {
        using var t = target.dim() == input.dim() ? target.alias() : target.unsqueeze(1);
        return t.to(input.dtype);
    }

    /// <summary>One-hot of class indices N,H,W as N,C,H,W in the input's dtype.</summary>
    public static Tensor OneHot(Tensor input, Tensor target)
    {
        using var oh = F.one_hot(target.to(ScalarType.Int64), input.shape[1]);
        using var permuted = oh.permute(0, 3, 1, 2);
        return permuted.to(input.dtype);
    }

    /// <summary>Σ values / Σ weights, 0 (not NaN) when every weight is 0.</summary>
    public static Tensor SafeRatio(Tensor values, Tensor weights) => values.sum() / weights.sum().clamp_min(1e-12);
}

/// <summary>
/// Binary cross-entropy on logits, optionally with a positive-class weight (pos_weight): the mean
/// over valid pixels of −[w·t·log σ(x) + (1 − t)·log(1 − σ(x))].
/// </summary>
internal sealed class InterimBceLoss(double posWeight = 1.0) : LossFunction("InterimBceLoss")
{
    public double PosWeight { get; } = posWeight;

    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var valid = InterimInputs.Valid(input, mask);
        var t = InterimInputs.BinaryTarget(input, target);
        var pw = PosWeight == 1.0 ? null : full(new long[] { 1 }, PosWeight, dtype: input.dtype, device: input.device);
        var perPixel = F.binary_cross_entropy_with_logits(input, t, reduction: nn.Reduction.None, pos_weights: pw);
        return InterimInputs.SafeRatio(perPixel * valid, valid).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Soft Dice on sigmoid probabilities, pooled over the whole batch (sums over batch and pixels, as
/// segmentation_models_pytorch does), so images without foreground do not dominate:
/// 1 − (2·Σpt + s) / (Σp + Σt + s), valid pixels only.
/// </summary>
internal sealed class InterimBinaryDiceLoss(double smooth = 1.0) : LossFunction("InterimBinaryDiceLoss")
{
    public double Smooth { get; } = smooth;

    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var valid = InterimInputs.Valid(input, mask);
        var p = input.sigmoid() * valid;
        var t = InterimInputs.BinaryTarget(input, target) * valid;
        var intersection = (p * t).sum();
        var denominator = p.sum() + t.sum();
        return (1 - (2 * intersection + Smooth) / (denominator + Smooth)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Tversky loss on sigmoid probabilities, pooled over the batch: 1 − (TP + s) / (TP + α·FP + β·FN + s),
/// α weighing false positives and β false negatives (β > α favours recall).
/// </summary>
internal sealed class InterimTverskyLoss(double alpha = 0.3, double beta = 0.7, double smooth = 1.0) : LossFunction("InterimTverskyLoss")
{
    public double Alpha { get; } = alpha;
    public double Beta { get; } = beta;
    public double Smooth { get; } = smooth;

    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var valid = InterimInputs.Valid(input, mask);
        var p = input.sigmoid();
        var t = InterimInputs.BinaryTarget(input, target);
        var tp = (p * t * valid).sum();
        var fp = (p * (1 - t) * valid).sum();
        var fn = ((1 - p) * t * valid).sum();
        return (1 - (tp + Smooth) / (tp + Alpha * fp + Beta * fn + Smooth)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Binary focal loss (Lin et al., torchvision's sigmoid_focal_loss): the mean over valid pixels of
/// −α·t·(1 − p)^γ·log p − (1 − α)·(1 − t)·p^γ·log(1 − p), with log-sigmoids for stability.
/// </summary>
internal sealed class InterimBinaryFocalLoss(double gamma = 2.0, double alpha = 0.25) : LossFunction("InterimBinaryFocalLoss")
{
    public double Gamma { get; } = gamma;
    public double Alpha { get; } = alpha;

    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var valid = InterimInputs.Valid(input, mask);
        var t = InterimInputs.BinaryTarget(input, target);
        var p = input.sigmoid();
        var positive = -Alpha * t * (1 - p).pow(Gamma) * F.logsigmoid(input);
        var negative = -(1 - Alpha) * (1 - t) * p.pow(Gamma) * F.logsigmoid(-input);
        return InterimInputs.SafeRatio((positive + negative) * valid, valid).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Cross-entropy with optional class weights: Σ w_t·(−log softmax(x)_t) / Σ w_t over valid pixels
/// (torch's weighted mean), invalid pixels excluded from both sums.
/// </summary>
internal sealed class InterimCrossEntropyLoss(IReadOnlyList<double>? classWeights = null) : LossFunction("InterimCrossEntropyLoss")
{
    public IReadOnlyList<double>? ClassWeights { get; } = classWeights;

    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var valid = InterimInputs.Valid(input, mask).squeeze(1);
        var index = target.to(ScalarType.Int64);
        var logp = F.log_softmax(input, 1);
        var nll = -logp.gather(1, index.unsqueeze(1)).squeeze(1);
        var w = ClassWeights is null
            ? ones_like(nll)
            : tensor(ClassWeights.ToArray(), dtype: input.dtype, device: input.device).index(index);
        return InterimInputs.SafeRatio(w * nll * valid, w * valid).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Multiclass focal loss: the mean over valid pixels of −(1 − p_t)^γ·log p_t, p_t the softmax
/// probability of the true class.
/// </summary>
internal sealed class InterimFocalLoss(double gamma = 2.0) : LossFunction("InterimFocalLoss")
{
    public double Gamma { get; } = gamma;

    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var valid = InterimInputs.Valid(input, mask).squeeze(1);
        var logpt = F.log_softmax(input, 1).gather(1, target.to(ScalarType.Int64).unsqueeze(1)).squeeze(1);
        var perPixel = -(1 - logpt.exp()).pow(Gamma) * logpt;
        return InterimInputs.SafeRatio(perPixel * valid, valid).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Multiclass soft Dice on softmax probabilities: per class, sums over the batch and the valid
/// pixels, 1 − mean_c (2·Σpt + s) / (Σp + Σt + s), every class (background included).
/// </summary>
internal sealed class InterimMulticlassDiceLoss(double smooth = 1.0) : LossFunction("InterimMulticlassDiceLoss")
{
    public double Smooth { get; } = smooth;

    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var valid = InterimInputs.Valid(input, mask);
        var p = F.softmax(input, 1) * valid;
        var t = InterimInputs.OneHot(input, target) * valid;
        long[] dims = [0, 2, 3];
        var intersection = (p * t).sum(dims);
        var denominator = p.sum(dims) + t.sum(dims);
        return (1 - ((2 * intersection + Smooth) / (denominator + Smooth)).mean()).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Generalized Dice (Sudre et al. 2017): class weights w_c = 1 / (Σt_c)² from the batch's own
/// valid pixels, 1 − (2·Σ_c w_c·Σpt + ε) / (Σ_c w_c·(Σp + Σt) + ε). A class absent from the batch
/// gets the largest weight present (as MONAI does), not an infinite one.
/// </summary>
internal sealed class InterimGeneralizedDiceLoss(double epsilon = 1e-5) : LossFunction("InterimGeneralizedDiceLoss")
{
    public double Epsilon { get; } = epsilon;

    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var valid = InterimInputs.Valid(input, mask);
        var p = F.softmax(input, 1) * valid;
        var t = InterimInputs.OneHot(input, target) * valid;
        long[] dims = [0, 2, 3];
        var counts = t.sum(dims);
        var w = 1 / (counts * counts);
        var finite = w.isfinite();
        var zero = zeros_like(w);
        var maxFinite = where(finite, w, zero).max();
        w = where(finite, w, maxFinite.expand_as(w)).detach();
        var intersection = (w * (p * t).sum(dims)).sum();
        var denominator = (w * (p.sum(dims) + counts)).sum();
        return (1 - (2 * intersection + Epsilon) / (denominator + Epsilon)).MoveToOuterDisposeScope();
    }
}
