using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl.Testing;

/// <summary>A loss's output copied out of TorchSharp: its shape and its values (row-major, float64).</summary>
/// <param name="Shape">The output's shape (empty for a scalar).</param>
/// <param name="Values">The output's values.</param>
public sealed record LossOutput(long[] Shape, double[] Values)
{
    /// <summary>The sum of the values (the scalar a gradient is taken of).</summary>
    public double Total => Values.Sum();

    /// <summary>The output's values with their shape, e.g. <c>[2, 3] [0.1, 0.2, …]</c>.</summary>
    public override string ToString() => "[" + string.Join(", ", Shape) + "] " + LossCase.Format(Values);
}

/// <summary>
/// Runs losses on <see cref="LossCase"/>s and copies the results out, disposing every tensor it makes.
/// The case's class weights, if any, are set on the loss (on every part of a combined loss) for the call
/// and the loss's own weights restored afterwards.
/// </summary>
public static class LossEval
{
    /// <summary>The loss's output on the case, with inputs of <paramref name="dtype"/>.</summary>
    public static LossOutput Evaluate(LossFunction loss, LossCase c, ScalarType dtype = ScalarType.Float64)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(c);
        using var scope = NewDisposeScope();
        return Evaluate(loss, c.InputTensor(dtype), c.TargetTensor(dtype), c.MaskTensor(), c.ClassWeightsTensor(dtype));
    }

    /// <summary>The loss's output on explicit tensors, with optional class weights set for the call.</summary>
    public static LossOutput Evaluate(LossFunction loss, Tensor input, Tensor target, Tensor? mask, Tensor? classWeights)
    {
        ArgumentNullException.ThrowIfNull(loss);
        using var scope = NewDisposeScope();
        using var weights = WeightsOn(loss, classWeights);
        using var output = loss.forward(input, target, mask);
        return Copy(output);
    }

    /// <summary>
    /// The loss's output and the gradient of the sum of its values with respect to the input (row-major,
    /// the input's layout), with inputs of <paramref name="dtype"/>.
    /// </summary>
    public static (LossOutput Output, double[] Gradient) EvaluateWithGradient(
        LossFunction loss,
        LossCase c,
        ScalarType dtype = ScalarType.Float64
    )
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(c);
        using var scope = NewDisposeScope();
        using var weights = WeightsOn(loss, c.ClassWeightsTensor(dtype));
        var input = c.InputTensor(dtype).requires_grad_();
        var output = loss.forward(input, c.TargetTensor(dtype), c.MaskTensor());
        var total = output.numel() == 1 ? output.reshape(Array.Empty<long>()) : output.sum();
        total.backward();
        var grad = input.grad is null ? new double[c.Input.Length] : input.grad.to(ScalarType.Float64).data<double>().ToArray();
        return (Copy(output.detach()), grad);
    }

    /// <summary>The reference interpreter's output (<see cref="LossModule.Reference(TorchSharp.torch.Tensor, TorchSharp.torch.Tensor, TorchSharp.torch.Tensor?)"/>) and its autograd gradient, in float64.</summary>
    public static (LossOutput Output, double[] Gradient) ReferenceWithGradient(LossModule module, LossCase c) =>
        ReferenceWithGradient(module, c, stable: false);

    /// <summary>
    /// Like <see cref="ReferenceWithGradient(LossModule, LossCase)"/>, on the spec in the stable form the
    /// generator compiles (<see cref="LossModule.StableReference"/>).
    /// </summary>
    public static (LossOutput Output, double[] Gradient) StableReferenceWithGradient(LossModule module, LossCase c) =>
        ReferenceWithGradient(module, c, stable: true);

    private static (LossOutput Output, double[] Gradient) ReferenceWithGradient(LossModule module, LossCase c, bool stable)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(c);
        using var scope = NewDisposeScope();
        using var weights = WeightsOn(module, c.ClassWeightsTensor());
        var input = c.InputTensor().requires_grad_();
        var output = stable
            ? module.StableReference(input, c.TargetTensor(), c.MaskTensor())
            : module.Reference(input, c.TargetTensor(), c.MaskTensor());
        var total = output.numel() == 1 ? output.reshape(Array.Empty<long>()) : output.sum();
        total.backward();
        var grad = input.grad is null ? new double[c.Input.Length] : input.grad.data<double>().ToArray();
        return (Copy(output.detach()), grad);
    }

    /// <summary>The generated losses inside a loss: itself, or the parts of a combined loss (recursively).</summary>
    public static IEnumerable<LossModule> Modules(LossFunction loss) =>
        loss switch
        {
            LossModule m => new[] { m },
            CombinedLoss c => c.Parts.SelectMany(p => Modules(p.Loss)),
            _ => Array.Empty<LossModule>(),
        };

    private static LossOutput Copy(Tensor output)
    {
        using var values = output.detach().to(ScalarType.Float64).contiguous();
        return new LossOutput(output.shape, values.data<double>().ToArray());
    }

    // Sets class weights on every module for the duration of a call; restores the previous ones.
    private static Restore WeightsOn(LossFunction loss, Tensor? weights)
    {
        var modules = Modules(loss).ToArray();
        var previous = modules.Select(m => m.ClassWeights).ToArray();
        if (weights is not null)
            foreach (var m in modules.Where(m => m.UsesClassWeights))
                m.SwapClassWeights(weights);
        return new Restore(() =>
        {
            for (var i = 0; i < modules.Length; i++)
                modules[i].SwapClassWeights(previous[i]);
        });
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
