using System;
using System.Linq;
using System.Threading.Tasks;
using LossDsl.Kernels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Kernels;

/// <summary>
/// The value checks fused into the kernel's last pass: what they flag (in the compiled loop and in a run's
/// buffered tail), the errors the module then raises (tensor, value, position), ignored pixels found by the
/// pass, and one module used from several threads at once.
/// </summary>
public class FusedCheckTests
{
    // 8 × 37 pixels: chunks of whole vectors plus a tail of 37 mod 16 = 5 pixels per sample.
    private static (Tensor X, Tensor T) Binary(int seed)
    {
        var g = new Generator((ulong)seed);
        return (randn(new long[] { 3, 1, 8, 37 }, generator: g), (rand(new long[] { 3, 1, 8, 37 }, generator: g) > 0.8).to(float32));
    }

    // Every vector width (8 x 37 pixels leave a tail at each) at each position.
    public static TheoryData<int, int, int> Positions()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var simd in Simd.All)
        {
            data.Add(0, 0, simd.Bits); // first vector
            data.Add(7, 20, simd.Bits); // middle of the compiled part
            data.Add(7, 36, simd.Bits); // the buffered tail
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Positions))]
    public void TheKernelFlagsANonFiniteInputAndATargetOutsideTheUnitInterval(int h, int w, int bits)
    {
        using var loss = new BceLoss();
        loss.UseKernelWidth(Simd.OfBits(bits)!);
        var (x, t) = Binary(1);
        var kernel = loss.KernelFor(masked: false)!;
        Assert.Equal(bits, kernel.Simd.Bits);
        Assert.Equal(CheckFlags.None, Found(kernel, x, t));
        foreach (var value in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var bad = x.clone();
            bad[2, 0, h, w] = tensor(value);
            Assert.Equal(CheckFlags.Input, Found(kernel, bad, t));
        }
        // Just outside [0, 1] on either side (one ulp above 1, the smallest negative subnormal), far outside,
        // and the non-finite values.
        foreach (
            var value in new[]
            {
                1.5f,
                -0.1f,
                1.00000012f,
                -float.Epsilon,
                1e30f,
                -1e30f,
                float.NaN,
                float.PositiveInfinity,
                float.NegativeInfinity,
            }
        )
        {
            var badT = t.clone();
            badT[1, 0, h, w] = tensor(value);
            Assert.True(Found(kernel, x, badT) == CheckFlags.Target, $"target {value:R} at [1, 0, {h}, {w}] not flagged");
        }
        // The ends of the interval and values just inside it are fine (-0 is flagged: see below).
        foreach (var value in new[] { 0f, 1f, float.Epsilon, 0.99999994f, 0.5f })
        {
            var goodT = t.clone();
            goodT[1, 0, h, w] = tensor(value);
            Assert.True(Found(kernel, x, goodT) == CheckFlags.None, $"target {value:R} at [1, 0, {h}, {w}] flagged");
        }
    }

    [Theory]
    [MemberData(nameof(SimdMathTests.Widths), MemberType = typeof(SimdMathTests))]
    public void ANegativeZeroTargetIsValidAndGivesThePositiveZerosValues(int bits)
    {
        // The pass flags a chunk with -0 (its bits compare above 1f's); the module's exact check accepts it and
        // the call runs without fused checks: the same value and gradient as with +0, no exception.
        using var loss = new BceLoss();
        loss.UseKernelWidth(Simd.OfBits(bits)!);
        var (x, t) = Binary(4);
        var zeros = t.clone();
        zeros[0, 0, 3, 5] = tensor(0f);
        var negativeZeros = zeros.clone();
        negativeZeros[0, 0, 3, 5] = tensor(-0f);
        Assert.Equal(CheckFlags.Target, Found(loss.KernelFor(masked: false)!, x, negativeZeros));
        var a = x.detach().requires_grad_(true);
        var b = x.detach().requires_grad_(true);
        var va = loss.forward(a, zeros);
        var vb = loss.forward(b, negativeZeros);
        va.backward();
        vb.backward();
        Assert.Equal(va.item<float>(), vb.item<float>());
        Assert.True(a.grad!.eq(b.grad!).all().item<bool>());
    }

    // What the checking pass of the kernel flags on these inputs (checks deferred to it).
    private static CheckFlags Found(CpuKernel kernel, Tensor x, Tensor t)
    {
        using var ctx = LossContext.Create("BceLoss", LossTask.Binary, x, t, null, null, -100, true, deferToKernel: true);
        kernel.Forward(ctx, nn.Reduction.Mean, check: true, out var g, out var found).Dispose();
        g.Dispose();
        return found;
    }

    [Theory]
    [MemberData(nameof(Positions))]
    public void TheModuleNamesTheTensorTheValueAndItsPosition(int h, int w, int bits)
    {
        using var loss = new DiceLoss();
        loss.UseKernelWidth(Simd.OfBits(bits)!);
        var (x, t) = Binary(2);
        var xb = x.clone();
        xb[2, 0, h, w] = tensor(float.PositiveInfinity);
        var ex = Assert.Throws<ArgumentException>(() => loss.forward(xb.requires_grad_(true), t));
        Assert.Equal("input", ex.ParamName);
        Assert.Contains($"+infinity at [2, 0, {h}, {w}]", ex.Message);
        Assert.Contains("DiceLoss", ex.Message);

        var tb = t.clone();
        tb[1, 0, h, w] = tensor(float.NaN);
        ex = Assert.Throws<ArgumentException>(() => loss.forward(x.detach().requires_grad_(true), tb));
        Assert.Equal("target", ex.ParamName);
        Assert.Contains($"NaN at [1, 0, {h}, {w}]", ex.Message);
    }

    private static (Tensor X, Tensor T) Multiclass(int seed, int classes = 5)
    {
        var g = new Generator((ulong)seed);
        return (randn(new long[] { 2, classes, 8, 37 }, generator: g), randint(0, classes, new long[] { 2, 8, 37 }, generator: g));
    }

    [Theory]
    [MemberData(nameof(Positions))]
    public void AClassIndexOutOfRangeIsNamedWithItsPosition(int h, int w, int bits)
    {
        using var loss = new CrossEntropyLoss();
        loss.UseKernelWidth(Simd.OfBits(bits)!);
        var (x, t) = Multiclass(3);
        var tb = t.clone();
        tb[1, h, w] = tensor(7L);
        var ex = Assert.Throws<ArgumentException>(() => loss.forward(x.requires_grad_(true), tb));
        Assert.Equal("target", ex.ParamName);
        Assert.Contains($"class index 7 at [1, {h}, {w}]", ex.Message);
    }

    [Theory]
    [InlineData(-100L)]
    [InlineData(255L)]
    [InlineData(0L)] // an ignore index inside [0, C): the pass must not take it for class 0
    public void IgnoredPixelsGiveTheValuesOfTheUnfusedPath(long ignoreIndex)
    {
        var (x, t) = Multiclass(4);
        var ti = t.clone();
        ti[0, 3, 5] = tensor(ignoreIndex);
        ti[1, 7, 36] = tensor(ignoreIndex); // in the tail
        foreach (var checkValues in new[] { true, false })
        foreach (var repeat in Enumerable.Range(0, 3)) // the first call finds them; later calls expect them
        {
            using var fused = new CrossEntropyLoss { IgnoreIndex = ignoreIndex, CheckValues = checkValues };
            using var plain = new CrossEntropyLoss { IgnoreIndex = ignoreIndex, Mode = ExecutionMode.Autograd };
            for (var k = 0; k <= repeat; k++)
            {
                var xf = x.detach().requires_grad_(true);
                var vf = fused.forward(xf, ti);
                vf.backward();
                var xp = x.to(float64).detach().requires_grad_(true);
                var vp = plain.forward(xp, ti);
                vp.backward();
                Assert.Equal(vp.ToDouble(), vf.ToDouble(), 5);
                var diff = (xf.grad!.to(float64) - xp.grad!).abs().max().ToDouble();
                Assert.True(diff < 1e-6, $"ignore {ignoreIndex}: gradient differs by {diff}");
                Assert.Equal(0.0, xf.grad![0, .., 3, 5].abs().sum().ToDouble());
            }
        }
    }

    // Without CheckValues the pass still looks for ignored pixels in class indices (cheaper than an eager
    // comparison), but a non-finite input is the caller's business: it propagates and raises nothing, on the
    // first call and on later ones, as it does on the unfused path.
    [Fact]
    public void WithoutValueChecksANonFiniteInputPropagatesThroughTheFusedPass()
    {
        var (x, t) = Multiclass(5);
        var xb = x.clone();
        xb[1, 2, 4, 9] = tensor(float.NaN);
        using var fused = new CrossEntropyLoss { CheckValues = false };
        using var plain = new CrossEntropyLoss { CheckValues = false, Mode = ExecutionMode.Autograd };
        for (var k = 0; k < 3; k++)
        {
            var before = fused.KernelRuns;
            var xf = xb.detach().requires_grad_(true);
            var vf = fused.forward(xf, t);
            vf.backward();
            Assert.True(double.IsNaN(vf.ToDouble()), $"call {k}: the value is {vf.ToDouble()}, not NaN");
            var xp = xb.detach().requires_grad_(true);
            plain.forward(xp, t).backward();
            // Every gradient element outside the NaN's pixel is finite on both paths (the mean's scale applied).
            var keep = ones_like(xf.grad!, dtype: ScalarType.Bool);
            keep[1, .., 4, 9] = tensor(false);
            Assert.True(xf.grad!.masked_select(keep).isfinite().all().ToBoolean());
            var diff = (xf.grad! - xp.grad!).masked_select(keep).abs().max().ToDouble();
            Assert.True(diff < 1e-6, $"call {k}: gradient differs from autograd's by {diff}");
            // One kernel run per call, with the fused index check (no second run for the NaN).
            Assert.Equal((before.All + 1, before.Checked + 1, 0L), fused.KernelRuns);
        }
    }

    // The class indices' ignore detection is fused without CheckValues too; a float target needs none, so
    // an unchecked binary loss runs the pass without any check; and after a call that found ignored pixels
    // (two runs: the fused detection, then the prepared indices) later calls prepare them up front (one run).
    [Fact]
    public void WithoutValueChecksOnlyClassIndicesAreCheckedInThePass()
    {
        var (xb, tb) = Binary(6);
        using var binary = new BceLoss { CheckValues = false };
        binary.forward(xb.detach().requires_grad_(true), tb).backward();
        Assert.Equal((1L, 0L, 0L), binary.KernelRuns);

        var (x, t) = Multiclass(6);
        using var ce = new CrossEntropyLoss { CheckValues = false };
        ce.forward(x.detach().requires_grad_(true), t).backward();
        Assert.Equal((1L, 1L, 0L), ce.KernelRuns);
        var ti = t.clone();
        ti[0, 1, 1] = tensor(-100L);
        // Found by the checked run, then the prepared indices (a mask) run unchecked.
        ce.forward(x.detach().requires_grad_(true), ti).backward();
        Assert.Equal((3L, 2L, 0L), ce.KernelRuns);
        ce.forward(x.detach().requires_grad_(true), ti).backward();
        Assert.Equal((4L, 2L, 0L), ce.KernelRuns);
    }

    [Fact]
    public void OneModuleFromFourThreadsGivesTheSingleThreadedValues()
    {
        using var loss = new DiceLoss();
        var inputs = Enumerable.Range(0, 4).Select(i => Binary(10 + i)).ToArray();
        var expected = inputs
            .Select(p =>
            {
                var x = p.X.detach().requires_grad_(true);
                var v = loss.forward(x, p.T);
                v.backward();
                return (Value: v.ToSingle(), Grad: x.grad!.clone());
            })
            .ToArray();
        for (var round = 0; round < 25; round++)
        {
            var results = new (float Value, Tensor Grad)[4];
            Parallel.For(
                0,
                4,
                new ParallelOptions { MaxDegreeOfParallelism = 4 },
                i =>
                {
                    var x = inputs[i].X.detach().requires_grad_(true);
                    var v = loss.forward(x, inputs[i].T);
                    v.backward();
                    results[i] = (v.ToSingle(), x.grad!);
                }
            );
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(expected[i].Value, results[i].Value);
                Assert.True(expected[i].Grad.eq(results[i].Grad).all().ToBoolean(), $"round {round}, thread {i}: gradient differs");
            }
        }
    }
}
