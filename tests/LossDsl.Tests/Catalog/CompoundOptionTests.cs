using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// DiceCeLoss and DiceFocalLoss with MONAI's option sets (class weights in both parts, label smoothing, alpha, the
/// Dice options squaredPred / jaccard / batch) against independent float64 computations, values and
/// central-difference gradients; the cross-entropy part also against torch's own <c>cross_entropy</c>.
/// </summary>
public class CompoundOptionTests
{
    private const int N = 2,
        C = 3,
        S = 12;

    private static readonly double[] Weights = { 0.5, 2.0, 1.5 };
    private static readonly int[] Entries = { 1, 6, 14, 27, 42, 58, 70 };

    private static double DicePart(double[] p, double[] t, bool squared, bool jaccard, bool batch, bool weighted)
    {
        var dice = Hand.Dice(p, t, N, C, S, squared: squared, jaccard: jaccard, batch: batch);
        var rows = dice.GetLength(0);
        double total = 0;
        for (var r = 0; r < rows; r++)
        for (var c = 0; c < C; c++)
            total += (weighted ? Weights[c] : 1) * dice[r, c];
        return total / (rows * C);
    }

    // torch's CrossEntropyLoss(weight, label_smoothing), mean: Σ_pixels [(1 - ls)·w_y·nll_y + ls/C·Σ_c w_c·nll_c] / Σ w_y.
    private static double WeightedCe(double[] x, long[] labels, double ls)
    {
        var p = Hand.Softmax(x, N, C, S);
        double sum = 0,
            weight = 0;
        for (var n = 0; n < N; n++)
        for (var s = 0; s < S; s++)
        {
            var y = (int)labels[n * S + s];
            double smooth = 0;
            for (var c = 0; c < C; c++)
                smooth += Weights[c] * -Math.Log(p[Hand.K(n, c, s, C, S)]);
            sum += (1 - ls) * Weights[y] * -Math.Log(p[Hand.K(n, y, s, C, S)]) + ls / C * smooth;
            weight += Weights[y];
        }
        return sum / weight;
    }

    [Theory]
    [InlineData(false, false, false, 0.0)]
    [InlineData(true, false, false, 0.1)]
    [InlineData(false, true, false, 0.0)]
    [InlineData(false, false, true, 0.2)]
    public void DiceCeWithClassWeightsAndOptionsMatchesMonaisComposition(bool squared, bool jaccard, bool batch, double ls)
    {
        var x = Hand.Random(N * C * S, seed: 51);
        var labels = Hand.Labels(N * S, C, seed: 52);
        var t = Hand.OneHot(labels, N, C, S);
        double Reference(double[] v) =>
            0.7 * DicePart(Hand.Softmax(v, N, C, S), t, squared, jaccard, batch, weighted: true) + 1.3 * WeightedCe(v, labels, ls);
        using var loss = new DiceCeLoss(
            lambdaDice: 0.7,
            lambdaCe: 1.3,
            squaredPred: squared,
            jaccard: jaccard,
            batch: batch,
            labelSmoothing: ls
        )
        {
            ClassWeights = tensor(Weights, float64),
        };
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(Reference, x, Hand.Flat(input.grad!), Entries);
    }

    [Fact]
    public void DiceCesCrossEntropyPartIsTorchsWeightedCrossEntropy()
    {
        // Unequal samples: one sample's pixels mostly masked, so a per-sample mean would differ from torch's.
        var x = Hand.T(Hand.Random(N * C * S, seed: 53), N, C, S);
        var labels = Hand.Labels(N * S, C, seed: 54);
        for (var s = 0; s < 9; s++)
            labels[s] = -100;
        var ignored = Hand.L(labels, N, S);
        var w = tensor(Weights, float64);
        using var loss = new DiceCeLoss(lambdaDice: 0, labelSmoothing: 0.1) { ClassWeights = w };
        var expected = nn.functional.cross_entropy(x, ignored, weight: w, ignore_index: -100, label_smoothing: 0.1);
        Hand.Close(expected.ToDouble(), loss.forward(x, ignored).ToDouble(), 1e-12);
        // The test tells the two rules apart: the mean of per-sample weighted means is another number.
        var perSample = Enumerable
            .Range(0, N)
            .Select(n =>
                nn.functional.cross_entropy(x[n..(n + 1)], ignored[n..(n + 1)], weight: w, ignore_index: -100, label_smoothing: 0.1)
                    .ToDouble()
            )
            .Average();
        Assert.True(Math.Abs(perSample - expected.ToDouble()) > 1e-3, $"{perSample} vs {expected.ToDouble()}");
    }

    private static double SigmoidFocal(double[] x, double[] t, double gamma, double alpha, bool weighted)
    {
        double total = 0;
        for (var n = 0; n < N; n++)
        for (var c = 0; c < C; c++)
        for (var s = 0; s < S; s++)
        {
            var k = Hand.K(n, c, s, C, S);
            var (xv, y) = (x[k], t[k]);
            var p = Hand.Sigmoid(xv);
            var bce = y * Hand.Softplus(-xv) + (1 - y) * Hand.Softplus(xv);
            var a = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1;
            total += (weighted ? Weights[c] : 1) * a * bce * Math.Pow((1 - p) * y + p * (1 - y), gamma);
        }
        return total / (N * C * S);
    }

    // MONAI's softmax focal α: 1 - α for class 0, α for the others.
    private static double SoftmaxFocal(double[] x, double[] t, double gamma, double alpha, bool weighted)
    {
        var p = Hand.Softmax(x, N, C, S);
        double total = 0;
        for (var n = 0; n < N; n++)
        for (var c = 0; c < C; c++)
        for (var s = 0; s < S; s++)
        {
            var k = Hand.K(n, c, s, C, S);
            var a = alpha >= 0 ? (c == 0 ? 1 - alpha : alpha) : 1;
            total += (weighted ? Weights[c] : 1) * a * t[k] * Math.Pow(1 - p[k], gamma) * -Math.Log(p[k]);
        }
        return total / (N * S);
    }

    [Theory]
    [InlineData(Activation.Sigmoid, 0.25, false, false)]
    [InlineData(Activation.Sigmoid, -1.0, true, true)]
    [InlineData(Activation.Softmax, 0.25, false, true)]
    [InlineData(Activation.Softmax, 0.6, true, false)]
    public void DiceFocalWithAlphaClassWeightsAndDiceOptionsMatchesItsDefinition(
        Activation focalActivation,
        double alpha,
        bool jaccard,
        bool batch
    )
    {
        var x = Hand.Random(N * C * S, seed: 55);
        var labels = Hand.Labels(N * S, C, seed: 56);
        var t = Hand.OneHot(labels, N, C, S);
        double Reference(double[] v) =>
            DicePart(Hand.Softmax(v, N, C, S), t, false, jaccard, batch, weighted: true)
            + 0.5
                * (
                    focalActivation == Activation.Sigmoid
                        ? SigmoidFocal(v, t, 1.5, alpha, weighted: true)
                        : SoftmaxFocal(v, t, 1.5, alpha, weighted: true)
                );
        using var loss = new DiceFocalLoss(
            lambdaFocal: 0.5,
            gamma: 1.5,
            focalActivation: focalActivation,
            alpha: alpha,
            jaccard: jaccard,
            batch: batch
        )
        {
            ClassWeights = tensor(Weights, float64),
        };
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(Reference, x, Hand.Flat(input.grad!), Entries);
    }

    [Fact]
    public void DiceFocalAlphaOutOfRangeIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new DiceFocalLoss(alpha: 1.5));
        Assert.Equal("alpha", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiceCeLoss(labelSmoothing: -0.1));
    }
}
