using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// Per-pixel weight maps: torch's elementwise <c>weight</c> for the pixel losses (checked against torch itself),
/// weighted sums for region losses (against an independent float64 computation), combinations, and the
/// rejection of bad maps. float64 on both sides: 1e-12 allows for summation order only.
/// </summary>
public class PixelWeightTests
{
    private static Tensor Map(long n, long h, long w, int seed)
    {
        var g = new Generator((ulong)seed);
        return rand(new[] { n, h, w }, dtype: float64, generator: g) * 3;
    }

    [Theory]
    [InlineData(Reduction.Mean)]
    [InlineData(Reduction.Sum)]
    [InlineData(Reduction.None)]
    public void BceWithAWeightMapIsTorchsElementwiseWeight(Reduction reduction)
    {
        var x = randn(new long[] { 2, 1, 5, 6 }, dtype: float64);
        var t = (rand(new long[] { 2, 1, 5, 6 }, dtype: float64) > 0.6).to(float64);
        var w = Map(2, 5, 6, 1);
        using var loss = new BceLoss(posWeight: 3, reduction: reduction);
        var xa = x.detach().requires_grad_(true);
        var value = loss.forward(xa, t, null, w);
        var xb = x.detach().requires_grad_(true);
        var expected = nn.functional.binary_cross_entropy_with_logits(
            xb,
            t,
            weight: w.unsqueeze(1),
            pos_weights: tensor(3.0, float64),
            reduction: reduction
        );
        Assert.Equal(expected.shape, value.shape);
        GeneratedParity(expected, value, "value");
        value.sum().backward();
        expected.sum().backward();
        GeneratedParity(xb.grad!, xa.grad!, "gradient");
    }

    private static void GeneratedParity(Tensor expected, Tensor actual, string what) =>
        EndToEnd.GeneratedParityTests.AssertClose(expected, actual, 1e-12, what);

    [Fact]
    public void CrossEntropyWeighsEachPixelAndKeepsTorchsClassWeightDenominator()
    {
        var x = randn(new long[] { 2, 3, 4, 5 }, dtype: float64);
        var y = randint(0, 3, new long[] { 2, 4, 5 });
        var w = Map(2, 4, 5, 2);
        var cw = tensor(new[] { 0.5, 2.0, 1.5 }, float64);
        using var loss = new CrossEntropyLoss(classWeights: cw);
        var xa = x.detach().requires_grad_(true);
        var value = loss.forward(xa, y, null, w);
        // Σ w_pixel·w_y·nll / Σ w_y, from torch's unreduced weighted cross-entropy.
        var xb = x.detach().requires_grad_(true);
        var perPixel = nn.functional.cross_entropy(xb, y, weight: cw, reduction: Reduction.None);
        var expected = (perPixel * w).sum() / cw.index_select(0, y.flatten()).sum();
        GeneratedParity(expected, value, "value");
        value.backward();
        expected.backward();
        GeneratedParity(xb.grad!, xa.grad!, "gradient");
    }

