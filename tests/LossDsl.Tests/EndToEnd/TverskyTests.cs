using System;
using System.Linq;
using LossDsl.Tests.Specs;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.EndToEnd;

/// <summary>The README's Tversky example, generated, against a float64 computation by hand.</summary>
public class TverskyTests
{
    private const int N = 3,
        H = 4,
        W = 5;

    private static double[] Random(int count, int seed, double scale, bool binary = false)
    {
        var rng = new Random(seed);
        return Enumerable
            .Range(0, count)
            .Select(_ => binary ? (rng.NextDouble() < 0.4 ? 1.0 : 0.0) : (rng.NextDouble() * 2 - 1) * scale)
            .ToArray();
    }

    // Per-sample Tversky index from plain arrays: the definition, nothing shared with LossDsl.
    private static double[] HandPerSample(double[] x, double[] t, double[]? m, double alpha, double beta, double smooth)
    {
        var result = new double[N];
        for (var n = 0; n < N; n++)
        {
            double tp = 0,
                fp = 0,
                fn = 0;
            for (var i = 0; i < H * W; i++)
            {
                var k = n * H * W + i;
                if (m is not null && m[k] == 0)
                    continue;
                var p = 1 / (1 + Math.Exp(-x[k]));
                tp += p * t[k];
                fp += p * (1 - t[k]);
                fn += (1 - p) * t[k];
            }
            result[n] = 1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth);
        }
        return result;
    }

    public static TheoryData<bool, bool, Reduction> Cases()
    {
        var data = new TheoryData<bool, bool, Reduction>();
        foreach (var withClassAxis in new[] { true, false })
        foreach (var masked in new[] { false, true })
        foreach (var r in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
            data.Add(withClassAxis, masked, r);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GeneratedTverskyEqualsHandComputation(bool withClassAxis, bool masked, Reduction reduction)
    {
        using var scope = NewDisposeScope();
        var xs = Random(N * H * W, 1, 4);
        var ts = Random(N * H * W, 2, 1, binary: true);
        var ms = masked ? Random(N * H * W, 3, 1, binary: true).Select(v => 1 - v).ToArray() : null;
        long[] shape = withClassAxis ? new long[] { N, 1, H, W } : new long[] { N, H, W };
        var input = tensor(xs, shape, float64);
        var target = tensor(ts, shape, float64);
        var mask = ms is null ? null : tensor(ms, new long[] { N, H, W }, float64);

        using var loss = new Specs.UserTverskyLoss(alpha: 0.4, beta: 0.6, smooth: 0.5, reduction: reduction);
        var value = loss.forward(input, target, mask);
        var expected = HandPerSample(xs, ts, ms, 0.4, 0.6, 0.5);

        switch (reduction)
        {
            case Reduction.Mean:
                Assert.Empty(value.shape);
                AssertClose(expected.Average(), value.item<double>());
                break;
            case Reduction.Sum:
                AssertClose(expected.Sum(), value.item<double>());
                break;
            default:
                Assert.Equal(new long[] { N, 1 }, value.shape);
                var got = value.data<double>().ToArray();
                for (var n = 0; n < N; n++)
                    AssertClose(expected[n], got[n]);
                break;
        }
    }

    [Fact]
    public void FunctionalFormMatchesModuleAndTakesNamedOptions()
    {
        using var scope = NewDisposeScope();
        var input = tensor(Random(N * H * W, 4, 3), new long[] { N, 1, H, W }, float64);
        var target = tensor(Random(N * H * W, 5, 1, binary: true), new long[] { N, 1, H, W }, float64);
        using var module = new Specs.UserTverskyLoss(alpha: 0.5, reduction: Reduction.Sum);
        var viaModule = module.forward(input, target).item<double>();
        var viaFunction = TestSpecs.UserTverskyLoss(input, target, alpha: 0.5, reduction: Reduction.Sum).item<double>();
        Assert.Equal(viaModule, viaFunction, 12);
        Assert.Equal(0.5, module.Alpha);
        Assert.Equal(0.7, module.Beta);
    }

    private static void AssertClose(double expected, double actual)
    {
        // 1e-6 relative, as float64 sums of a few dozen terms agree far closer than this.
        Assert.True(Math.Abs(expected - actual) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");
    }
}
