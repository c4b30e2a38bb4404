using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// Per-class positive weights (torch's <c>pos_weight</c> of shape C) on MultiLabelBceLoss: against torch's own
/// <c>binary_cross_entropy_with_logits</c> on every path (float64 TorchSharp, the float32 fused kernel), as a
/// registered buffer, and rejected when malformed.
/// </summary>
public class PosWeightTests
{
    private static readonly double[] Pos = { 3.0, 0.5, 1.5 };
    private static readonly double[] Weights = { 0.5, 2.0, 1.0 };

    [Theory]
    [InlineData(ExecutionMode.Auto, false)]
    [InlineData(ExecutionMode.Auto, true)]
    [InlineData(ExecutionMode.TorchSharp, true)]
    [InlineData(ExecutionMode.Kernel, true)]
    public void MultiLabelBceWithPerClassPosWeightIsTorchsBceWithLogits(ExecutionMode mode, bool float32)
    {
        var dtype = float32 ? ScalarType.Float32 : ScalarType.Float64;
        var x = randn(new long[] { 2, 3, 4, 5 }, dtype: float64);
        var t = (rand(new long[] { 2, 3, 4, 5 }, dtype: float64) > 0.6).to(float64);
        using var loss = new MultiLabelBceLoss(posWeight: 2.0, classWeights: tensor(Weights, float64), posWeights: tensor(Pos, float64))
        {
            Mode = mode,
        };
        var xa = x.to(dtype).detach().requires_grad_(true);
        var value = loss.forward(xa, t.to(dtype));
        var xb = x.detach().requires_grad_(true);
        var expected = nn.functional.binary_cross_entropy_with_logits(
            xb,
            t,
            weight: tensor(Weights, float64).view(3, 1, 1),
            pos_weights: (2.0 * tensor(Pos, float64)).view(3, 1, 1)
        );
        var tol = float32 ? 1e-5 : 1e-12;
        EndToEnd.GeneratedParityTests.AssertClose(expected, value, tol, $"{mode} value");
        value.backward();
        expected.backward();
        EndToEnd.GeneratedParityTests.AssertClose(xb.grad!, xa.grad!, tol, $"{mode} gradient");
    }

    [Fact]
    public void PosWeightsAreABufferAndMalformedOnesAreRejected()
    {
        using var loss = new MultiLabelBceLoss(posWeights: tensor(Pos, float64));
        Assert.Contains(loss.named_buffers(), b => b.name == "pos_weights");
        Assert.Contains("pos_weights", loss.state_dict().Keys);
        var negative = Assert.Throws<ArgumentException>(() => new MultiLabelBceLoss(posWeights: tensor(new[] { 1.0, -2.0, 1.0 })));
        Assert.Equal("posWeights", negative.ParamName);
        Assert.Throws<ArgumentException>(() => new MultiLabelBceLoss(posWeights: tensor(new[] { 1.0, double.NaN, 1.0 })));
        Assert.Throws<ArgumentException>(() => new MultiLabelBceLoss(posWeights: ones(3, 1)));
        var wrongLength = Assert.Throws<ArgumentException>(() => loss.forward(randn(2, 4, 3, 3), zeros(2, 4, 3, 3)));
        Assert.Equal("posWeights", wrongLength.ParamName);
        Assert.Contains("expected [4]", wrongLength.Message);
        using var dice = new DiceLoss { PosWeights = ones(3) };
        Assert.Contains("posWeights", Assert.Throws<ArgumentException>(() => dice.forward(randn(2, 3, 3, 3), zeros(2, 3, 3, 3))).Message);
    }

    [Fact]
    public void TheCatalogTakesThePerClassFormAsAnArray()
    {
        var entry = LossCatalog.Find("multilabel-bce")!;
        Assert.Contains("posWeight", entry.VectorOptions);
        Assert.DoesNotContain(entry.Options, o => o.Name == "posWeights");
        using var fromArray = (LossModule)entry.Create(new System.Collections.Generic.Dictionary<string, object?> { ["posWeight"] = Pos });
        Assert.Equal(Pos, fromArray.PosWeights!.data<double>().ToArray());
        var e = Assert.Throws<ArgumentException>(() =>
            LossCatalog.Find("dice")!.Create(new System.Collections.Generic.Dictionary<string, object?> { ["smoothNr"] = Pos })
        );
        Assert.Contains("takes no per-class array", e.Message);
    }
}
