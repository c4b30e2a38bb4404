using System;
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

    /// <summary>The weighted sum of two losses.</summary>
    public static LossFunction operator +(LossFunction left, LossFunction right) => CombinedLoss.Of(left, right);

    /// <summary>A loss scaled by a constant weight.</summary>
    public static LossFunction operator *(double weight, LossFunction loss) => CombinedLoss.Scale(weight, loss);
}
