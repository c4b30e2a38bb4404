using System;
using static TorchSharp.torch;

namespace LossDsl;

// What the fused backward needs besides the saved tensors: the kernel's gradient (handed over at the
// first backward) or the totals of a weighted mean.
internal sealed record FusedState(
    LossModule Module,
    bool UsedKernel,
    bool HasWeight,
    double SumValue,
    double SumWeight,
    long[] InputShape,
    ScalarType InputType
) : IDisposable
{
    // The gradient the CPU kernel computed during the forward pass (upstream gradient 1).
    public Tensor? Gradient { get; set; }

    public void Dispose()
    {
        Gradient?.Dispose();
        Gradient = null;
    }
}
