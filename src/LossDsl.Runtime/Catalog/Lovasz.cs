using System;
using System.Collections.Generic;
using System.Linq;
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

    /// <summary>Whether to check that the input is finite and the target in [0, 1], fixed at construction.</summary>
    public bool CheckValues { get; init; } = true;

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
        return dot(nn.functional.relu(sorted), Lovasz.JaccardSteps(labels[perm]));
    }
}

/// <summary>The Lovász extension of the Jaccard loss (Berman et al.), shared by the hinge and softmax losses.</summary>
internal static class Lovasz
{
    /// <summary>
    /// The gradient of the Lovász extension at errors sorted in decreasing order, given the ground truth in
    /// that order: the increments of 1 - |gt ∩ top-i| / |gt ∪ top-i| (i = 1, 2, …).
    /// </summary>
    public static Tensor JaccardSteps(Tensor gtSorted)
    {
        var gts = gtSorted.sum();
        var intersection = gts - gtSorted.cumsum(0);
        var union = TensorMath.Add(gts, TensorMath.RSub(1.0, gtSorted).cumsum(0));
        var jaccard = TensorMath.RSub(1.0, intersection / union);
        var p = jaccard.shape[0];
        return p > 1 ? cat(new[] { jaccard[..1], jaccard[1..] - jaccard[..(int)(p - 1)] }) : jaccard;
    }
}

/// <summary>
/// Lovász-softmax loss (Berman et al.), a surrogate of the mean IoU of mutually exclusive classes: for each class,
/// the Lovász extension of its Jaccard loss at the errors |y_c - p_c| of the softmax probabilities, averaged over
/// the classes — those present in the target (segmentation_models_pytorch's <c>classes="present"</c>, the default)
/// or all of them (kornia) — each weighted by its class weight. Over the whole batch (smp's default
/// <c>per_image=False</c>) or per image, then reduced. Masked and ignored pixels are left out; a set with no
/// valid pixel, or no present class, contributes 0. It sorts, so it is written by hand (autograd differentiates it).
/// </summary>
public sealed class LovaszSoftmaxLoss : HandWrittenLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="perImage">One loss per image (kornia), or one over all pixels of the batch (smp's default).</param>
    /// <param name="onlyPresent">Average over the classes present in the target of each set (smp), or over all classes (kornia).</param>
    /// <param name="classWeights">Optional weight per class (C values), a registered buffer: the class mean is of w_c·loss_c.</param>
    /// <param name="ignoreIndex">Class index of pixels to leave out.</param>
    /// <param name="reduction">Mean (default) or Sum over the images; None returns the per-image losses <c>N</c> (one value without <paramref name="perImage"/>).</param>
    public LovaszSoftmaxLoss(
        bool perImage = false,
        bool onlyPresent = true,
        Tensor? classWeights = null,
        long ignoreIndex = -100,
        Reduction reduction = Reduction.Mean
    )
        : base(nameof(LovaszSoftmaxLoss), reduction, ignoreIndex, classWeights)
    {
        PerImage = perImage;
        OnlyPresent = onlyPresent;
    }

    /// <summary>One loss per image (true) or one over the whole batch.</summary>
    public bool PerImage { get; }

    /// <summary>Whether only the classes present in the target are averaged.</summary>
    public bool OnlyPresent { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        using var ctx = LossContext.Create(GetName(), LossTask.Multiclass, input, target, mask, ClassWeights, IgnoreIndex, CheckValues);
        if (ctx.C < 2)
            throw new ArgumentException(
                $"{GetName()}: the input has a single channel (C = 1): a softmax over one class is 1, so the loss would not depend on the input; use LovaszHingeLoss for one-channel binary segmentation",
                nameof(input)
            );
        var n = ctx.N;
        var c = ctx.C;
        // Classes first: [C, N, P], so a set of pixels is a slice along the last two axes.
        var probs = nn.functional.softmax(ctx.Input, 1).reshape(n, c, -1).transpose(0, 1);
        var truth = ctx.Target.reshape(n, c, -1).transpose(0, 1);
        var valid = ctx.Mask?.reshape(n, -1);
        var weights = ctx.ClassWeights.flatten().to(float64).cpu().data<double>().ToArray();
        var losses = new List<Tensor>();
        if (PerImage)
        {
            for (var i = 0; i < n; i++)
                losses.Add(Set(probs[.., i], truth[.., i], valid?[i], weights));
        }
        else
        {
            losses.Add(Set(probs.reshape(c, -1), truth.reshape(c, -1), valid?.flatten(), weights));
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

    // The class mean of w_c · Lovász loss of one set of pixels ([C, P] probabilities and targets).
    private Tensor Set(Tensor probs, Tensor truth, Tensor? valid, double[] weights)
    {
        if (valid is not null)
        {
            var kept = valid.nonzero().flatten();
            probs = probs.index_select(1, kept);
            truth = truth.index_select(1, kept);
        }
        var zero = TensorMath.Mul(probs.sum(), 0.0); // 0, attached to the graph
        if (probs.shape[1] == 0)
            return zero;
        // One host read per set for the presence of every class.
        var present = truth.sum(1).gt(0).cpu().data<bool>().ToArray();
        var terms = new List<Tensor>();
        for (var k = 0; k < present.Length; k++)
        {
            if (OnlyPresent && !present[k])
                continue;
            var errors = (truth[k] - probs[k]).abs();
            var (sorted, perm) = errors.sort(0, descending: true);
            terms.Add(TensorMath.Mul(dot(sorted, Lovasz.JaccardSteps(truth[k][perm])), weights[k]));
        }
        return terms.Count == 0 ? zero : stack(terms).mean();
    }
}
