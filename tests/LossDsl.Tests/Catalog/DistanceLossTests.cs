using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// The exact Euclidean distance transform against brute force (every pair of pixels, integer squared distances, so
/// equality is exact), and the boundary and Hausdorff distance-transform losses against float64 computations on
/// brute-force maps, values and gradients.
/// </summary>
public class DistanceLossTests
{
    private static bool[] RandomMask(int count, int seed, double p)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.NextDouble() < p).ToArray();
    }

    private static int[] Coordinates(long index, long[] shape)
    {
        var c = new int[shape.Length];
        for (var a = shape.Length - 1; a >= 0; a--)
        {
            c[a] = (int)(index % shape[a]);
            index /= shape[a];
        }
        return c;
    }

    // min over feature pixels of the squared distance, by brute force.
    private static double[] BruteSquared(bool[] feature, long[] shape, double[]? spacing = null)
    {
        var result = new double[feature.Length];
        for (var i = 0; i < feature.Length; i++)
        {
            var best = double.PositiveInfinity;
            var ci = Coordinates(i, shape);
            for (var j = 0; j < feature.Length; j++)
            {
                if (!feature[j])
                    continue;
                var cj = Coordinates(j, shape);
                double d = 0;
                for (var a = 0; a < shape.Length; a++)
                {
                    var h = spacing?[a] ?? 1.0;
                    d += (ci[a] - cj[a]) * h * ((ci[a] - cj[a]) * h);
                }
                best = Math.Min(best, d);
            }
            result[i] = best;
        }
        return result;
    }

    [Theory]
    [InlineData(new long[] { 17 }, 0.2)]
    [InlineData(new long[] { 7, 9 }, 0.1)]
    [InlineData(new long[] { 7, 9 }, 0.6)]
    [InlineData(new long[] { 4, 5, 6 }, 0.05)]
    [InlineData(new long[] { 1, 8, 3 }, 0.3)]
    public void TheTransformIsExact(long[] shape, double density)
    {
        var count = (int)shape.Aggregate(1L, (a, b) => a * b);
        for (var seed = 0; seed < 5; seed++)
        {
            var feature = RandomMask(count, seed * 31 + count, density);
            Assert.Equal(BruteSquared(feature, shape), DistanceTransform.SquaredDistanceTo(feature, shape));
        }
        Assert.All(DistanceTransform.SquaredDistanceTo(new bool[count], shape), d => Assert.True(double.IsPositiveInfinity(d)));
    }

    [Theory]
    [InlineData(new long[] { 17 }, new[] { 0.3 })]
    [InlineData(new long[] { 7, 9 }, new[] { 0.5, 2.0 })]
    [InlineData(new long[] { 4, 5, 6 }, new[] { 3.0, 1.0, 0.7 })]
    public void TheTransformIsExactWithAnisotropicSpacing(long[] shape, double[] spacing)
    {
        var count = (int)shape.Aggregate(1L, (a, b) => a * b);
        for (var seed = 0; seed < 5; seed++)
        {
            var feature = RandomMask(count, seed * 17 + count, 0.15);
            var expected = BruteSquared(feature, shape, spacing);
            var actual = DistanceTransform.SquaredDistanceTo(feature, shape, spacing);
            // Products of non-integer spacings: equal up to rounding.
            for (var i = 0; i < count; i++)
                if (double.IsPositiveInfinity(expected[i]))
                    Assert.True(double.IsPositiveInfinity(actual[i]));
                else
                    Assert.True(
                        Math.Abs(expected[i] - actual[i]) <= 1e-12 * Math.Max(1, expected[i]),
                        $"at {i}: {expected[i]} vs {actual[i]}"
                    );
        }
        Assert.Throws<ArgumentException>(() => DistanceTransform.SquaredDistanceTo(new bool[count], shape, spacing.Append(1.0).ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            DistanceTransform.SquaredDistanceTo(new bool[count], shape, spacing.Select(_ => 0.0).ToArray())
        );
    }

    private static double[] BruteEuclidean(bool[] inside, long[] shape, double[]? spacing = null)
    {
        if (inside.All(x => x))
            return new double[inside.Length];
        return BruteSquared(inside.Select(x => !x).ToArray(), shape, spacing).Select(Math.Sqrt).ToArray();
    }

    [Fact]
    public void SignedAndBoundaryMapsFollowTheirDefinitions()
    {
        var shape = new long[] { 6, 7 };
        var region = RandomMask(42, 5, 0.4);
        var outside = region.Select(x => !x).ToArray();
        var din = BruteEuclidean(region, shape);
        var dout = BruteEuclidean(outside, shape);
        var signed = DistanceTransform.Signed(region, shape);
        var boundary = DistanceTransform.ToBoundary(region, shape);
        for (var i = 0; i < region.Length; i++)
        {
            Assert.Equal(region[i] ? -(din[i] - 1) : dout[i], signed[i], 12);
            Assert.Equal(din[i] + dout[i], boundary[i], 12);
        }
        Assert.All(DistanceTransform.Signed(new bool[42], shape), v => Assert.Equal(0.0, v));
        Assert.All(DistanceTransform.ToBoundary(new bool[42], shape), v => Assert.Equal(0.0, v));
        Assert.All(DistanceTransform.Euclidean(Enumerable.Repeat(true, 42).ToArray(), shape), v => Assert.Equal(0.0, v));
    }

    private const int N = 2,
        C = 3,
        H = 5,
        W = 6,
        S = H * W;

    private static readonly long[] Spatial = { H, W };

    private static double[] Maps(double[] values, Func<bool[], double[]> map)
    {
        var result = new double[values.Length];
        for (var ch = 0; ch < N * C; ch++)
        {
            var region = Enumerable.Range(0, S).Select(i => values[ch * S + i] > 0.5).ToArray();
            Array.Copy(map(region), 0, result, ch * S, S);
        }
        return result;
    }

    private static double[] SignedBrute(bool[] region) => SignedBrute(region, null);

    private static double[] SignedBrute(bool[] region, double[]? spacing)
    {
        if (!region.Any(x => x))
            return new double[region.Length];
        var din = BruteEuclidean(region, Spatial, spacing);
        var dout = BruteEuclidean(region.Select(x => !x).ToArray(), Spatial, spacing);
        return region.Select((r, i) => r ? -(din[i] - 1) : dout[i]).ToArray();
    }

    private static double[] BoundaryBrute(bool[] region)
    {
        if (!region.Any(x => x))
            return new double[region.Length];
        var din = BruteEuclidean(region, Spatial);
        var dout = BruteEuclidean(region.Select(x => !x).ToArray(), Spatial);
        return din.Zip(dout, (a, b) => a + b).ToArray();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BoundaryLossIsTheMeanOfProbabilityTimesSignedDistance(bool includeBackground)
    {
        var x = Hand.Random(N * C * S, seed: 91);
        var labels = Hand.Labels(N * S, C, seed: 92);
        var t = Hand.OneHot(labels, N, C, S);
        var phi = Maps(t, SignedBrute);
        double Reference(double[] v)
        {
            var p = Hand.Softmax(v, N, C, S);
            double total = 0;
            var count = 0;
            for (var n = 0; n < N; n++)
            for (var c = includeBackground ? 0 : 1; c < C; c++)
            for (var s = 0; s < S; s++)
            {
                var k = Hand.K(n, c, s, C, S);
                total += p[k] * phi[k];
                count++;
            }
            return total / count;
        }
        using var loss = new BoundaryLoss(includeBackground: includeBackground);
        var input = Hand.T(x, N, C, H, W).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, H, W));
        Hand.Close(Reference(x), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(Reference, x, Hand.Flat(input.grad!), new[] { 0, 13, 29, 47, 66, 88, 101, 170 });
    }

    [Fact]
    public void BoundaryLossMeasuresDistancesInTheGivenSpacing()
    {
        // Kervadec's one_hot2dist with a resolution: distances in physical units, the inside offset 1 unchanged.
        var spacing = new[] { 2.5, 0.8 };
        var x = Hand.Random(N * C * S, seed: 95);
        var labels = Hand.Labels(N * S, C, seed: 96);
        var t = Hand.OneHot(labels, N, C, S);
        var phi = Maps(t, r => SignedBrute(r, spacing));
        var p = Hand.Softmax(x, N, C, S);
        var expected = p.Zip(phi, (a, b) => a * b).Sum() / p.Length;
        using var loss = new BoundaryLoss(spacing: spacing);
        var value = loss.forward(Hand.T(x, N, C, H, W), Hand.L(labels, N, H, W));
        Hand.Close(expected, value.ToDouble(), 1e-12);
        using var unit = new BoundaryLoss();
        Assert.NotEqual(unit.forward(Hand.T(x, N, C, H, W), Hand.L(labels, N, H, W)).ToDouble(), value.ToDouble(), 6);
        // The tensor form a DSL boundary loss reads gives the same map.
        var map = DistanceTransform.Signed(Hand.T(t, N, C, H, W), spacing);
        Hand.Close(phi.Sum(), map.sum().ToDouble(), 1e-12);

        var bad = Assert.Throws<ArgumentException>(() =>
            new BoundaryLoss(spacing: new[] { 1.0 }).forward(Hand.T(x, N, C, H, W), Hand.L(labels, N, H, W))
        );
        Assert.Contains("spacing has 1 values and the input 2 spatial axes", bad.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new HausdorffDtLoss(spacing: new[] { 1.0, -2.0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoundaryLoss(spacing: new[] { double.NaN, 1.0 }));
    }

    [Fact]
    public void HausdorffDtLossWeighsTheSquaredErrorByBothDistanceFields()
    {
        var x = Hand.Random(N * C * S, seed: 93);
        var labels = Hand.Labels(N * S, C, seed: 94);
        var t = Hand.OneHot(labels, N, C, S);
        var p = x.Select(Hand.Sigmoid).ToArray();
        var dp = Maps(p, BoundaryBrute);
        var dt = Maps(t, BoundaryBrute);
        // The distance fields carry no gradient: d/dx of (p - t)² (dp² + dt²) with the fields held.
        double total = 0;
        var grad = new double[x.Length];
        for (var k = 0; k < x.Length; k++)
        {
            var d = dp[k] * dp[k] + dt[k] * dt[k];
            total += (p[k] - t[k]) * (p[k] - t[k]) * d;
            grad[k] = 2 * (p[k] - t[k]) * d * p[k] * (1 - p[k]) / x.Length;
        }
        using var loss = new HausdorffDtLoss();
        var input = Hand.T(x, N, C, H, W).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, H, W));
        Hand.Close(total / x.Length, value.ToDouble(), 1e-12);
        value.backward();
        var actual = Hand.Flat(input.grad!);
        for (var k = 0; k < x.Length; k++)
            Hand.Close(grad[k], actual[k], 1e-12);
        Assert.True(value.ToDouble() > 0);
    }

    [Fact]
    public void MasksReductionsAndBadOptionsAreHandled()
    {
        var x = randn(new long[] { 2, 3, 5, 6 }, dtype: float64, requires_grad: true);
        var y = randint(0, 3, new long[] { 2, 5, 6 });
        var keep = rand(new long[] { 2, 5, 6 }) > 0.3;
        using var perSample = new HausdorffDtLoss(reduction: Reduction.None);
        using var mean = new HausdorffDtLoss();
        using var sum = new HausdorffDtLoss(reduction: Reduction.Sum);
        var perClass = perSample.forward(x, y, keep);
        Assert.Equal(new long[] { 2, 3 }, perClass.shape);
        Hand.Close(perClass.sum().ToDouble(), sum.forward(x, y, keep).ToDouble(), 1e-12);
        Hand.Close(perClass.mean().ToDouble(), mean.forward(x, y, keep).ToDouble(), 1e-12);
        using var foregroundOnly = new HausdorffDtLoss(includeBackground: false, reduction: Reduction.None);
        Assert.Equal(new long[] { 2, 2 }, foregroundOnly.forward(x, y).shape);
        mean.forward(x, y, keep).backward();
        var g = x.grad!.permute(1, 0, 2, 3);
        Assert.Equal(0.0, g.masked_select(keep.logical_not().unsqueeze(0).expand(3, 2, 5, 6)).abs().sum().ToDouble());
        using var dropping = new BoundaryLoss(includeBackground: false);
        Assert.Throws<ArgumentException>(() => dropping.forward(randn(2, 1, 4, 4), zeros(2, 1, 4, 4)));
        using var softmax = new BoundaryLoss();
        Assert.Throws<ArgumentException>(() => softmax.forward(randn(2, 1, 4, 4), zeros(2, 1, 4, 4)));
        Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => new HausdorffDtLoss(alpha: -1)).ParamName);
        // One-channel binary segmentation with a sigmoid works.
        using var binary = new BoundaryLoss(activation: Activation.Sigmoid);
        Assert.True(double.IsFinite(binary.forward(randn(2, 1, 4, 4), (rand(2, 1, 4, 4) > 0.5).to(float32)).ToDouble()));
    }

    [Fact]
    public void InvalidPixelsBelongToNoClassInTheMaps()
    {
        var x = randn(new long[] { 2, 3, 5, 6 }, dtype: float64);
        var labels = randint(0, 3, new long[] { 2, 5, 6 });
        var valid = rand(new long[] { 2, 5, 6 }) > 0.3;
        var ignored = labels.masked_fill(valid.logical_not(), -100);
        // The same pixels as a mask, with a per-class target that is 0 in every class there.
        var perClass = nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).to(float64) * valid.unsqueeze(1).to(float64);
        using var boundary = new BoundaryLoss();
        using var hausdorff = new HausdorffDtLoss(activation: Activation.Softmax);
        foreach (var loss in new DistanceMapLoss[] { boundary, hausdorff })
        {
            var byIndex = loss.forward(x, ignored).ToDouble();
            Hand.Close(loss.forward(x, perClass, valid).ToDouble(), byIndex, 1e-12);
            // Whatever the target holds under the mask (here class 0) does not enter the maps.
            var asBackground = nn.functional.one_hot(labels.masked_fill(valid.logical_not(), 0), 3).permute(0, 3, 1, 2).to(float64);
            Hand.Close(byIndex, loss.forward(x, asBackground, valid).ToDouble(), 1e-12);
            Assert.NotEqual(byIndex, loss.forward(x, asBackground).ToDouble());
        }
    }

    // MONAI's published values, tests/losses/test_hausdorff_loss.py (Project-MONAI/MONAI), printed to six digits.
    private static void Published(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-5 * Math.Abs(expected), $"expected {expected}, got {actual}");

    [Fact]
    public void HausdorffDtLossMatchesMonaisPublishedValues()
    {
        using var sigmoid = new HausdorffDtLoss();
        var x2 = tensor(new[] { 1.0, -1.0, -1.0, 1.0 }, new long[] { 1, 1, 2, 2 });
        Published(0.509329, sigmoid.forward(x2, tensor(new[] { 1.0, 0.0, 1.0, 1.0 }, new long[] { 1, 1, 2, 2 })).ToDouble());
        // The same image as a 1 x 2 x 2 volume.
        Published(
            0.509329,
            sigmoid.forward(x2.reshape(1, 1, 1, 2, 2), tensor(new[] { 1.0, 0.0, 1.0, 1.0 }, new long[] { 1, 1, 1, 2, 2 })).ToDouble()
        );
        var x3 = tensor(new[] { 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0 }, new long[] { 1, 1, 2, 2, 2 });
        var t3 = tensor(new[] { 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0 }, new long[] { 1, 1, 2, 2, 2 });
        Published(0.375718, sigmoid.forward(x3, t3).ToDouble());
        var xc = tensor(new[] { 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0 }, new long[] { 1, 2, 2, 2 });
        var tc = tensor(new[] { 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0 }, new long[] { 1, 2, 2, 2 });
        Published(0.326994, sigmoid.forward(xc, tc).ToDouble());
        using var foreground = new HausdorffDtLoss(includeBackground: false);
        Published(0.144659, foreground.forward(xc, tc).ToDouble());
        // A batch whose first target covers the whole image (no boundary: its field is 0).
        var xb = tensor(new[] { 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0 }, new long[] { 2, 1, 2, 2 });
        var tb = tensor(new[] { 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0 }, new long[] { 2, 1, 2, 2 });
        Published(0.455082, sigmoid.forward(xb, tb).ToDouble());

        // Two channels against class indices (MONAI's to_onehot_y).
        var xi = tensor(new[] { -1.0, 0.0, 1.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0 }, new long[] { 2, 2, 3, 1 });
        var ti = tensor(new long[] { 1, 0, 0, 1, 1, 0 }, new long[] { 2, 3, 1 });
        using var perSample = new HausdorffDtLoss(reduction: Reduction.None);
        var values = perSample.forward(xi, ti);
        Assert.Equal(new long[] { 2, 2 }, values.shape);
        Published(0.407765, values[0, 0].ToDouble());
        Published(0.407765, values[0, 1].ToDouble());
        Published(0.5, values[1, 0].ToDouble());
        Published(0.5, values[1, 1].ToDouble());
        using var softmax = new HausdorffDtLoss(activation: Activation.Softmax);
        Published(0.357016, softmax.forward(xi, ti).ToDouble());
        using var softmaxSum = new HausdorffDtLoss(activation: Activation.Softmax, reduction: Reduction.Sum);
        Published(1.428062, softmaxSum.forward(xi, ti).ToDouble());
    }
}
