using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// Published values of MONAI's DiceCELoss (Project-MONAI/MONAI, tests/losses/test_dice_ce_loss.py,
/// TEST_CASES), with activation None (MONAI's default: Dice of the raw input) and MONAI's 1e-4
/// tolerance. MONAI's `weight` of [1, 1] changes nothing and is omitted.
/// </summary>
public class MonaiDiceCeTests
{
    // input (2, 2, 3): [[[1, 1, 0], [0, 0, 1]], [[1, 0, 1], [0, 1, 0]]]; target classes [[0, 0, 1], [0, 1, 0]].
    private static Tensor Input(double big) => tensor(new[] { big, big, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0 }, dtype: float64).reshape(2, 2, 3);

    private static readonly Tensor Classes = tensor(new long[] { 0, 0, 1, 0, 1, 0 }).reshape(2, 3);

    [Fact]
    public void IndexTargets()
    {
        using var loss = new DiceCeLoss(activation: Activation.None);
        Assert.Equal(0.3133, loss.forward(Input(1), Classes).ToDouble(), 1e-4);
    }

    [Fact]
    public void OneHotTargets()
    {
        using var loss = new DiceCeLoss(activation: Activation.None);
        var oneHot = tensor(new[] { 1.0, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0 }, dtype: float64).reshape(2, 2, 3);
        Assert.Equal(0.3133, loss.forward(Input(1), oneHot).ToDouble(), 1e-4);
    }

    [Fact]
    public void WithoutBackground()
    {
        using var loss = new DiceCeLoss(activation: Activation.None, includeBackground: false);
        Assert.Equal(0.2088, loss.forward(Input(100), Classes).ToDouble(), 1e-4);
    }

    [Fact]
    public void WeightedTerms()
    {
        using var loss = new DiceCeLoss(activation: Activation.None, includeBackground: false, lambdaDice: 1.0, lambdaCe: 2.0);
        Assert.Equal(0.4176, loss.forward(Input(100), Classes).ToDouble(), 1e-4);
    }
}
