using System;
using System.Collections.Generic;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>
/// Binary Lovász hinge loss (Berman et al.), a convex surrogate of 1 - IoU of the foreground. It sorts the
/// hinge errors, which the DSL cannot express, so it is written by hand in TorchSharp (autograd
/// differentiates it) rather than declared as a spec. Per image (default) or over the whole batch; masked
/// pixels are left out; an image with no valid pixel contributes 0.
/// </summary>
public sealed class LovaszHingeLoss : LossFunction
{
    /// <summary>Creates the loss.</summary>
    /// <param name="perImage">One loss per image, then reduced; false: one loss over all pixels of the batch.</param>
    /// <param name="reduction">Mean (default) or Sum over the images; None returns the per-image losses <c>N</c>.</param>
    public LovaszHingeLoss(bool perImage = true, Reduction reduction = Reduction.Mean)
        : base(nameof(LovaszHingeLoss))
    {
        PerImage = perImage;
        Reduction = reduction;
    }

    /// <summary>One loss per image (true) or one over the whole batch.</summary>
    public bool PerImage { get; }

    /// <summary>How the per-image losses are reduced.</summary>
    public Reduction Reduction { get; }

    /// <summary>Whether to check that the input is finite and the target in [0, 1].</summary>
    public bool CheckValues { get; set; } = true;

    /// <inheritdoc />
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        using var ctx = LossContext.Create(GetName(), LossTask.Binary, input, target, mask, null, -100, CheckValues);
        var n = ctx.N;
        var logits = ctx.Input.reshape(n, -1);
        var labels = ctx.Target.reshape(n, -1);
        var valid = ctx.Mask?.reshape(n, -1);
        var losses = new List<Tensor>();
        if (PerImage)
        {
            for (var i = 0; i < n; i++)
                losses.Add(Flat(logits[i], labels[i], valid?[i]));
        }
        else
        {
            losses.Add(Flat(logits.flatten(), labels.flatten(), valid?.flatten()));
        }
        var stacked = stack(losses);
        var result = Reduction switch
        {
            Reduction.Sum => stacked.sum(),
            Reduction.Mean => stacked.mean(),
            _ => stacked,
        };
        return result.MoveToOuterDisposeScope();
    }

    // The Lovász extension of the Jaccard loss at the hinge errors of one set of pixels.
    private static Tensor Flat(Tensor logits, Tensor labels, Tensor? valid)
    {
        if (valid is not null)
        {
            logits = logits.masked_select(valid);
            labels = labels.masked_select(valid);
        }
        if (logits.numel() == 0)
            return TensorMath.Mul(logits.sum(), 0.0);
        var signs = TensorMath.Add(TensorMath.Mul(labels, 2.0), -1.0);
        var errors = TensorMath.RSub(1.0, logits * signs);
        var (sorted, perm) = errors.sort(0, descending: true);
        var gtSorted = labels[perm];
        var gts = gtSorted.sum();
        var intersection = gts - gtSorted.cumsum(0);
        var union = TensorMath.Add(gts, TensorMath.RSub(1.0, gtSorted).cumsum(0));
        var jaccard = TensorMath.RSub(1.0, intersection / union);
        var p = jaccard.shape[0];
        var grad = p > 1 ? cat(new[] { jaccard[..1], jaccard[1..] - jaccard[..(int)(p - 1)] }) : jaccard;
        return dot(nn.functional.relu(sorted), grad);
    }
}
