using System;
using System.Linq;
using LossDsl.Kernels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Kernels;

/// <summary>
/// Below AVX-512 a two-pass region loss keeps its softmax, or a binary one its sigmoid's derivative, from pass 1
/// (in the gradient's memory, with the target classes marked in the sign bits) and pass 2 reads it back instead
/// of recomputing it from the logits. Which kernels do, that the value and gradient are the same bits as without
/// it, and that the fused checks (moved into pass 1) still fire.
/// </summary>
public class KeptActivationTests
{
    private static LossModule[] SoftmaxRegionLosses() =>
        new LossModule[]
        {
            new DiceLoss(activation: Activation.Softmax),
            new GeneralizedDiceLoss(),
            new TverskyLoss(activation: Activation.Softmax),
        };

    // Binary region losses whose pass 2 reads the logits only through the sigmoid's derivative σ(x)·σ(-x).
    private static LossModule[] SigmoidRegionLosses() =>
        new LossModule[] { new DiceLoss(), new TverskyLoss(alpha: 0.3, beta: 0.7), new FocalTverskyLoss() };

    private static CpuKernel Kernel(LossModule module, bool masked, int bits, bool? keep, bool? stream = null) =>
        CpuKernel.TryCreate(Compiler.Compile(module.BuildSpec(), module.Task), masked, Simd.OfBits(bits), keep, stream)
        ?? throw new InvalidOperationException($"{module.GetName()}: no kernel");

    // 2 × 5 classes × 8 × 37 pixels: chunks of whole vectors and a buffered tail at every width.
    private static (Tensor X, Tensor Index, Tensor OneHot, Tensor Mask) Inputs(int seed)
    {
        var g = new Generator((ulong)seed);
        var x = randn(new long[] { 2, 5, 8, 37 }, generator: g) * 3;
        var index = randint(0, 5, new long[] { 2, 8, 37 }, generator: g);
        var oneHot = nn.functional.one_hot(index, 5).permute(0, 3, 1, 2).to(float32).contiguous();
        var mask = rand(new long[] { 2, 8, 37 }, generator: g) > 0.2;
        // At about a tenth of the pixels the target class's probability underflows to +0 (its logit 150 below
        // the others): the kept softmax then marks the target class on a zero (-0).
        var sunk = (rand(new long[] { 2, 1, 8, 37 }, generator: g) < 0.1).to(float32);
        x = (x - 150 * oneHot * sunk).contiguous();
        return (x, index, oneHot, mask);
    }

