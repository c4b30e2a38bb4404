using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// The Dice family's reference options against independent float64 computations (values and central-difference
/// gradients): MONAI's <c>soft_label</c>, segmentation_models_pytorch's zeroed empty classes and its Tversky
/// <c>gamma</c> on the class mean. float64 on both sides: 1e-12 allows for summation order only.
/// </summary>
public class RegionOptionTests
{
    private const int N = 2,
        C = 3,
        S = 12;

    private static readonly int[] Entries = { 0, 5, 13, 29, 40, 55, 71 };

    // Soft per-class targets: a softmax of random scores, so every pixel's classes sum to 1.
    private static double[] SoftTargets(int seed) => Hand.Softmax(Hand.Random(N * C * S, seed, scale: 2), N, C, S);

    private static double[] Sigmoids(double[] x) => x.Select(Hand.Sigmoid).ToArray();

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void SoftLabelDiceMatchesMonaisOverlapFormula(bool jaccard, bool batch)
    {
        var x = Hand.Random(N * C * S, seed: 31);
        var t = SoftTargets(32);
        double Reference(double[] v) => Hand.Mean(Hand.Dice(Sigmoids(v), t, N, C, S, jaccard: jaccard, batch: batch, softLabel: true));
        using var loss = new DiceLoss(jaccard: jaccard, batch: batch, softLabel: true);
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.T(t, N, C, S));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(Reference, x, Hand.Flat(input.grad!), Entries);
    }

    [Fact]
    public void SoftLabelDiceIsZeroWhenThePredictionEqualsASoftTarget()
    {
        // 1 - Dice is 0 at p = t only with the soft overlap: Σ p·t < (Σp + Σt)/2 for soft t.
        var t = Hand.T(SoftTargets(33), N, C, S);
        using var soft = new DiceLoss(activation: Activation.None, softLabel: true, smoothNr: 0, smoothDr: 0);
        using var plain = new DiceLoss(activation: Activation.None, smoothNr: 0, smoothDr: 0);
        Assert.True(Math.Abs(soft.forward(t, t).ToDouble()) < 1e-14);
        Assert.True(plain.forward(t, t).ToDouble() > 0.1);
    }

    [Fact]
    public void SoftLabelLeavesHardTargetsAndSquaredSumsUnchanged()
    {
        var x = Hand.T(Hand.Random(N * C * S, seed: 34), N, C, S);
        var labels = Hand.L(Hand.Labels(N * S, C, seed: 35), N, S);
        using var soft = new DiceLoss(softLabel: true);
        using var plain = new DiceLoss();
        Hand.Close(plain.forward(x, labels).ToDouble(), soft.forward(x, labels).ToDouble(), 1e-14);
        var t = Hand.T(SoftTargets(36), N, C, S);
        using var softSquared = new DiceLoss(squaredPred: true, softLabel: true);
        using var squared = new DiceLoss(squaredPred: true);
        Hand.Close(squared.forward(x, t).ToDouble(), softSquared.forward(x, t).ToDouble(), 1e-14);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ZeroEmptyClassesScoresAnAbsentClassZeroButKeepsItInTheMean(bool batch)
    {
        var x = Hand.Random(N * C * S, seed: 37);
        // Class 2 never occurs; class 1 only in sample 1 (so per sample it is absent in sample 0).
        var labels = new long[N * S];
        for (var s = 0; s < S; s++)
            labels[S + s] = s % 2;
        var t = Hand.OneHot(labels, N, C, S);
        double Reference(double[] v)
        {
            var p = Hand.Softmax(v, N, C, S);
            var dice = Hand.Dice(p, t, N, C, S, batch: batch);
            var rows = dice.GetLength(0);
            double total = 0;
            for (var r = 0; r < rows; r++)
            for (var c = 0; c < C; c++)
            {
                double mass = 0;
                for (var n = 0; n < N; n++)
                for (var s = 0; s < S; s++)
                    if (batch || n == r)
                        mass += t[Hand.K(n, c, s, C, S)];
                total += mass > 0 ? dice[r, c] : 0;
            }
            return total / (rows * C);
        }
        using var loss = new DiceLoss(activation: Activation.Softmax, batch: batch, zeroEmptyClasses: true);
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(Reference, x, Hand.Flat(input.grad!), Entries);
        using var plain = new DiceLoss(activation: Activation.Softmax, batch: batch);
        Assert.True(plain.forward(Hand.T(x, N, C, S), Hand.L(labels, N, S)).ToDouble() > value.ToDouble() + 0.1);
    }

    [Theory]
    [InlineData(2.0, false)]
    [InlineData(0.5, false)]
    [InlineData(2.0, true)]
    public void TverskyGammaRaisesTheClassMean(double gamma, bool batch)
    {
        var x = Hand.Random(N * C * S, seed: 38);
        var labels = Hand.Labels(N * S, C, seed: 39);
        var t = Hand.OneHot(labels, N, C, S);
        double Reference(double[] v)
        {
            var index = Hand.TverskyIndex(Sigmoids(v), t, N, C, S, 0.3, 0.7, batch: batch);
            var rows = index.GetLength(0);
            double total = 0;
            for (var r = 0; r < rows; r++)
            {
                double m = 0;
                for (var c = 0; c < C; c++)
                    m += 1 - index[r, c];
                total += Math.Pow(m / C, gamma);
            }
            return total / rows;
        }
        using var loss = new TverskyLoss(alpha: 0.3, beta: 0.7, batch: batch, gamma: gamma);
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(Reference, x, Hand.Flat(input.grad!), Entries);
    }

    [Fact]
    public void TverskyGammaOfOneIsThePlainLossAndZeroIsRejected()
    {
        var x = Hand.T(Hand.Random(N * C * S, seed: 40), N, C, S);
        var labels = Hand.L(Hand.Labels(N * S, C, seed: 41), N, S);
        using var one = new TverskyLoss(gamma: 1);
        using var plain = new TverskyLoss();
        Hand.Close(plain.forward(x, labels).ToDouble(), one.forward(x, labels).ToDouble(), 0);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TverskyLoss(gamma: 0));
        Assert.Equal("gamma", e.ParamName);
    }
}
