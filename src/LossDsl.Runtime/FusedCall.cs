using static TorchSharp.torch;

namespace LossDsl;

// The validated inputs of one call and, where the CPU kernel ran, its value and gradient: passed through
// TorchSharp's Function.apply as a non-tensor argument.
internal sealed record FusedCall(LossContext Context, Tensor? Loss, Tensor? Gradient)
{
    // The named maps of the call as given (saved for the backward with the other inputs), in the module's order.
    public System.Collections.Generic.IReadOnlyList<(string Name, Tensor Map)> Maps { get; init; } = System.Array.Empty<(string, Tensor)>();
}

// The inputs of a call as the autograd node saved them, read again by the backward.
internal sealed record SavedInputs(
    Tensor Input,
    Tensor Target,
    Tensor? Mask,
    System.Collections.Generic.IReadOnlyDictionary<string, Tensor>? Maps
);
