using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>
/// Any loss: a <c>torch.nn.Module</c> taking (input, target) and optionally a validity mask.
/// Combine losses with <c>+</c> and scalar <c>*</c>: <c>0.5 * bce + 0.5 * dice</c>.
/// </summary>
public abstract class LossFunction : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>Creates a loss module with the given name.</summary>
    protected LossFunction(string name)
        : base(name) { }

    /// <summary>The loss of <paramref name="input"/> against <paramref name="target"/> (every pixel valid).</summary>
    public override Tensor forward(Tensor input, Tensor target) => forward(input, target, null);

    /// <summary>The loss with an optional validity mask <c>N, *spatial</c> (non-zero = valid).</summary>
    public abstract Tensor forward(Tensor input, Tensor target, Tensor? mask);

    /// <summary>
    /// The loss with a validity mask and a per-pixel weight map <paramref name="weight"/> (<c>N, *spatial</c>, finite,
    /// ≥ 0): every pixel's contribution to the loss's sums is scaled by its weight, while means still divide by the
    /// number of valid pixels (torch's elementwise <c>weight</c>; boundary-weighted losses such as U-Net's weight
    /// maps). Losses that cannot take one throw <see cref="NotSupportedException"/>.
    /// </summary>
    public virtual Tensor forward(Tensor input, Tensor target, Tensor? mask, Tensor? weight) =>
        weight is null
            ? forward(input, target, mask)
            : throw new NotSupportedException(
                $"{GetName()} takes no per-pixel weight map (its pixels are selected or sorted, not summed)."
            );

    /// <summary>
    /// The loss with a validity mask, a per-pixel weight map and the named maps a spec reads (<see cref="Dsl.PixelMap"/>,
    /// <see cref="Dsl.ClassMap"/>, e.g. a distance map): <c>maps</c> holds each by its name in the spec. Losses that read
    /// no maps reject any given.
    /// </summary>
    public virtual Tensor forward(Tensor input, Tensor target, Tensor? mask, Tensor? weight, IReadOnlyDictionary<string, Tensor>? maps) =>
        maps is null || maps.Count == 0
            ? forward(input, target, mask, weight)
            : throw new ArgumentException(
                $"{GetName()}: a map '{maps.Keys.First()}' was given, but this loss reads no maps; remove it.",
                nameof(maps)
            );

    /// <summary>The names of the maps this loss reads, with whether each is per class (empty for most losses).</summary>
    public virtual IReadOnlyDictionary<string, bool> Maps => EmptyMaps;

    private protected static readonly IReadOnlyDictionary<string, bool> EmptyMaps = new Dictionary<string, bool>();

    /// <summary>The weighted sum of two losses.</summary>
    public static LossFunction operator +(LossFunction left, LossFunction right) => CombinedLoss.Of(left, right);

    /// <summary>A loss scaled by a constant weight.</summary>
    public static LossFunction operator *(double weight, LossFunction loss) => CombinedLoss.Scale(weight, loss);
}
