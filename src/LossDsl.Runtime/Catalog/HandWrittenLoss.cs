using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>
/// Base of the catalog's hand-written multiclass losses (those the DSL cannot express: they sort, select or measure
/// distances between pixels), holding their construction-time settings as the generated modules do: the
/// reduction, the ignore index, the value checks and optional class weights as a registered buffer.
/// </summary>
public abstract class HandWrittenLoss : LossFunction
{
    private const string WeightsBuffer = "class_weights";

    /// <summary>Creates the loss.</summary>
    /// <param name="name">The module name.</param>
    /// <param name="reduction">How the loss's values are reduced.</param>
    /// <param name="ignoreIndex">Class index of pixels to leave out.</param>
    /// <param name="classWeights">Optional weight per class (C values), copied into the buffer <c>class_weights</c>.</param>
    protected HandWrittenLoss(string name, Reduction reduction, long ignoreIndex, Tensor? classWeights = null)
        : base(name)
    {
        Reduction = reduction;
        IgnoreIndex = ignoreIndex;
        if (classWeights is not null)
            register_buffer(WeightsBuffer, classWeights.detach().clone());
    }

    /// <summary>How the loss's values are reduced.</summary>
    public Reduction Reduction { get; }

    /// <summary>Class index of pixels left out.</summary>
    public long IgnoreIndex { get; }

    /// <summary>The class weights (moved by <c>.to(device)</c>, saved in <c>state_dict()</c>), or null.</summary>
    public Tensor? ClassWeights => get_buffer(WeightsBuffer);

    /// <summary>Whether to check that the input is finite and the targets valid, fixed at construction.</summary>
    public bool CheckValues { get; init; } = true;
}
