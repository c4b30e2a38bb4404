using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>
/// Shared parts of the losses that read distance maps of the target (or prediction): the activation, the class
/// selection, and the mean over valid pixels, kept classes and samples. Distance maps are computed on the CPU from
/// the target each call, invalid pixels (masked, or at the ignore index) belonging to no class, and carry no
/// gradient. The loss itself is differentiated by autograd.
/// </summary>
public abstract class DistanceMapLoss : HandWrittenLoss, IClassSelection
{
    /// <summary>Creates the loss.</summary>
    protected DistanceMapLoss(
        string name,
        Activation activation,
        bool includeBackground,
        double[]? spacing,
        long ignoreIndex,
        Reduction reduction
    )
        : base(name, reduction, ignoreIndex)
    {
        Activation = activation;
        IncludeBackground = includeBackground;
        if (spacing is { Length: > 0 })
            foreach (var h in spacing)
                if (!(double.IsFinite(h) && h > 0))
                    throw Hyperparameters.OutOfRange(name, "every spacing must be finite and > 0", (nameof(spacing), h));
        Spacing = spacing is { Length: > 0 } ? (double[])spacing.Clone() : null;
    }

    /// <summary>The pixel spacing along each spatial axis the distances are measured in (null: unit spacing).</summary>
    public IReadOnlyList<double>? Spacing { get; }

    /// <summary>The spacing as the distance transform takes it (empty for unit spacing).</summary>
    private protected double[] SpacingOrUnit => Spacing is null ? Array.Empty<double>() : Spacing.ToArray();

    /// <summary>How the input becomes probabilities.</summary>
    public Activation Activation { get; }

    /// <inheritdoc />
    public bool IncludeBackground { get; }

    /// <summary>The per-pixel, per-class loss <c>N, C, *spatial</c> from probabilities and per-class targets.</summary>
    protected abstract Tensor PerPixel(Tensor probabilities, Tensor target);

    /// <inheritdoc />
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        using var ctx = LossContext.Create(GetName(), LossTask.Multiclass, input, target, mask, null, IgnoreIndex, CheckValues);
        if (ctx.C == 1 && !IncludeBackground)
            throw new ArgumentException(
                $"{GetName()}: includeBackground is false, but the input has a single channel (C = 1): dropping channel 0 leaves no class to score. Keep includeBackground: true for one-channel binary segmentation.",
                nameof(input)
            );
        if (Spacing is { } spacing && spacing.Count != ctx.SpatialRank)
            throw new ArgumentException(
                $"{GetName()}: spacing has {spacing.Count} values and the input {ctx.SpatialRank} spatial axes (shape {InputValidation.Show(input.shape)}); give one spacing per spatial axis.",
                nameof(input)
            );
        if (ctx.C == 1 && Activation == Activation.Softmax)
            throw new ArgumentException(
                $"{GetName()}: the input has a single channel (C = 1) and the activation is Softmax, which is 1 there; use activation: Sigmoid for one-channel binary segmentation.",
                nameof(input)
            );
        var p = Activation switch
        {
            Activation.Sigmoid => sigmoid(ctx.Input),
            Activation.Softmax => nn.functional.softmax(ctx.Input, 1),
            _ => ctx.Input.alias(),
        };
        // Invalid pixels (masked, or at the ignore index, which the context maps to class 0) belong to no class
        // in the distance maps.
        var truth = ctx.Mask is { } valid ? ctx.Target * valid.to(ctx.Target.dtype) : ctx.Target;
        var values = PerPixel(p, truth);
        var kept = IncludeBackground ? values : values[.., 1..];
        var masked = ctx.Mask is { } m ? kept * m.to(kept.dtype) : kept;
        // One mean over the valid pixels per (sample, kept class), as MONAI's HausdorffDTLoss reduces.
        var spatial = new long[kept.dim() - 2];
        for (var i = 0; i < spatial.Length; i++)
            spatial[i] = i + 2;
        var sums = masked.sum(spatial);
        var counts = ctx.Mask is { } v
            ? v.to(kept.dtype).sum(spatial).clamp_min(1.0)
            : full(new long[] { 1, 1 }, (double)Math.Max(1, kept[0, 0].numel()), dtype: kept.dtype, device: kept.device);
        var means = sums / counts;
        var result = Reduction switch
        {
            Reduction.Sum => means.sum(),
            Reduction.Mean => means.mean(),
            _ => means,
        };
        return result.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Boundary loss (Kervadec et al., "Boundary loss for highly unbalanced segmentation"): the mean over pixels and kept
/// classes of p_c · φ_c, where φ_c is the signed distance map of class c's target (distance to the region outside
/// it, minus the distance to the outside plus one inside it, 0 for an absent class). It is negative inside the
/// target, so minimising it moves probability mass into the region; it is usually combined with a region loss
/// (e.g. <c>dice + 0.01 * boundary</c>, raising the boundary weight during training, as the paper does).
/// </summary>
public sealed class BoundaryLoss : DistanceMapLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="activation">Softmax (default) over classes, Sigmoid per channel, or None for probabilities.</param>
    /// <param name="includeBackground">Score channel 0 too (Kervadec et al. score the foreground classes only: false).</param>
    /// <param name="spacing">The pixel spacing along each spatial axis (Kervadec's <c>resolution</c>, e.g. millimetres per
    /// voxel of an anisotropic scan), or null for unit spacing.</param>
    /// <param name="ignoreIndex">Class index of pixels to leave out.</param>
    /// <param name="reduction">Mean (default), Sum, or None (the mean per sample and kept class).</param>
    public BoundaryLoss(
        Activation activation = Activation.Softmax,
        bool includeBackground = true,
        double[]? spacing = null,
        long ignoreIndex = -100,
        Reduction reduction = Reduction.Mean
    )
        : base(nameof(BoundaryLoss), activation, includeBackground, spacing, ignoreIndex, reduction) { }

