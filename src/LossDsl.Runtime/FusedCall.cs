using static TorchSharp.torch;

namespace LossDsl;

// The validated inputs of one call and, where the CPU kernel ran, its value and gradient: passed through
// TorchSharp's Function.apply as a non-tensor argument.
internal sealed record FusedCall(LossContext Context, Tensor? Loss, Tensor? Gradient);
