using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// The focal losses' reference options against independent float64 computations: MONAI's softmax focal loss with
/// the background channel dropped before the softmax, and kornia's <c>pos_weight</c> on the sigmoid focal losses
/// (scalar, and per class on the multi-label one). Values and central-difference gradients.
/// </summary>
public class FocalOptionTests
{
    private const int N = 2,
        C = 3,
        S = 10;

    private static readonly int[] Entries = { 0, 7, 12, 25, 33, 41, 58 };

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void SoftmaxFocalWithoutBackgroundDropsChannelZeroBeforeTheSoftmax(double ls)
    {
        var x = Hand.Random(N * C * S, seed: 101);
        var labels = Hand.Labels(N * S, C, seed: 102);
        var w = new[] { 9.0, 2.0, 0.5 };
        double Reference(double[] v)
        {
            double total = 0;
            for (var n = 0; n < N; n++)
            for (var s = 0; s < S; s++)
            {
                // MONAI: channels 1..C-1 only, their own softmax.
                var z = Enumerable.Range(1, C - 1).Sum(c => Math.Exp(v[Hand.K(n, c, s, C, S)]));
                for (var c = 1; c < C; c++)
                {
                    var p = Math.Exp(v[Hand.K(n, c, s, C, S)]) / z;
                    var y = (1 - ls) * (labels[n * S + s] == c ? 1 : 0) + ls / (C - 1);
                    total += w[c] * y * Math.Pow(1 - p, 2) * -Math.Log(p);
                }
            }
            return total / (N * S);
        }
        using var loss = new FocalLoss(labelSmoothing: ls, includeBackground: false, classWeights: tensor(w, float64));
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        var grad = Hand.Flat(input.grad!);
        Hand.CloseToCentralDifferences(Reference, x, grad, Entries);
        for (var n = 0; n < N; n++)
        for (var s = 0; s < S; s++)
            Assert.Equal(0.0, grad[Hand.K(n, 0, s, C, S)]);
    }

    [Fact]
    public void BinaryFocalPosWeightIsKorniasPosWeight()
    {
        var x = Hand.Random(40, seed: 103);
        var t = Hand.Random(40, seed: 104, binary: true);
        // kornia: -α·pw·σ(-x)^γ·t·log σ(x) - (1 - α)·σ(x)^γ·(1 - t)·log σ(-x), mean.
        double Reference(double[] v) =>
            v.Select(
                    (xi, i) =>
                        0.25 * 3.0 * Math.Pow(Hand.Sigmoid(-xi), 2) * t[i] * Hand.Softplus(-xi)
                        + 0.75 * Math.Pow(Hand.Sigmoid(xi), 2) * (1 - t[i]) * Hand.Softplus(xi)
                )
                .Average();
        using var loss = new BinaryFocalLoss(alpha: 0.25, posWeight: 3.0);
        var input = Hand.T(x, 2, 1, 20).requires_grad_(true);
        var value = loss.forward(input, Hand.T(t, 2, 1, 20));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(Reference, x, Hand.Flat(input.grad!), new[] { 0, 5, 11, 19, 27, 39 });
    }

    [Fact]
    public void MultiLabelFocalTakesPerClassPosWeights()
    {
        var x = Hand.Random(N * C * S, seed: 105);
        var t = Hand.Random(N * C * S, seed: 106, binary: true);
        var pw = new[] { 2.0, 0.5, 4.0 };
        double Reference(double[] v)
        {
            double total = 0;
            for (var k = 0; k < v.Length; k++)
            {
                var c = k / S % C;
                var p = Hand.Sigmoid(v[k]);
                var pt = p * t[k] + (1 - p) * (1 - t[k]);
                total += Math.Pow(1 - pt, 2) * (1.5 * pw[c] * t[k] * Hand.Softplus(-v[k]) + (1 - t[k]) * Hand.Softplus(v[k]));
            }
            return total / v.Length;
        }
        using var loss = new MultiLabelFocalLoss(posWeight: 1.5, posWeights: tensor(pw, float64));
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.T(t, N, C, S));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(Reference, x, Hand.Flat(input.grad!), Entries);
    }

    [Fact]
    public void SoftmaxFocalWithoutBackgroundNeedsTwoClassesLeft()
    {
        using var loss = new FocalLoss(includeBackground: false);
        var e = Assert.Throws<ArgumentException>(() => loss.forward(randn(2, 2, 3, 3), randint(0, 2, new long[] { 2, 3, 3 })));
        Assert.Contains("two channels", e.Message);
        Assert.True(double.IsFinite(loss.forward(randn(2, 3, 3, 3), randint(0, 3, new long[] { 2, 3, 3 })).ToDouble()));
    }
}