    [Fact]
    public void DiceWeighsEveryPixelSum()
    {
        const int N = 2,
            C = 3,
            S = 10;
        var x = Hand.Random(N * C * S, seed: 71);
        var labels = Hand.Labels(N * S, C, seed: 72);
        var t = Hand.OneHot(labels, N, C, S);
        var rng = new Random(73);
        var w = Enumerable.Range(0, N * S).Select(_ => rng.NextDouble() * 2).ToArray();
        double Reference(double[] v)
        {
            var p = Hand.Softmax(v, N, C, S);
            double total = 0;
            for (var n = 0; n < N; n++)
            for (var c = 0; c < C; c++)
            {
                double tp = 0,
                    den = 0;
                for (var s = 0; s < S; s++)
                {
                    var k = Hand.K(n, c, s, C, S);
                    tp += w[n * S + s] * p[k] * t[k];
                    den += w[n * S + s] * (p[k] + t[k]);
                }
                total += 1 - (2 * tp + 1e-5) / (den + 1e-5);
            }
            return total / (N * C);
        }
        using var loss = new DiceLoss(activation: Activation.Softmax);
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S), null, Hand.T(w, N, S));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(Reference, x, Hand.Flat(input.grad!), new[] { 0, 9, 21, 38, 47, 59 });
        // The interpreter reads the same weights.
        Hand.Close(Reference(x), loss.Reference(Hand.T(x, N, C, S), Hand.L(labels, N, S), null, Hand.T(w, N, S)).ToDouble(), 1e-12);
    }

    [Fact]
    public void UnitWeightsChangeNothingAndZeroOneWeightsSumLikeAMask()
    {
        var x = randn(new long[] { 2, 3, 4, 5 }, dtype: float64);
        var y = randint(0, 3, new long[] { 2, 4, 5 });
        using var focal = new FocalLoss();
        GeneratedParity(focal.forward(x, y), focal.forward(x, y, null, ones(2, 4, 5, dtype: float64)), "unit weights");
        var keep = rand(new long[] { 2, 4, 5 }) > 0.4;
        using var sum = new FocalLoss(reduction: Reduction.Sum);
        GeneratedParity(sum.forward(x, y, keep), sum.forward(x, y, null, keep.to(float64)), "0/1 weights, Sum");
        // Mean divides by the valid count, not by Σ w: 0/1 weights without a mask average over every pixel.
        var weightedMean = focal.forward(x, y, null, keep.to(float64)).ToDouble();
        var maskedMean = focal.forward(x, y, keep).ToDouble();
        Hand.Close(maskedMean * keep.sum().ToDouble() / 40, weightedMean, 1e-12);
    }

    [Fact]
    public void ACombinationPassesTheWeightsToEveryPart()
    {
        var x = randn(new long[] { 2, 1, 4, 5 }, dtype: float64);
        var t = (rand(new long[] { 2, 1, 4, 5 }, dtype: float64) > 0.5).to(float64);
        var w = Map(2, 4, 5, 3);
        using var bce = new BceLoss();
        using var dice = new DiceLoss();
        using var both = 0.3 * bce + 0.7 * dice;
        var expected = 0.3 * bce.forward(x, t, null, w).ToDouble() + 0.7 * dice.forward(x, t, null, w).ToDouble();
        Hand.Close(expected, both.forward(x, t, null, w).ToDouble(), 1e-12);
        Assert.NotEqual(both.forward(x, t).ToDouble(), both.forward(x, t, null, w).ToDouble());
    }

    [Fact]
    public void BadWeightMapsAreRejectedNamingTheWeight()
    {
        var x = randn(new long[] { 2, 1, 4, 5 });
        var t = (rand(new long[] { 2, 1, 4, 5 }) > 0.5).to(float32);
        using var loss = new BceLoss();
        var shape = Assert.Throws<ArgumentException>(() => loss.forward(x, t, null, ones(2, 5, 4)));
        Assert.Equal("weight", shape.ParamName);
        Assert.Contains("[2, 5, 4]", shape.Message);
        Assert.Contains("[2, 4, 5]", shape.Message);
        var negative = ones(2, 4, 5);
        negative[1, 2, 3] = tensor(-1f);
        var e = Assert.Throws<ArgumentException>(() => loss.forward(x, t, null, negative));
        Assert.Contains("-1", e.Message);
        Assert.Contains("finite and >= 0", e.Message);
        var nan = ones(2, 4, 5);
        nan[0, 0, 0] = tensor(float.NaN);
        Assert.Throws<ArgumentException>(() => loss.forward(x, t, null, nan));
        Assert.Throws<ArgumentException>(() => loss.forward(x, t, null, ones(2, 4, 5, dtype: int64)));
        using var kernel = new BceLoss { Mode = ExecutionMode.Kernel };
        Assert.Throws<NotSupportedException>(() => kernel.forward(x, t, null, ones(2, 4, 5)));
        using var lovasz = new LovaszHingeLoss();
        Assert.Throws<NotSupportedException>(() => lovasz.forward(x, t, null, ones(2, 4, 5)));
    }
}
