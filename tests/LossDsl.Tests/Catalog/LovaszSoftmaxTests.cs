using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// LovaszSoftmaxLoss against an independent float64 transcription of Berman et al.'s algorithm (sort the errors
/// |y_c - p_c|, weigh each by the step of the Jaccard loss it adds), values and central-difference gradients;
/// smp's defaults (batch, present classes) and kornia's form (per image, all classes, class weights).
/// </summary>
public class LovaszSoftmaxTests
{
    private const int N = 2,
        C = 3,
        S = 15;

    // The loss of one set of pixels: (n, s) pairs.
    private static double Set(double[] p, double[] t, IReadOnlyList<(int N, int S)> pixels, bool onlyPresent, double[] w)
    {
        var terms = new List<double>();
        for (var c = 0; c < C; c++)
        {
            var truth = pixels.Select(q => t[Hand.K(q.N, c, q.S, C, S)]).ToArray();
            if (onlyPresent && truth.Sum() == 0)
                continue;
            var errors = pixels.Select(q => Math.Abs(t[Hand.K(q.N, c, q.S, C, S)] - p[Hand.K(q.N, c, q.S, C, S)])).ToArray();
            terms.Add(w[c] * Hand.LovaszExtension(errors, truth));
        }
        return terms.Count == 0 ? 0 : terms.Average();
    }

    private static double Reference(double[] x, long[] labels, bool[]? valid, bool perImage, bool onlyPresent, double[] w)
    {
        var p = Hand.Softmax(x, N, C, S);
        var t = Hand.OneHot(labels, N, C, S);
        bool Valid(int n, int s) => valid is null || valid[n * S + s];
        if (!perImage)
        {
            var all = Enumerable.Range(0, N).SelectMany(n => Enumerable.Range(0, S).Where(s => Valid(n, s)).Select(s => (n, s))).ToList();
            return Set(p, t, all, onlyPresent, w);
        }
        return Enumerable
            .Range(0, N)
            .Select(n => Set(p, t, Enumerable.Range(0, S).Where(s => Valid(n, s)).Select(s => (n, s)).ToList(), onlyPresent, w))
            .Average();
    }

    private static readonly int[] Entries = { 0, 8, 17, 31, 44, 60, 77, 89 };

    [Fact]
    public void SmpDefaultsPoolTheBatchAndAverageThePresentClasses()
    {
        var x = Hand.Random(N * C * S, seed: 61);
        // Class 2 is absent: with present classes only it does not enter the mean.
        var labels = Hand.Labels(N * S, 2, seed: 62);
        var ones = new[] { 1.0, 1.0, 1.0 };
        using var loss = new LovaszSoftmaxLoss();
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S));
        Hand.Close(Reference(x, labels, null, false, true, ones), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(v => Reference(v, labels, null, false, true, ones), x, Hand.Flat(input.grad!), Entries);
        using var all = new LovaszSoftmaxLoss(onlyPresent: false);
        Hand.Close(Reference(x, labels, null, false, false, ones), all.forward(Hand.T(x, N, C, S), Hand.L(labels, N, S)).ToDouble(), 1e-12);
        Assert.NotEqual(value.ToDouble(), all.forward(Hand.T(x, N, C, S), Hand.L(labels, N, S)).ToDouble());
    }

    [Fact]
    public void PerImageWithAllClassesClassWeightsAndAMaskIsKorniasFormWithValidPixelsOnly()
    {
        var x = Hand.Random(N * C * S, seed: 63);
        var labels = Hand.Labels(N * S, C, seed: 64);
        var rng = new Random(65);
        var valid = Enumerable.Range(0, N * S).Select(_ => rng.NextDouble() > 0.3).ToArray();
        var w = new[] { 0.5, 2.0, 1.5 };
        using var loss = new LovaszSoftmaxLoss(perImage: true, onlyPresent: false, classWeights: tensor(w, float64));
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var mask = tensor(valid, new long[] { N, S });
        var value = loss.forward(input, Hand.L(labels, N, S), mask);
        Hand.Close(Reference(x, labels, valid, true, false, w), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(v => Reference(v, labels, valid, true, false, w), x, Hand.Flat(input.grad!), Entries);
        // Masked pixels get no gradient.
        var grad = Hand.Flat(input.grad!);
        for (var n = 0; n < N; n++)
        for (var s = 0; s < S; s++)
            if (!valid[n * S + s])
                for (var c = 0; c < C; c++)
                    Assert.Equal(0.0, grad[Hand.K(n, c, s, C, S)]);
    }

    [Fact]
    public void IgnoredPixelsAreLeftOutAsMaskedOnesAre()
    {
        var x = Hand.T(Hand.Random(N * C * S, seed: 66), N, C, S);
        var labels = Hand.Labels(N * S, C, seed: 67);
        var ignored = (long[])labels.Clone();
        var valid = new bool[N * S];
        for (var i = 0; i < N * S; i++)
        {
            valid[i] = i % 4 != 0;
            if (!valid[i])
                ignored[i] = -100;
        }
        using var loss = new LovaszSoftmaxLoss(perImage: true);
        var byIndex = loss.forward(x, Hand.L(ignored, N, S)).ToDouble();
        var byMask = loss.forward(x, Hand.L(labels, N, S), tensor(valid, new long[] { N, S })).ToDouble();
        Hand.Close(byMask, byIndex, 1e-14);
    }

    [Fact]
    public void AConfidentCorrectPredictionScoresNearZeroAndEveryValueIsInTheUnitInterval()
    {
        var labels = Hand.Labels(N * S, C, seed: 68);
        var t = Hand.OneHot(labels, N, C, S);
        using var loss = new LovaszSoftmaxLoss(perImage: true, reduction: Reduction.None);
        var confident = loss.forward(Hand.T(t.Select(v => v * 30).ToArray(), N, C, S), Hand.L(labels, N, S));
        Assert.Equal(new long[] { N }, confident.shape);
        Assert.True(confident.max().ToDouble() < 1e-9);
        var wrong = loss.forward(Hand.T(t.Select(v => (1 - v) * 30).ToArray(), N, C, S), Hand.L(labels, N, S));
        Assert.True(wrong.min().ToDouble() > 0.9 && wrong.max().ToDouble() <= 1 + 1e-12);
    }

    [Fact]
    public void OneChannelAndAnEmptyMaskAreHandled()
    {
        using var loss = new LovaszSoftmaxLoss();
        var e = Assert.Throws<ArgumentException>(() => loss.forward(randn(2, 1, 4, 4), zeros(2, 4, 4, dtype: int64)));
        Assert.Contains("single channel", e.Message);
        var x = randn(new long[] { 2, 3, 4, 4 }, requires_grad: true);
        var value = loss.forward(x, zeros(2, 4, 4, dtype: int64), zeros(2, 4, 4, dtype: @bool));
        Assert.Equal(0.0, value.ToDouble());
        value.backward();
        Assert.Equal(0.0, x.grad!.abs().sum().ToDouble());
    }
}
