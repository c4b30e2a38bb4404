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
