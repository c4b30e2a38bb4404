using System;
using System.Collections.Generic;
using System.Linq;
using LossDsl.Tests.Specs;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.EndToEnd;

/// <summary>
/// Named maps (<see cref="Dsl.PixelMap"/>, <see cref="Dsl.ClassMap"/>): specs that read extra per-pixel or per-class
/// tensors, checked against losses computed independently (the hand-written boundary loss, torch's weighted BCE) in
/// float64 (1e-12: summation order only), on every execution path; and the rejection of missing, unknown and bad maps.
/// </summary>
public class NamedMapTests
{
    private static Dictionary<string, Tensor> Maps(params (string Name, Tensor Map)[] maps) =>
        maps.ToDictionary(m => m.Name, m => m.Map, StringComparer.Ordinal);

    [Theory]
    [InlineData(ExecutionMode.Auto)]
    [InlineData(ExecutionMode.TorchSharp)]
    [InlineData(ExecutionMode.Autograd)]
    public void ABoundaryLossDeclaredWithADistanceMapEqualsTheHandWrittenBoundaryLoss(ExecutionMode mode)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(41);
        var x = randn(new long[] { 2, 3, 9, 11 }, dtype: float64, generator: g) * 2;
        var y = randint(0, 3, new long[] { 2, 9, 11 }, generator: g);
        var onehot = nn.functional.one_hot(y, 3).permute(0, 3, 1, 2).to(float64);
        var distance = DistanceTransform.Signed(onehot);
        Assert.True(distance.abs().sum().item<double>() > 0, "the distance map is not all 0");

