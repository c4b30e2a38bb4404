using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// Multi-label sigmoid losses (every channel its own sigmoid): MultiLabelBceLoss against torch's own
/// binary_cross_entropy_with_logits with a per-channel weight and pos_weight, MultiLabelFocalLoss against an
/// independent float64 computation of MONAI's sigmoid FocalLoss; values and gradients in float64.
/// </summary>
public class MultiLabelTests
{
    private const int N = 2,
        C = 4,
        S = 9;

    [Theory]
    [InlineData(1.0, false)]
    [InlineData(3.5, false)]
    [InlineData(2.0, true)]
    public void MultiLabelBceIsTorchsBceWithAPerClassWeight(double posWeight, bool multiHot)
    {
        manual_seed(31);
        var x = (randn(new long[] { N, C, 3, 3 }, dtype: float64) * 3).requires_grad_(true);
        var weights = tensor(new[] { 0.5, 1.0, 2.0, 4.0 }, float64);
        Tensor target = multiHot
            ? (rand(new long[] { N, C, 3, 3 }, dtype: float64) > 0.6).to(float64)
            : randint(0, C, new long[] { N, 3, 3 });
        var y = multiHot ? target : nn.functional.one_hot(target, C).permute(0, 3, 1, 2).to(float64);
        using var loss = new MultiLabelBceLoss(posWeight: posWeight, classWeights: weights);
        var ours = loss.forward(x, target);
        var x2 = x.detach().clone().requires_grad_(true);
        var theirs = nn.functional.binary_cross_entropy_with_logits(
            x2,
            y,
            weights.reshape(1, C, 1, 1),
            nn.Reduction.Mean,
            full(new long[] { C, 1, 1 }, posWeight, dtype: float64)
        );
        Assert.Equal(theirs.ToDouble(), ours.ToDouble(), 12);
        ours.backward();
        theirs.backward();
        Assert.True(x.grad!.allclose(x2.grad!, rtol: 1e-10, atol: 1e-13));
    }

    private static double Focal(double[] x, double[] y, double gamma, double alpha, double[] w, bool includeBackground)
    {
        var first = includeBackground ? 0 : 1;
        double total = 0;
        for (var n = 0; n < N; n++)
        for (var c = first; c < C; c++)
        for (var s = 0; s < S; s++)
        {
            var k = Hand.K(n, c, s, C, S);
            var p = Hand.Sigmoid(x[k]);
            var bce = y[k] * Hand.Softplus(-x[k]) + (1 - y[k]) * Hand.Softplus(x[k]);
            var pt = p * y[k] + (1 - p) * (1 - y[k]);
            var a = alpha >= 0 ? alpha * y[k] + (1 - alpha) * (1 - y[k]) : 1;
            total += w[c] * a * Math.Pow(1 - pt, gamma) * bce;
        }
        return total / (N * (C - first) * S);
    }

    [Theory]
    [InlineData(2.0, -1.0, true)]
    [InlineData(2.0, 0.25, true)]
    [InlineData(1.5, 0.75, false)]
    [InlineData(0.0, -1.0, true)]
    public void MultiLabelFocalMatchesAnIndependentFloat64Computation(double gamma, double alpha, bool includeBackground)
    {
        var x = Hand.Random(N * C * S, seed: 41);
        var y = Hand.Random(N * C * S, seed: 42, binary: true);
        var w = new[] { 1.0, 0.5, 2.0, 3.0 };
        using var loss = new MultiLabelFocalLoss(
            gamma: gamma,
            alpha: alpha,
            includeBackground: includeBackground,
            classWeights: tensor(w, float64)
        );
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.T(y, N, C, S));
        Hand.Close(Focal(x, y, gamma, alpha, w, includeBackground), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(
            v => Focal(v, y, gamma, alpha, w, includeBackground),
            x,
            Hand.Flat(input.grad!),
            new[] { 0, 11, 23, 40, 57, 70 }
        );
    }

    [Fact]
    public void TheFloat32KernelAgreesWithFloat64()
    {
        var x = Hand.Random(N * C * S, seed: 43);
        var y = Hand.Random(N * C * S, seed: 44, binary: true);
        using var loss = new MultiLabelFocalLoss();
        var value = loss.forward(Hand.T(x, N, C, S).to(float32).requires_grad_(true), Hand.T(y, N, C, S).to(float32)).ToDouble();
        Assert.Equal(Focal(x, y, 2, -1, new[] { 1.0, 1, 1, 1 }, true), value, 1e-6);
    }
}