    /// <inheritdoc />
    protected override Tensor PerPixel(Tensor probabilities, Tensor target)
    {
        var phi = DistanceTransform
            .PerChannel(target, (r, s) => DistanceTransform.Signed(r, s, SpacingOrUnit))
            .to(probabilities.dtype)
            .to(probabilities.device);
        return probabilities * phi;
    }
}

/// <summary>
/// Hausdorff distance-transform loss (Karimi and Salcudean; MONAI's HausdorffDTLoss): the mean of
/// (p - t)² · (d_p^α + d_t^α), d_p and d_t the distance-to-boundary fields of the prediction thresholded at 0.5 and of
/// the target (0 for an empty region), so errors far from either boundary weigh most: a differentiable stand-in for
/// the Hausdorff distance.
/// </summary>
public sealed class HausdorffDtLoss : DistanceMapLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="alpha">The power of the distances (2, as MONAI and the paper); ≥ 0.</param>
    /// <param name="activation">Sigmoid (default) per channel, Softmax over classes, or None for probabilities.</param>
    /// <param name="includeBackground">Score channel 0 too (MONAI's default is false).</param>
    /// <param name="spacing">The pixel spacing along each spatial axis, or null for unit spacing (MONAI's).</param>
    /// <param name="ignoreIndex">Class index of pixels to leave out.</param>
    /// <param name="reduction">Mean (default), Sum, or None (the mean per sample and kept class).</param>
    public HausdorffDtLoss(
        double alpha = 2.0,
        Activation activation = Activation.Sigmoid,
        bool includeBackground = true,
        double[]? spacing = null,
        long ignoreIndex = -100,
        Reduction reduction = Reduction.Mean
    )
        : base(nameof(HausdorffDtLoss), activation, includeBackground, spacing, ignoreIndex, reduction)
    {
        Hyperparameters.RequireFinite(nameof(HausdorffDtLoss), nameof(alpha), alpha);
        if (!(alpha >= 0))
            throw Hyperparameters.OutOfRange(nameof(HausdorffDtLoss), "alpha must be >= 0", (nameof(alpha), alpha));
        Alpha = alpha;
    }

    /// <summary>The power of the distances.</summary>
    public double Alpha { get; }

    /// <inheritdoc />
    protected override Tensor PerPixel(Tensor probabilities, Tensor target)
    {
        var spacing = SpacingOrUnit;
        var predicted = DistanceTransform.PerChannel(probabilities, (r, s) => DistanceTransform.ToBoundary(r, s, spacing));
        var truth = DistanceTransform.PerChannel(target, (r, s) => DistanceTransform.ToBoundary(r, s, spacing));
        var distance = (predicted.pow(Alpha) + truth.pow(Alpha)).to(probabilities.dtype).to(probabilities.device);
        var error = probabilities - target;
        return error * error * distance;
    }
}