        using var declared = new MapBoundaryLoss { Mode = mode };
        using var handWritten = new BoundaryLoss();
        var xa = x.detach().requires_grad_(true);
        var value = declared.forward(xa, y, null, null, Maps(("distance", distance)));
        var xb = x.detach().requires_grad_(true);
        var expected = handWritten.forward(xb, y);
        GeneratedParityTests.AssertClose(expected, value, 1e-12, "value");
        value.backward();
        expected.backward();
        GeneratedParityTests.AssertClose(xb.grad!, xa.grad!, 1e-12, "gradient");
    }

    [Theory]
    [InlineData(Reduction.Mean, ExecutionMode.Auto)]
    [InlineData(Reduction.Sum, ExecutionMode.TorchSharp)]
    [InlineData(Reduction.None, ExecutionMode.Autograd)]
    [InlineData(Reduction.Mean, ExecutionMode.TorchSharp)]
    public void APixelMapWeighingBceIsTorchsElementwiseWeight(Reduction reduction, ExecutionMode mode)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(42);
        var x = randn(new long[] { 3, 1, 6, 7 }, dtype: float64, generator: g) * 3;
        var t = rand(new long[] { 3, 1, 6, 7 }, dtype: float64, generator: g).gt(0.7).to(float64);
        var w = rand(new long[] { 3, 6, 7 }, dtype: float64, generator: g) * 4;
        using var loss = new MapWeightedBceLoss(reduction: reduction) { Mode = mode };
        var xa = x.detach().requires_grad_(true);
        var value = loss.forward(xa, t, null, null, Maps(("weight", w)));
        var xb = x.detach().requires_grad_(true);
        var expected = nn.functional.binary_cross_entropy_with_logits(xb, t, weight: w.unsqueeze(1), reduction: reduction);
        Assert.Equal(expected.shape, value.shape);
        GeneratedParityTests.AssertClose(expected, value, 1e-12, "value");
        value.sum().backward();
        expected.sum().backward();
        GeneratedParityTests.AssertClose(xb.grad!, xa.grad!, 1e-12, "gradient");
    }

    [Fact]
    public void Float32OnTheDefaultPathWithAMaskMatchesTheFloat64Reference()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(43);
        var x = randn(new long[] { 2, 4, 8, 8 }, dtype: float64, generator: g);
        var y = randint(0, 4, new long[] { 2, 8, 8 }, generator: g);
        var m = rand(new long[] { 2, 8, 8 }, dtype: float64, generator: g).gt(0.2);
        var penalty = rand(new long[] { 2, 1, 8, 8 }, dtype: float64, generator: g) * 2;
        var prior = randn(new long[] { 2, 4, 8, 8 }, dtype: float64, generator: g);
        using var loss = new MapPenalizedDiceLoss();
        var xf = x.to(float32).requires_grad_(true);
        var value = loss.forward(xf, y, m, null, Maps(("penalty", penalty.to(float32)), ("prior", prior.to(float32))));
        value.backward();
        Assert.Equal(ScalarType.Float32, xf.grad!.dtype);
        var xr = x.detach().requires_grad_(true);
        var reference = loss.Reference(xr, y, m, null, Maps(("penalty", penalty), ("prior", prior)));
        reference.backward();
        // float32 arithmetic against float64: 1e-5 relative.
        GeneratedParityTests.AssertClose(reference, value, 1e-5, "value");
        GeneratedParityTests.AssertClose(xr.grad!, xf.grad!, 1e-5, "gradient");
    }

    [Fact]
    public void TheModuleListsTheMapsItsSpecReads()
    {
        using var dice = new MapPenalizedDiceLoss();
        Assert.Equal(new[] { "penalty", "prior" }, dice.Maps.Keys.ToArray());
        Assert.False(dice.Maps["penalty"]);
        Assert.True(dice.Maps["prior"]);
        using var bce = new BceLoss();
        Assert.Empty(bce.Maps);
        Assert.False(dice.HasCpuKernel);
    }

    [Fact]
    public void ACallWithoutTheMapsItsSpecReadsIsRejectedNamingThem()
    {
        using var scope = NewDisposeScope();
        using var loss = new MapBoundaryLoss();
        var x = randn(2, 3, 4, 4).requires_grad_(true);
        var y = randint(0, 3, new long[] { 2, 4, 4 });
        var ex = Assert.Throws<ArgumentException>(() => loss.forward(x, y));
        Assert.Contains("'distance'", ex.Message);
        Assert.Contains("maps:", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => loss.forward(x, y, null, null, Maps()));
        Assert.Contains("'distance'", ex.Message);
    }

    [Fact]
    public void AnUnknownMapIsRejectedNamingItAndTheMapsTheLossReads()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 4, 4);
        var y = randint(0, 3, new long[] { 2, 4, 4 });
        using var loss = new MapBoundaryLoss();
        var ex = Assert.Throws<ArgumentException>(() =>
            loss.forward(x, y, null, null, Maps(("distance", randn(2, 3, 4, 4)), ("distanse", randn(2, 3, 4, 4))))
        );
        Assert.Contains("'distanse'", ex.Message);
        Assert.Contains("'distance'", ex.Message);
        using var plain = new DiceLoss();
        ex = Assert.Throws<ArgumentException>(() => plain.forward(x, y, null, null, Maps(("distance", randn(2, 3, 4, 4)))));
        Assert.Contains("reads no maps", ex.Message);
        using var lovasz = new LovaszSoftmaxLoss();
        ex = Assert.Throws<ArgumentException>(() => lovasz.forward(x, y, null, null, Maps(("distance", randn(2, 3, 4, 4)))));
        Assert.Contains("reads no maps", ex.Message);
    }

    [Fact]
    public void BadMapsAreRejectedNamingTheMapAndWhatWasExpected()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 4, 5);
        var y = randint(0, 3, new long[] { 2, 4, 5 });
        using var loss = new MapBoundaryLoss();
        var ex = Assert.Throws<ArgumentException>(() => loss.forward(x, y, null, null, Maps(("distance", randn(2, 1, 4, 5)))));
        Assert.Contains("maps[\"distance\"] has shape [2, 1, 4, 5]", ex.Message);
        Assert.Contains("[2, 3, 4, 5]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() =>
            loss.forward(x, y, null, null, Maps(("distance", ones(new long[] { 2, 3, 4, 5 }, int64))))
        );
        Assert.Contains("dtype", ex.Message);
        var nan = zeros(2, 3, 4, 5);
        nan[1, 2, 3, 4] = tensor(double.NaN);
        ex = Assert.Throws<ArgumentException>(() => loss.forward(x, y, null, null, Maps(("distance", nan))));
        Assert.Contains("NaN at [1, 2, 3, 4]", ex.Message);

        using var bce = new MapWeightedBceLoss();
        var xb = randn(2, 1, 4, 5);
        var tb = rand(2, 1, 4, 5).gt(0.5).to(float32);
        ex = Assert.Throws<ArgumentException>(() => bce.forward(xb, tb, null, null, Maps(("weight", randn(2, 4, 6)))));
        Assert.Contains("maps[\"weight\"] has shape [2, 4, 6]", ex.Message);
        Assert.Contains("[2, 4, 5] or [2, 1, 4, 5]", ex.Message);
        // N, *spatial and N, 1, *spatial are the same per-pixel map.
        var w = rand(2, 4, 5);
        var a = bce.forward(xb, tb, null, null, Maps(("weight", w)));
        var b = bce.forward(xb, tb, null, null, Maps(("weight", w.unsqueeze(1))));
        Assert.Equal(a.item<float>(), b.item<float>());
    }

    [Fact]
    public void TheKernelModeRefusesMapsItCannotRead()
    {
        using var scope = NewDisposeScope();
        using var loss = new MapWeightedBceLoss { Mode = ExecutionMode.Kernel };
        var x = randn(2, 1, 4, 4).requires_grad_(true);
        var t = rand(2, 1, 4, 4).gt(0.5).to(float32);
        Assert.Throws<NotSupportedException>(() => loss.forward(x, t, null, null, Maps(("weight", rand(2, 4, 4)))));
    }

    [Fact]
    public void AMapChangedInPlaceBeforeBackwardIsCaughtBySavedTensorChecks()
    {
        using var scope = NewDisposeScope();
        using var loss = new MapWeightedBceLoss();
        var x = randn(2, 1, 4, 4).requires_grad_(true);
        var t = rand(2, 1, 4, 4).gt(0.5).to(float32);
        var w = rand(2, 1, 4, 4);
        var value = loss.forward(x, t, null, null, Maps(("weight", w)));
        w.mul_(2);
        Assert.ThrowsAny<Exception>(() => value.backward());
        Assert.True(x.grad is null || x.grad.abs().sum().item<float>() == 0, "no gradient from a stale map");
    }

    [Fact]
    public void ASecondBackwardThroughTheGraphGivesTheSameGradient()
    {
        using var scope = NewDisposeScope();
        using var loss = new MapBoundaryLoss();
        var x = randn(2, 3, 5, 5).requires_grad_(true);
        var y = randint(0, 3, new long[] { 2, 5, 5 });
        var d = DistanceTransform.Signed(nn.functional.one_hot(y, 3).permute(0, 3, 1, 2)).to(float32);
        var value = loss.forward(x, y, null, null, Maps(("distance", d)));
        value.backward(retain_graph: true);
        var first = x.grad!.clone();
        x.grad!.zero_();
        value.backward();
        GeneratedParityTests.AssertClose(first, x.grad!, 1e-7, "second backward");
    }

    [Fact]
    public void ACombinationGivesEachPartItsOwnMaps()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(44);
        var x = randn(new long[] { 2, 3, 6, 6 }, dtype: float64, generator: g);
        var y = randint(0, 3, new long[] { 2, 6, 6 }, generator: g);
        var d = DistanceTransform.Signed(nn.functional.one_hot(y, 3).permute(0, 3, 1, 2));
        using var boundary = new MapBoundaryLoss();
        using var dice = new DiceLoss();
        var combined = dice + 0.01 * boundary;
        Assert.Equal(new[] { "distance" }, combined.Maps.Keys.ToArray());
        var value = combined.forward(x, y, null, null, Maps(("distance", d)));
        var expected = dice.forward(x, y) + 0.01 * boundary.forward(x, y, null, null, Maps(("distance", d)));
        GeneratedParityTests.AssertClose(expected, value, 1e-12, "combined");
        Assert.Throws<ArgumentException>(() => combined.forward(x, y));
        var ex = Assert.Throws<ArgumentException>(() => combined.forward(x, y, null, null, Maps(("distance", d), ("weights", d))));
        Assert.Contains("'weights'", ex.Message);
    }

    [Fact]
    public void DataParallelStatisticsTakeTheMapsToo()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(45);
        var x = randn(new long[] { 4, 3, 5, 5 }, dtype: float64, generator: g);
        var y = randint(0, 3, new long[] { 4, 5, 5 }, generator: g);
        var m = rand(new long[] { 4, 5, 5 }, dtype: float64, generator: g).gt(0.3);
        var d = DistanceTransform.Signed(nn.functional.one_hot(y, 3).permute(0, 3, 1, 2));
        using var loss = new MapBoundaryLoss();
        var whole = loss.forward(x, y, m, null, Maps(("distance", d)));
        // Two "replicas" with different numbers of valid pixels: their statistics add up to the whole batch's.
        var a = loss.Statistics(x[..1], y[..1], m[..1], Maps(("distance", d[..1])));
        var b = loss.Statistics(x[1..], y[1..], m[1..], Maps(("distance", d[1..])));
        var global = loss.FromStatistics(a, a + b);
        GeneratedParityTests.AssertClose(whole, global, 1e-12, "global value");
        Assert.Throws<ArgumentException>(() => loss.Statistics(x, y, m));
    }

    [Fact]
    public void MapNamesMustBeIdentifiers()
    {
        Assert.Throws<ArgumentException>(() => Dsl.PixelMap("1st"));
        Assert.Throws<ArgumentException>(() => Dsl.ClassMap("a b"));
        Assert.Throws<ArgumentException>(() => Dsl.ClassMap(""));
        Assert.Equal("distance", Dsl.ClassMap("distance").ToString());
        Assert.NotEqual(Dsl.ClassMap("a"), Dsl.ClassMap("b"));
        Assert.NotEqual(Dsl.ClassMap("a"), Dsl.PixelMap("a"));
        Assert.Equal(Dsl.ClassMap("a"), Dsl.ClassMap("a"));
    }
}
