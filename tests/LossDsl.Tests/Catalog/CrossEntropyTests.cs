using System;
using System.Linq;
using Xunit;
using static LossDsl.Tests.Catalog.Hand;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

public class CrossEntropyTests
{
    private const int N = 2,
        C = 3,
        S = 6;

    [Theory]
    [InlineData(1.0, 1.0, 0.0)]
    [InlineData(3.0, 0.5, 0.0)]
    [InlineData(2.0, 1.0, 0.2)]
    public void BceOnLogitsMatchesTheFormulaForEveryReduction(double pw, double nw, double ls)
    {
        var x = Random(N * S, 1, 6);
        var y = Random(N * S, 2, binary: true);
        var m = Random(N * S, 3, binary: true).Select(v => 1 - v).ToArray();
        var expected = new double[N * S];
        for (var i = 0; i < expected.Length; i++)
        {
            var yy = y[i] * (1 - ls) + ls / 2;
            expected[i] = m[i] == 0 ? 0 : pw * yy * Softplus(-x[i]) + nw * (1 - yy) * Softplus(x[i]);
        }
        var valid = m.Count(v => v != 0);
        using var mean = new BceLoss(posWeight: pw, negWeight: nw, labelSmoothing: ls);
        Close(expected.Sum() / valid, mean.forward(T(x, N, 1, S), T(y, N, 1, S), T(m, N, S)).item<double>());
        Close(expected.Sum(), BceLoss_(x, y, m, pw, nw, ls, Reduction.Sum).item<double>());
        var none = BceLoss_(x, y, m, pw, nw, ls, Reduction.None);
        Assert.Equal(new long[] { N, 1, S }, none.shape);
        Close(expected, none);
    }

    private static Tensor BceLoss_(double[] x, double[] y, double[] m, double pw, double nw, double ls, Reduction r) =>
        Losses.BceLoss(T(x, N, 1, S), T(y, N, 1, S), T(m, N, S), posWeight: pw, negWeight: nw, labelSmoothing: ls, reduction: r);

    [Fact]
    public void BceOnProbabilitiesClampsAndMatchesTheFormula()
    {
        var p = new[] { 0.0, 0.2, 0.7, 1.0 };
        var y = new[] { 0.0, 1.0, 0.3, 1.0 };
        const double eps = 1e-7;
        var expected = p.Zip(
                y,
                (pp, yy) =>
                {
                    var c = Math.Clamp(pp, eps, 1 - eps);
                    return -(yy * Math.Log(c) + (1 - yy) * Math.Log(1 - c));
                }
            )
            .ToArray();
        using var l = new BceLoss(fromLogits: false, reduction: Reduction.None);
        var v = l.forward(T(p, 4), T(y, 4));
        Assert.Equal(new long[] { 4 }, v.shape); // binary input without a class axis keeps its shape
        Close(expected, v);
    }

    [Fact]
    public void BceEqualsTorchBinaryCrossEntropyWithLogitsAndPosWeight()
    {
        var x = T(Random(N * S, 4, 5), N, 1, S);
        var y = T(Random(N * S, 5, binary: true), N, 1, S);
        using var pw = tensor(2.5, float64);
        using var torchValue = nn.functional.binary_cross_entropy_with_logits(x, y, pos_weights: pw);
        Close(torchValue.item<double>(), Losses.BceLoss(x, y, posWeight: 2.5).item<double>());
    }

    // PyTorch's nn.CrossEntropyLoss is the reference CrossEntropyLoss follows; here it is computed by hand.
    private static double[] CePerPixel(double[] x, long[] y, double[] w, double ls, out double[] weight)
    {
        var p = Softmax(x, N, C, S);
        var result = new double[N * S];
        weight = new double[N * S];
        for (var n = 0; n < N; n++)
        for (var s = 0; s < S; s++)
        {
            var target = y[n * S + s];
            if (target == -100)
                continue;
            double smooth = 0;
            for (var c = 0; c < C; c++)
                smooth += -w[c] * Math.Log(p[K(n, c, s, C, S)]);
            var nll = -w[target] * Math.Log(p[K(n, (int)target, s, C, S)]);
            result[n * S + s] = (1 - ls) * nll + ls / C * smooth;
            weight[n * S + s] = w[target];
        }
        return result;
    }

    [Theory]
    [InlineData(false, 0.0)]
    [InlineData(true, 0.0)]
    [InlineData(true, 0.1)]
    public void CrossEntropyWithWeightsIgnoreIndexAndSmoothing(bool weighted, double ls)
    {
        var x = Random(N * C * S, 6, 4);
        var y = Labels(N * S, C, 7);
        y[1] = -100;
        y[8] = -100;
        var w = weighted ? new[] { 0.2, 1.0, 3.0 } : new[] { 1.0, 1.0, 1.0 };
        var expected = CePerPixel(x, y, w, ls, out var weight);
        using var cw = weighted ? tensor(w, float64) : null;
        using var mean = new CrossEntropyLoss(labelSmoothing: ls, classWeights: cw);
        Close(expected.Sum() / weight.Sum(), mean.forward(T(x, N, C, S), L(y, N, S)).item<double>());
        using var none = new CrossEntropyLoss(labelSmoothing: ls, classWeights: cw, reduction: Reduction.None);
        var v = none.forward(T(x, N, C, S), L(y, N, S));
        Assert.Equal(new long[] { N, S }, v.shape);
        Close(expected, v);
        using var sum = new CrossEntropyLoss(labelSmoothing: ls, classWeights: cw, reduction: Reduction.Sum);
        Close(expected.Sum(), sum.forward(T(x, N, C, S), L(y, N, S)).item<double>());
    }

    [Fact]
    public void CrossEntropyEqualsTorchCrossEntropyIncludingVoidLabel255()
    {
        var x = T(Random(N * C * S, 8, 4), N, C, S);
        var labels = Labels(N * S, C, 9);
        labels[3] = 255;
        var y = L(labels, N, S);
        using var w = tensor(new[] { 0.5, 2.0, 1.0 }, float64);
        using var torchValue = nn.functional.cross_entropy(x, y, w, ignore_index: 255, label_smoothing: 0.1);
        using var ours = new CrossEntropyLoss(labelSmoothing: 0.1, classWeights: w, ignoreIndex: 255);
        Close(torchValue.item<double>(), ours.forward(x, y).item<double>());
    }

    [Fact]
    public void CrossEntropyWithOneHotFloatTargetsEqualsIndexTargets()
    {
        var x = T(Random(N * C * S, 10, 4), N, C, S);
        var labels = Labels(N * S, C, 11);
        using var w = tensor(new[] { 0.5, 2.0, 1.0 }, float64);
        using var l = new CrossEntropyLoss(classWeights: w);
        Close(l.forward(x, L(labels, N, S)).item<double>(), l.forward(x, T(OneHot(labels, N, C, S), N, C, S)).item<double>());
    }
}
