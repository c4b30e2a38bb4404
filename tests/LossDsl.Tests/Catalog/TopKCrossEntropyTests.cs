using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// TopKCrossEntropyLoss against an independent float64 computation: per-pixel (weighted) cross-entropy of
/// the valid pixels, the ⌈k % · count⌉ largest averaged; gradients by central differences; k = 100 is the
/// plain mean cross-entropy; the rejected settings.
/// </summary>
public class TopKCrossEntropyTests
{
    private const int N = 2,
        C = 3,
        S = 20;

    private static double Reference(double[] x, long[] labels, double k, double[] w, bool[] valid, bool sum = false)
    {
        var losses = new System.Collections.Generic.List<double>();
        for (var n = 0; n < N; n++)
        for (var s = 0; s < S; s++)
        {
            if (!valid[n * S + s])
                continue;
            var max = Enumerable.Range(0, C).Max(c => x[Hand.K(n, c, s, C, S)]);
            var lse = max + Math.Log(Enumerable.Range(0, C).Sum(c => Math.Exp(x[Hand.K(n, c, s, C, S)] - max)));
            var y = (int)labels[n * S + s];
            losses.Add(w[y] * (lse - x[Hand.K(n, y, s, C, S)]));
        }
        var keep = (int)Math.Max(1, Math.Ceiling(losses.Count * k / 100 - 1e-9));
        var top = losses.OrderByDescending(v => v).Take(keep).ToArray();
        return sum ? top.Sum() : top.Average();
    }

    [Theory]
    [InlineData(10.0, false, false)]
    [InlineData(25.0, true, false)]
    [InlineData(50.0, true, true)]
    [InlineData(100.0, false, false)]
    public void TopKMatchesAnIndependentFloat64Computation(double k, bool masked, bool sum)
    {
        var x = Hand.Random(N * C * S, seed: 51);
        var labels = Hand.Labels(N * S, C, seed: 52);
        var w = new[] { 0.5, 1.0, 3.0 };
        var valid = Enumerable.Range(0, N * S).Select(i => !masked || i % 3 != 0).ToArray();
        var mask = masked ? tensor(valid, new long[] { N, S }) : null;
        using var loss = new TopKCrossEntropyLoss(k: k, classWeights: tensor(w, float64), reduction: sum ? Reduction.Sum : Reduction.Mean);
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S), mask);
        Hand.Close(Reference(x, labels, k, w, valid, sum), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(
            v => Reference(v, labels, k, w, valid, sum),
            x,
            Hand.Flat(input.grad!),
            new[] { 0, 9, 21, 38, 47, 66, 83, 110 }
        );
    }

    [Fact]
    public void AtOneHundredPercentItIsTheCrossEntropyOfEveryPixel()
    {
        var x = Hand.Random(N * C * S, seed: 53);
        var labels = Hand.Labels(N * S, C, seed: 54);
        using var topk = new TopKCrossEntropyLoss(k: 100);
        using var ce = new CrossEntropyLoss();
        var input = Hand.T(x, N, C, S);
        var target = Hand.L(labels, N, S);
        Assert.Equal(ce.forward(input, target).ToDouble(), topk.forward(input, target).ToDouble(), 12);
    }

    [Fact]
    public void IgnoredPixelsAreLeftOutAndMisuseIsAClearError()
    {
        var x = Hand.Random(N * C * S, seed: 55);
        var labels = Hand.Labels(N * S, C, seed: 56);
        labels[0] = labels[5] = -100;
        using var loss = new TopKCrossEntropyLoss(k: 100);
        var valid = Enumerable.Range(0, N * S).Select(i => i != 0 && i != 5).ToArray();
        Hand.Close(
            Reference(x, labels.Select(l => Math.Max(l, 0)).ToArray(), 100, new[] { 1.0, 1, 1 }, valid),
            loss.forward(Hand.T(x, N, C, S), Hand.L(labels, N, S)).ToDouble(),
            1e-12
        );
        Assert.Throws<ArgumentOutOfRangeException>(() => new TopKCrossEntropyLoss(reduction: Reduction.None));
        var one = Assert.Throws<ArgumentException>(() => loss.forward(randn(2, 1, 4), zeros(new long[] { 2, 4 }, dtype: int64)));
        Assert.Contains("single channel", one.Message);
    }
}
