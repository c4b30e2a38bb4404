using LossDsl.Tests.EndToEnd;
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

/// <summary>
/// DiceCeLoss on one channel is MONAI's binary case: with a sigmoid (or no) activation the cross-entropy part is
/// BCE with logits, the class weight its <c>pos_weight</c>, and the Dice part unweighted (MONAI's DiceCELoss builds
/// <c>BCEWithLogitsLoss(pos_weight=weight)</c> and uses it when the input has one channel). Checked against that
/// composition written with torch's own functions in float64 (1e-12: summation order only), values and gradients.
/// </summary>
public class DiceCeOneChannelTests
{
    // MONAI's composition: λ_dice·mean_n(1 - (2Σpt + nr)/(Σp + Σt + dr)) + λ_ce·BCEWithLogits(pos_weight).
    private static Tensor Monai(Tensor x, Tensor t, double posWeight, double lambdaDice, double lambdaCe, bool sigmoid)
    {
        var p = sigmoid ? torch.sigmoid(x) : x;
        var dims = new long[] { 1, 2, 3 };
        var dice = 1 - (2 * (p * t).sum(dims) + 1e-5) / (p.sum(dims) + t.sum(dims) + 1e-5);
        var bce = nn.functional.binary_cross_entropy_with_logits(x, t, pos_weights: tensor(new[] { posWeight }, float64));
        return lambdaDice * dice.mean() + lambdaCe * bce;
    }

    [Theory]
    [InlineData(1.0, 1.0, 1.0, true)]
    [InlineData(3.5, 0.7, 1.3, true)]
    [InlineData(2.0, 1.0, 0.5, false)]
    public void OneChannelIsDiceWithBceAsMonaiComputesIt(double posWeight, double lambdaDice, double lambdaCe, bool sigmoid)
    {
        var g = new Generator(51);
        var x = randn(new long[] { 3, 1, 5, 6 }, dtype: float64, generator: g) * 2;
        if (!sigmoid)
            x = torch.sigmoid(x); // MONAI's activation None: the raw input goes to both parts
        var t = rand(new long[] { 3, 1, 5, 6 }, dtype: float64, generator: g).gt(0.6).to(float64);
        using var loss = new DiceCeLoss(
            lambdaDice: lambdaDice,
            lambdaCe: lambdaCe,
            activation: sigmoid ? Activation.Sigmoid : Activation.None,
            classWeights: tensor(new[] { posWeight }, float64)
        );
        foreach (var mode in new[] { ExecutionMode.Auto, ExecutionMode.TorchSharp, ExecutionMode.Autograd })
        {
            using var scope = NewDisposeScope();
            loss.With(mode: mode);
            var xa = x.detach().requires_grad_(true);
            var value = loss.forward(xa, t);
            var xb = x.detach().requires_grad_(true);
            var expected = Monai(xb, t, posWeight, lambdaDice, lambdaCe, sigmoid);
            EndToEnd.GeneratedParityTests.AssertClose(expected, value, 1e-12, $"{mode} value");
            value.backward();
            expected.backward();
            EndToEnd.GeneratedParityTests.AssertClose(xb.grad!, xa.grad!, 1e-12, $"{mode} gradient");
        }
    }

    [Fact]
    public void Float32OnOneChannelTakesTheKernelAndMatchesFloat64()
    {
        var g = new Generator(52);
        var x = randn(new long[] { 2, 1, 16, 16 }, dtype: float64, generator: g);
        var t = rand(new long[] { 2, 1, 16, 16 }, dtype: float64, generator: g).gt(0.8).to(float64);
        using var loss = new DiceCeLoss(activation: Activation.Sigmoid, classWeights: tensor(new[] { 4.0 }, float64));
        Assert.True(loss.HasCpuKernel);
        var xf = x.to(float32).requires_grad_(true);
        var value = loss.forward(xf, t.to(float32));
        value.backward();
        var xb = x.detach().requires_grad_(true);
        var expected = Monai(xb, t, 4.0, 1, 1, true);
        expected.backward();
        // float32 arithmetic against float64.
        EndToEnd.GeneratedParityTests.AssertClose(expected, value, 1e-5, "value");
        EndToEnd.GeneratedParityTests.AssertClose(xb.grad!, xf.grad!, 1e-5, "gradient");
    }

    [Fact]
    public void MoreChannelsWithASigmoidKeepTheSoftmaxCrossEntropy()
    {
        var g = new Generator(53);
        var x = randn(new long[] { 2, 3, 4, 5 }, dtype: float64, generator: g);
        var y = randint(0, 3, new long[] { 2, 4, 5 }, generator: g);
        using var loss = new DiceCeLoss(activation: Activation.Sigmoid, lambdaDice: 0);
        var expected = nn.functional.cross_entropy(x, y);
        EndToEnd.GeneratedParityTests.AssertClose(expected, loss.forward(x, y), 1e-12, "CE part");
    }

    [Fact]
    public void OneChannelWithTheSoftmaxDiceIsRejected()
    {
        using var loss = new DiceCeLoss();
        var ex = Assert.Throws<System.ArgumentException>(() => loss.forward(randn(2, 1, 4, 4), rand(2, 1, 4, 4).gt(0.5).to(float32)));
        Assert.Contains("activation: Sigmoid", ex.Message);
    }
}