    private static LossContext Context(LossModule module, Tensor x, Tensor target, Tensor? mask) =>
        LossContext.Create(module.GetName(), module.Task, x, target, mask, null, -100, true, deferToKernel: true);

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void AtEveryWidthTheActivationOfARegionLossIsKeptByDefault(int bits)
    {
        foreach (var module in SoftmaxRegionLosses().Concat(SigmoidRegionLosses()))
            using (module)
            {
                Assert.True(Kernel(module, masked: false, bits, keep: null).KeepsActivation, $"{module.GetName()} at {bits} bits");
                Assert.False(Kernel(module, masked: false, bits, keep: false).KeepsActivation, $"{module.GetName()} at {bits} bits, off");
            }
        // One pass (nothing to keep between passes), or a pass 2 that reads the logits anyway (Dice + CE: the
        // log-softmax of its CE term; BCE + Dice: the log-sigmoids of its BCE term).
        foreach (
            var module in new LossModule[] { new CrossEntropyLoss(), new FocalLoss(), new BceLoss(), new BceDiceLoss(), new DiceCeLoss() }
        )
            using (module)
                Assert.False(Kernel(module, masked: false, bits, keep: true).KeepsActivation, module.GetName());
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void KeepingTheSoftmaxGivesTheSameBits(int bits)
    {
        var (x, index, oneHot, mask) = Inputs(11);
        foreach (var module in SoftmaxRegionLosses())
            using (module)
                foreach (var target in new[] { index, oneHot })
                foreach (var m in new[] { null, mask })
                foreach (var stream in new[] { false, true })
                {
                    var kept = Kernel(module, m is not null, bits, keep: true, stream);
                    var recomputed = Kernel(module, m is not null, bits, keep: false);
                    Assert.True(kept.KeepsActivation);
                    Assert.False(recomputed.KeepsActivation);
                    using var ctx = Context(module, x, target, m);
                    var what =
                        $"{module.GetName()} {bits}-bit, {(target.dtype == int64 ? "indices" : "one-hot")}, {(m is null ? "no mask" : "masked")}, {(stream ? "streamed" : "stored")}";
                    // 8 x 37 pixels per class: whole 256- and 128-bit vectors, not whole 512-bit ones.
                    Assert.Equal(stream && bits < 512, kept.StreamsKept(8 * 37, 4096));
                    AssertSameBits(kept, recomputed, ctx, what, CheckFlags.None);
                }
    }

    // The kept kernel's value, gradient and flags are the recomputing one's, bit for bit.
    private static void AssertSameBits(CpuKernel kept, CpuKernel recomputed, LossContext ctx, string what, CheckFlags expected)
    {
        using var v1 = kept.Forward(ctx, nn.Reduction.Mean, check: true, out var g1, out var f1);
        using var v2 = recomputed.Forward(ctx, nn.Reduction.Mean, check: true, out var g2, out var f2);
        using (g1)
        using (g2)
        {
            Assert.Equal(expected, f1);
            Assert.Equal(expected, f2);
            Assert.Equal(v2.item<float>(), v1.item<float>());
            Assert.True(g1.eq(g2).all().item<bool>(), $"{what}: gradients differ by {(g1 - g2).abs().max().item<float>():E3}");
            Assert.True(g1.abs().sum().item<float>() > 0, $"{what}: zero gradient");
        }
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void KeepingTheSigmoidDerivativeGivesTheSameBits(int bits)
    {
        var g = new Generator(21UL);
        // 2 samples x 1 x 24 x 173 pixels: a chunk and a buffered tail per sample at every width.
        var x = randn(new long[] { 2, 1, 24, 173 }, generator: g) * 4;
        x[0, 0, 3, 5] = tensor(120f); // σ(-x) underflows: the derivative is +0, a mark on it -0
        x[1, 0, 7, 9] = tensor(-120f);
        var hard = (rand(new long[] { 2, 1, 24, 173 }, generator: g) > 0.9).to(float32);
        hard[0, 0, 3, 5] = tensor(1f);
        // Soft targets in sample 1 only: its chunks read the targets again, sample 0's take them from the marks.
        var mixed = hard.clone();
        mixed[1] = rand(new long[] { 1, 24, 173 }, generator: g);
        var negativeZero = hard.clone();
        negativeZero[1, 0, 2, 2] = tensor(-0f); // not exactly +0: that chunk reads its targets
        var mask = rand(new long[] { 2, 24, 173 }, generator: g) > 0.2;
        foreach (var module in SigmoidRegionLosses())
            using (module)
                foreach (var (target, name) in new[] { (hard, "0/1"), (mixed, "soft in sample 1"), (negativeZero, "a -0 target") })
                foreach (var m in new[] { null, mask })
                foreach (var stream in new[] { false, true })
                {
                    var kept = Kernel(module, m is not null, bits, keep: true, stream);
                    var recomputed = Kernel(module, m is not null, bits, keep: false);
                    Assert.True(kept.KeepsActivation, module.GetName());
                    using var ctx = Context(module, x, target, m);
                    var what =
                        $"{module.GetName()} {bits}-bit, {name}, {(m is null ? "no mask" : "masked")}, {(stream ? "streamed" : "stored")}";
                    // Soft targets are no error: the note that a chunk's targets are not all 0 or 1 stays inside.
                    // (The fused check flags a -0 target by its bits, kept or not; the module's exact check then
                    // finds it in range.)
                    AssertSameBits(
                        kept,
                        recomputed,
                        ctx,
                        what,
                        ReferenceEquals(target, negativeZero) ? CheckFlags.Target : CheckFlags.None
                    );
                }
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void WithPerClassTargetsPass2TakesThemFromTheMarksOrReadsThem(int bits)
    {
        var cases = SoftmaxRegionLosses()
            .Select(m => (Module: m, Classes: 5))
            .Concat(SigmoidRegionLosses().Select(m => (Module: m, Classes: 1)));
        foreach (var (module, c) in cases)
            using (module)
            {
                var kernel = Kernel(module, masked: false, bits, keep: true);
                // Pass 1 marks every class; pass 2 loads the kept values, and the targets too only in its reading form.
                Assert.Equal(c, kernel.CallsIn(1, c, index: false, check: true, stream: true, nameof(Simd512.SignWhere)));
                Assert.Equal(c, kernel.CallsIn(2, c, index: false, check: false, stream: false, nameof(Simd512.Load), marks: true));
                Assert.Equal(2 * c, kernel.CallsIn(2, c, index: false, check: false, stream: false, nameof(Simd512.Load), marks: false));
            }
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Pass1StreamsTheKeptSoftmaxOnlyWhereEveryVectorIsAligned(int bits)
    {
        using var module = new DiceLoss(activation: Activation.Softmax);
        var streaming = Kernel(module, masked: false, bits, keep: true, stream: true);
        var lanes = Simd.OfBits(bits)!.Lanes;
        // One streaming store per class in pass 1 (its value-checking form and the other), none in pass 2.
        const string streamed = nameof(Simd512.StoreStreaming);
        foreach (var index in new[] { true, false })
        {
            Assert.Equal(5, streaming.CallsIn(1, 5, index, check: true, stream: true, streamed));
            Assert.Equal(5, streaming.CallsIn(1, 5, index, check: false, stream: true, streamed));
            Assert.Equal(0, streaming.CallsIn(1, 5, index, check: true, stream: false, streamed));
            Assert.Equal(0, streaming.CallsIn(2, 5, index, check: false, stream: false, streamed));
        }
        nint aligned = 4096;
        Assert.True(streaming.StreamsKept(64 * lanes, aligned));
        Assert.False(streaming.StreamsKept(64 * lanes + 1, aligned), "a spatial size that is not a whole number of vectors");
        Assert.False(streaming.StreamsKept(64 * lanes, aligned + sizeof(float)), "a gradient block not aligned to the vector");
        Assert.False(Kernel(module, masked: false, bits, keep: true, stream: false).StreamsKept(64 * lanes, aligned));
        Assert.False(Kernel(module, masked: false, bits, keep: false, stream: true).StreamsKept(64 * lanes, aligned), "nothing kept");
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void WithClassIndicesTheKeptSoftmaxCarriesTheTargetClassAndPass2ReadsNoIndex(int bits)
    {
        foreach (var module in SoftmaxRegionLosses())
            using (module)
            {
                var kernel = Kernel(module, masked: false, bits, keep: true);
                // Pass 1 loads the indices once per vector and marks one sign per class; pass 2 reads them back
                // from the kept values' signs.
                Assert.Equal(1, kernel.CallsIn(1, 5, index: true, check: true, stream: true, nameof(Simd512.LoadIndices)));
                Assert.Equal(5, kernel.CallsIn(1, 5, index: true, check: true, stream: true, nameof(Simd512.SignWhere)));
                Assert.Equal(0, kernel.CallsIn(2, 5, index: true, check: false, stream: false, nameof(Simd512.LoadIndices)));
                Assert.Equal(5, kernel.CallsIn(2, 5, index: true, check: false, stream: false, nameof(Simd512.SignBits)));
            }
    }

    [Theory]
    [InlineData(256, 0, 0)]
    [InlineData(256, 7, 36)] // the buffered tail
    [InlineData(128, 5, 20)]
    public void TheChecksStillFireWhenTheSoftmaxIsKept(int bits, int h, int w)
    {
        var (x, index, oneHot, _) = Inputs(12);
        using var module = new GeneralizedDiceLoss();
        var kernel = Kernel(module, masked: false, bits, keep: true);
        CheckFlags Found(Tensor input, Tensor target)
        {
            using var ctx = Context(module, input, target, null);
            kernel.Forward(ctx, nn.Reduction.Mean, check: true, out var g, out var found).Dispose();
            g.Dispose();
            return found;
        }
        var badX = x.clone();
        badX[1, 3, h, w] = tensor(float.NaN);
        Assert.Equal(CheckFlags.Input, Found(badX, index));
        var badIndex = index.clone();
        badIndex[0, h, w] = tensor(9L);
        Assert.Equal(CheckFlags.Index, Found(x, badIndex) & CheckFlags.Index);
        var badTarget = oneHot.clone();
        badTarget[1, 2, h, w] = tensor(1.5f);
        Assert.Equal(CheckFlags.Target, Found(x, badTarget));
    }

    [Fact]
    public void TheModuleRaisesTheSameErrorWithTheSoftmaxKept()
    {
        var (x, index, _, _) = Inputs(13);
        using var module = new DiceLoss(activation: Activation.Softmax);
        module.UseKernelWidth(Simd.OfBits(256)!);
        Assert.True(module.KernelFor(masked: false)!.KeepsActivation);
        var bad = x.clone();
        bad[1, 4, 6, 30] = tensor(float.NegativeInfinity);
        var ex = Assert.Throws<ArgumentException>(() => module.forward(bad.requires_grad_(true), index));
        Assert.Equal("input", ex.ParamName);
        Assert.Contains("-infinity at [1, 4, 6, 30]", ex.Message);
    }
}
