using System;
using System.Linq;
using Xunit;
using static LossDsl.Tests.Catalog.Hand;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

public class FocalTests
{
    private const int N = 2,
        C = 3,
        S = 5;

    [Theory]
    [InlineData(2.0, -1.0)]
    [InlineData(0.0, -1.0)]
    [InlineData(1.5, 0.25)]
    public void BinaryFocalMatchesTheDefinition(double gamma, double alpha)
    {
        var x = Random(N * S, 1, 5);
        var y = Random(N * S, 2, binary: true);
        var expected = x.Zip(
                y,
                (xx, yy) =>
                {
                    var p = Sigmoid(xx);
                    var pos = yy * Math.Pow(1 - p, gamma) * -Math.Log(p);
                    var neg = (1 - yy) * Math.Pow(p, gamma) * -Math.Log(1 - p);
                    return alpha >= 0 ? alpha * pos + (1 - alpha) * neg : pos + neg;
                }
            )
            .ToArray();
        using var l = new BinaryFocalLoss(gamma: gamma, alpha: alpha, reduction: Reduction.None);
        var v = l.forward(T(x, N, 1, S), T(y, N, 1, S));
        Assert.Equal(new long[] { N, 1, S }, v.shape);
        Close(expected, v, 1e-9);
        Close(expected.Average(), Losses.BinaryFocalLoss(T(x, N, 1, S), T(y, N, 1, S), gamma: gamma, alpha: alpha).item<double>(), 1e-9);
    }

    // smp's focal_loss_with_logits (segmentation_models_pytorch/losses/_functional.py), transcribed in doubles:
    // logpt = BCE, pt = exp(-logpt), focal_term = (1 - pt)^γ or, with reduced_threshold, ((1 - pt) / thr)^γ and
    // 1 where pt < thr; loss = focal_term · logpt · (α y + (1 - α)(1 - y)); normalized: loss / max(Σ focal_term,
    // 1e-6); then mean or sum over every element.
    private static double SmpFocal(double[] x, double[] y, double gamma, double alpha, bool normalized, double threshold, bool sum)
    {
        var terms = new double[x.Length];
        var focal = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            var logpt = Softplus(x[i]) - y[i] * x[i];
            var pt = Math.Exp(-logpt);
            focal[i] = threshold > 0 ? (pt < threshold ? 1 : Math.Pow((1 - pt) / threshold, gamma)) : Math.Pow(1 - pt, gamma);
            terms[i] = focal[i] * logpt * (alpha >= 0 ? alpha * y[i] + (1 - alpha) * (1 - y[i]) : 1);
        }
        var norm = normalized ? Math.Max(focal.Sum(), 1e-6) : 1;
        var total = terms.Sum() / norm;
        return sum ? total : total / x.Length;
    }

    [Theory]
    [InlineData(2.0, -1.0, true, 0.0, false)]
    [InlineData(2.0, 0.25, true, 0.0, true)]
    [InlineData(2.0, -1.0, false, 0.5, false)]
    [InlineData(1.5, 0.25, false, 0.3, true)]
    [InlineData(2.0, 0.25, true, 0.7, false)]
    public void BinaryFocalNormalizedAndReducedMatchSmp(double gamma, double alpha, bool normalized, double threshold, bool sum)
    {
        var x = Random(N * S * 4, 11, 4);
        var y = Random(N * S * 4, 12, binary: true);
        var reduction = sum ? Reduction.Sum : Reduction.Mean;
        using var l = new BinaryFocalLoss(
            gamma: gamma,
            alpha: alpha,
            normalized: normalized,
            reducedThreshold: threshold,
            reduction: reduction
        );
        var input = T(x, N, 1, S * 4).requires_grad_(true);
        var v = l.forward(input, T(y, N, 1, S * 4));
        Close(SmpFocal(x, y, gamma, alpha, normalized, threshold, sum), v.item<double>(), 1e-10);
        v.backward();
        // The modulator's step is taken as flat (as autograd treats smp's masked assignment); away from the
        // threshold the gradient is the derivative of smp's loss.
        CloseToCentralDifferences(
            xs => SmpFocal(xs, y, gamma, alpha, normalized, threshold, sum),
            x,
            Flat(input.grad!),
            Enumerable.Range(0, x.Length).ToArray()
        );
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void ReducedThresholdOutsideItsRangeIsRejected(double threshold)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new BinaryFocalLoss(reducedThreshold: threshold));
        Assert.Equal("reducedThreshold", e.ParamName);
    }

    [Fact]
    public void BinaryFocalWithGammaZeroIsBce()
    {
        var x = T(Random(N * S, 3, 5), N, 1, S);
        var y = T(Random(N * S, 4, binary: true), N, 1, S);
        Close(Losses.BceLoss(x, y).item<double>(), Losses.BinaryFocalLoss(x, y, gamma: 0).item<double>());
    }

    [Theory]
    [InlineData(2.0, false, 0.0)]
    [InlineData(1.0, true, 0.0)]
    [InlineData(2.0, true, 0.1)]
    public void SoftmaxFocalMatchesTheDefinition(double gamma, bool weighted, double ls)
    {
        var x = Random(N * C * S, 5, 4);
        var y = Labels(N * S, C, 6);
        var w = weighted ? new[] { 0.25, 1.0, 2.0 } : new[] { 1.0, 1.0, 1.0 };
        var p = Softmax(x, N, C, S);
        var expected = new double[N * S];
        for (var n = 0; n < N; n++)
        for (var s = 0; s < S; s++)
        for (var c = 0; c < C; c++)
        {
            var pc = p[K(n, c, s, C, S)];
            var yt = (c == y[n * S + s] ? 1.0 : 0.0) * (1 - ls) + ls / C;
            expected[n * S + s] += w[c] * Math.Pow(1 - pc, gamma) * -yt * Math.Log(pc);
        }
        using var cw = weighted ? tensor(w, float64) : null;
        using var l = new FocalLoss(gamma: gamma, labelSmoothing: ls, classWeights: cw, reduction: Reduction.None);
        var v = l.forward(T(x, N, C, S), L(y, N, S));
        Assert.Equal(new long[] { N, S }, v.shape);
        Close(expected, v, 1e-9);
    }

    [Fact]
    public void SoftmaxFocalWithGammaZeroIsUnweightedMeanCrossEntropy()
    {
        var x = T(Random(N * C * S, 7, 4), N, C, S);
        var y = L(Labels(N * S, C, 8), N, S);
        Close(Losses.CrossEntropyLoss(x, y).item<double>(), Losses.FocalLoss(x, y, gamma: 0).item<double>());
    }
}
