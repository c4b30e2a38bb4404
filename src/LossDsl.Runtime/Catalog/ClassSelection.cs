namespace LossDsl;

/// <summary>A loss that can leave the background class (channel 0) out of its class average.</summary>
public interface IClassSelection
{
    /// <summary>Whether channel 0 takes part; false drops it, which needs at least two channels.</summary>
    bool IncludeBackground { get; }
}

public sealed partial class DiceLoss : IClassSelection;

public sealed partial class GeneralizedDiceLoss : IClassSelection;

public sealed partial class LogCoshDiceLoss : IClassSelection;

public sealed partial class TverskyLoss : IClassSelection;

public sealed partial class FocalTverskyLoss : IClassSelection;

public sealed partial class DiceCeLoss : IClassSelection
{
    /// <inheritdoc />
    private protected override bool OneChannelIsBinary => true;

    /// <inheritdoc />
    private protected override void CheckClassCount(long classes)
    {
        if (classes == 1 && Activation == Activation.Softmax)
            throw new System.ArgumentException(
                $"{GetName()}: the input has a single channel (C = 1) and the Dice part's activation is Softmax: the softmax of one channel is 1, so that part would be constant. On one channel DiceCeLoss is MONAI's binary case: use activation: Sigmoid (the cross-entropy part becomes BCE with logits, the class weight its pos_weight), or None for probabilities.",
                "input"
            );
    }
}

public sealed partial class DiceFocalLoss : IClassSelection;

public sealed partial class MultiLabelFocalLoss : IClassSelection;

public sealed partial class FocalLoss : IClassSelection
{
    /// <inheritdoc />
    private protected override void CheckClassCount(long classes)
    {
        if (!IncludeBackground && classes == 2)
            throw new System.ArgumentException(
                $"{GetName()}: includeBackground is false and the input has two channels: channel 0 leaves the softmax, and a softmax over the one class left is 1, so the loss is 0 with a zero gradient. Keep includeBackground: true, or use MultiLabelFocalLoss (a sigmoid per channel).",
                "input"
            );
    }
}
