namespace LossDsl;

/// <summary>How a <see cref="LossModule"/> computes its gradient.</summary>
public enum ExecutionMode
{
    /// <summary>The fused CPU kernel where it applies (float32 CPU inputs, Mean or Sum), autograd otherwise.</summary>
    Auto,

    /// <summary>Autograd through the generated forward (every intermediate is kept for the backward).</summary>
    Autograd,

    /// <summary>
    /// The generated analytic backward with TorchSharp operations (any device and dtype): saves no
    /// intermediates, recomputes the forward in the backward.
    /// </summary>
    TorchSharp,

    /// <summary>The fused CPU kernel; throws where it cannot run.</summary>
    Kernel,
}
