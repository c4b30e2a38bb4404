using System;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>
/// The autograd node of a generated loss: its forward evaluates the compiled spec without building a
/// graph, its backward runs the generated analytic gradient.
/// </summary>
/// <remarks>
/// The backward runs inside libtorch's autograd engine, called back from native code, where a .NET
/// exception cannot unwind: it would end the process. So the backward never throws. When it cannot
/// compute the gradient (a saved tensor was modified in place after the forward, or anything else
/// fails), it writes the reason to standard error and returns a gradient of an impossible shape, which
/// the engine rejects with an ordinary, catchable error from <c>backward()</c>.
/// The input, target and mask are saved as autograd saved variables: libtorch checks them for in-place
/// modification, and they live exactly as long as the graph. A second backward through the same graph
/// (<c>retain_graph</c>, several losses sharing a graph, <c>autograd.grad</c> then <c>backward</c>)
/// computes the gradient again.
/// </remarks>
internal sealed class FusedLossFunction : autograd.SingleTensorFunction<FusedLossFunction>
{
    public override string Name => "LossDsl.FusedLoss";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var module = (LossModule)vars[0];
        var input = (Tensor)vars[1];
        var call = (FusedCall)vars[4];
        var output = module.FusedForward(call, input.shape, input.dtype, out var state);
        // The mask slot is always there (null without a mask), then the named maps in the module's order.
        var saved = new System.Collections.Generic.List<Tensor> { input, (Tensor)vars[2], (vars[3] as Tensor)! };
        foreach (var (_, map) in call.Maps)
            saved.Add(map);
        ctx.save_for_backward(saved);
        ctx.save_data("state", state);
        ctx.save_data("maps", call.Maps.Count);
        return output;
    }

    public override System.Collections.Generic.List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var state = (FusedState)ctx.get_data("state");
        try
        {
            var grad = state.Module.FusedBackward(
                state,
                () =>
                {
                    var saved = ctx.get_saved_variables();
                    var count = (int)ctx.get_data("maps");
                    var names = state.Module.Maps.Keys.ToArray();
                    System.Collections.Generic.Dictionary<string, Tensor>? maps = null;
                    if (count > 0)
                    {
                        maps = new(StringComparer.Ordinal);
                        for (var i = 0; i < count; i++)
                            maps[names[i]] = saved[saved.Count - count + i];
                    }
                    var mask = saved.Count - count > 2 ? saved[2] : null;
                    return new SavedInputs(saved[0], saved[1], mask, maps);
                },
                grad_output
            );
            return new() { null!, grad, null!, null!, null! };
        }
        catch (Exception ex)
        {
            LastBackwardError = $"{state.Module.GetName()}: the backward cannot run: {ex.Message}";
            Console.Error.WriteLine($"LossDsl: {LastBackwardError}");
            // Rejected by the engine's shape check: backward() throws an ExternalException the caller can catch.
            return new() { null!, torch.empty(new long[] { 0, 0, 0, 0, 0, 0, 0 }), null!, null!, null! };
        }
    }

    // The reason the last failed backward gave, for tests and debuggers.
    [ThreadStatic]
    internal static string? LastBackwardError;
}
