using System.Linq;
using Xunit;
using static LossDsl.Tests.Catalog.Hand;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

public class DiceFamilyTests
{
    private const int N = 2,
        C = 3,
        S = 8;

    public static TheoryData<bool, bool, bool, bool> Options()
    {
        var d = new TheoryData<bool, bool, bool, bool>();
        foreach (var squared in new[] { false, true })
        foreach (var jaccard in new[] { false, true })
        foreach (var batch in new[] { false, true })
        foreach (var bg in new[] { true, false })
            d.Add(squared, jaccard, batch, bg);
        return d;
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void DiceSoftmaxWithMaskMatchesLoops(bool squared, bool jaccard, bool batch, bool includeBackground)
    {
        var x = Random(N * C * S, 1, 3);
        var y = Labels(N * S, C, 2);
        var m = Random(N * S, 3, binary: true).Select(v => v == 0).ToArray();
        var expected = Dice(Softmax(x, N, C, S), OneHot(y, N, C, S), N, C, S, squared, jaccard, batch, 1e-5, 1e-5, m);
        using var l = new DiceLoss(
            activation: Activation.Softmax,
            includeBackground: includeBackground,
            squaredPred: squared,
            jaccard: jaccard,
            batch: batch
        );
        var mask = T(m.Select(v => v ? 1.0 : 0.0).ToArray(), N, S);
        Close(Mean(expected, includeBackground), l.forward(T(x, N, C, S), L(y, N, S), mask).item<double>(), 1e-9);
    }

    [Fact]
    public void DiceNoneIsPerSampleAndClassAndZeroForTheExcludedBackground()
    {
        var x = Random(N * C * S, 4, 3);
        var y = Labels(N * S, C, 5);
        var expected = Dice(Softmax(x, N, C, S), OneHot(y, N, C, S), N, C, S);
        for (var n = 0; n < N; n++)
            expected[n, 0] = 0;
        using var l = new DiceLoss(activation: Activation.Softmax, includeBackground: false, reduction: Reduction.None);
        var v = l.forward(T(x, N, C, S), L(y, N, S));
        Assert.Equal(new long[] { N, C }, v.shape);
        Close(Rows(expected), v, 1e-9);
    }

    [Theory]
    [InlineData(0.3, 0.7, false)]
    [InlineData(0.7, 0.3, true)]
    public void TverskyAndFocalTverskySigmoidMatchLoops(double alpha, double beta, bool batch)
    {
        var x = Random(N * C * S, 6, 3);
        var t = Random(N * C * S, 7, binary: true);
        var p = x.Select(Sigmoid).ToArray();
        var ti = TverskyIndex(p, t, N, C, S, alpha, beta, batch);
        var loss = new double[ti.GetLength(0), C];
        var focal = new double[ti.GetLength(0), C];
        for (var r = 0; r < ti.GetLength(0); r++)
        for (var c = 0; c < C; c++)
        {
            loss[r, c] = 1 - ti[r, c];
            focal[r, c] = System.Math.Pow(1 - ti[r, c], 0.75);
        }
        using var tv = new TverskyLoss(alpha: alpha, beta: beta, activation: Activation.Sigmoid, batch: batch);
        Close(Mean(loss), tv.forward(T(x, N, C, S), T(t, N, C, S)).item<double>(), 1e-9);
        using var ft = new FocalTverskyLoss(alpha: alpha, beta: beta, gamma: 0.75, activation: Activation.Sigmoid, batch: batch);
        Close(Mean(focal), ft.forward(T(x, N, C, S), T(t, N, C, S)).item<double>(), 1e-9);
    }

    [Fact]
    public void GeneralizedDiceSquareWeightsMatchLoopsAndAbsentClassesWeighZero()
    {
        var x = Random(N * C * S, 8, 3);
        var y = Labels(N * S, 2, 9); // class 2 absent everywhere
        var p = Softmax(x, N, C, S);
        var t = OneHot(y, N, C, S);
        var expected = new double[N];
        for (var n = 0; n < N; n++)
        {
            double num = 0,
                den = 0;
            for (var c = 0; c < C; c++)
            {
                double tp = 0,
                    ps = 0,
                    ts = 0;
                for (var s = 0; s < S; s++)
                {
                    var k = K(n, c, s, C, S);
                    tp += p[k] * t[k];
                    ps += p[k];
                    ts += t[k];
                }
                var w = ts == 0 ? 0 : 1 / (ts * ts);
                num += w * tp;
                den += w * (ps + ts);
            }
            expected[n] = 1 - (2 * num + 1e-5) / (den + 1e-5);
        }
        using var l = new GeneralizedDiceLoss(reduction: Reduction.None);
        Close(expected, l.forward(T(x, N, C, S), L(y, N, S)), 1e-9);
    }

    [Fact]
    public void LogCoshDiceIsLogCoshOfTheDiceLossPerClass()
    {
        var x = Random(N * C * S, 10, 3);
        var t = Random(N * C * S, 11, binary: true);
        var d = Dice(x.Select(Sigmoid).ToArray(), t, N, C, S);
        var expected = Rows(d).Select(v => System.Math.Log(System.Math.Cosh(v))).Average();
        using var l = new LogCoshDiceLoss(activation: Activation.Sigmoid);
        Close(expected, l.forward(T(x, N, C, S), T(t, N, C, S)).item<double>(), 1e-9);
    }
}
