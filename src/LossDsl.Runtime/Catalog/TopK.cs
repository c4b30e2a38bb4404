using System;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>
/// Top-k cross-entropy (nnU-Net's TopKLoss; "online hard example mining" for segmentation): the softmax
/// cross-entropy of every valid pixel of the batch, of which only the k percent largest are averaged, so
/// that easy background pixels stop dominating. Class weights weight each pixel's cross-entropy by its
/// class (torch's <c>weight</c> with <c>reduction="none"</c>); ignored and masked pixels are left out
/// (nnU-Net counts them with loss 0). Selecting the pixels needs a top-k, which the DSL cannot express, so
/// the loss is written by hand; autograd differentiates it (through the selected pixels only).
/// </summary>
public sealed class TopKCrossEntropyLoss : HandWrittenLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="k">The percentage of valid pixels kept, the largest losses first: 0 &lt; k ≤ 100 (100 is plain cross-entropy).</param>
    /// <param name="classWeights">Optional weight per class (C values), a registered buffer.</param>
    /// <param name="ignoreIndex">Class index of pixels to leave out.</param>
    /// <param name="reduction">Mean (default) over the kept pixels, or their Sum.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is not in (0, 100], or the reduction is None.</exception>
    public TopKCrossEntropyLoss(double k = 10, Tensor? classWeights = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean)
        : base(nameof(TopKCrossEntropyLoss), reduction, ignoreIndex, classWeights)
    {
        Hyperparameters.RequireFinite(nameof(TopKCrossEntropyLoss), nameof(k), k);
        if (!(k > 0 && k <= 100))
            throw Hyperparameters.OutOfRange(
                nameof(TopKCrossEntropyLoss),
                "k must be in (0, 100] (a percentage of the valid pixels)",
                (nameof(k), k)
            );
        if (reduction == Reduction.None)
            throw new ArgumentOutOfRangeException(
                nameof(reduction),
                reduction,
                $"{nameof(TopKCrossEntropyLoss)}: Reduction.None has no per-pixel meaning here (the kept pixels are chosen over the batch); use Mean or Sum"
            );
        K = k;
    }

    /// <summary>The percentage of valid pixels kept.</summary>
    public double K { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        using var ctx = LossContext.Create(GetName(), LossTask.Multiclass, input, target, mask, ClassWeights, IgnoreIndex, CheckValues);
        if (ctx.C < 2)
            throw new ArgumentException(
                $"{GetName()}: the input has a single channel (C = 1): a softmax over one class is 1 and its cross-entropy 0; use a sigmoid loss for one-channel binary segmentation",
                nameof(input)
            );
        var logp = nn.functional.log_softmax(ctx.Input, 1);
        var y = ctx.Target;
        // Σ_c w_c y_c (−log p_c): w_y · nll for class indices.
        var perPixel = -(ctx.ClassWeights * y * logp).sum(1);
        var values = ctx.Mask is { } m ? perPixel.masked_select(m.squeeze(1)) : perPixel.flatten();
        if (values.numel() == 0)
            return TensorMath.Mul(perPixel.sum(), 0.0).MoveToOuterDisposeScope(); // nothing valid: 0, attached to the graph
        var keep = (long)Math.Max(1, Math.Ceiling(values.numel() * K / 100 - 1e-9));
        var (top, _) = values.topk((int)Math.Min(keep, values.numel()), sorted: false);
        var result = Reduction == Reduction.Sum ? top.sum() : top.mean();
        return result.MoveToOuterDisposeScope();
    }
}
