using System;
using LossDsl.Kernels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Kernels;

/// <summary>
/// The kernel's gradients live on pooled blocks that are reused only after libtorch has released them:
/// a gradient a caller keeps (its .grad, a tensor from autograd.grad, a view) is never overwritten by a
/// later call, and released blocks are handed out again.
/// </summary>
[Collection(nameof(LossDsl.Tests.Soak.SoakCollection))] // the pool is process-wide: no other test may hold gradients meanwhile
public class GradientPoolTests
{
    private static (Tensor X, Tensor T) Case(int seed)
    {
        manual_seed(seed);
        return (randn(2, 1, 32, 32), (rand(2, 1, 32, 32) > 0.8).to(float32));
    }

    [Fact]
    public void AGradientTheCallerKeepsIsNotOverwrittenByLaterSteps()
    {
        using var loss = new BceLoss();
        var (x1, t1) = Case(1);
        var leaf1 = x1.requires_grad_(true);
        loss.forward(leaf1, t1).backward();
        var kept = leaf1.grad!;
        var copy = kept.clone();
        // The same gradient through autograd.grad: returned to the caller as it is.
        var (x2, t2) = Case(2);
        var leaf2 = x2.requires_grad_(true);
        var direct = autograd.grad(new[] { loss.forward(leaf2, t2) }, new[] { leaf2 })[0];
        var directCopy = direct.clone();
        for (var step = 0; step < 20; step++)
        {
            var (x, t) = Case(10 + step);
            var leaf = x.requires_grad_(true);
            loss.forward(leaf, t).backward();
            leaf.grad!.Dispose();
        }
        Assert.True(kept.allclose(copy, rtol: 0, atol: 0), "a kept .grad changed after later steps");
        Assert.True(direct.allclose(directCopy, rtol: 0, atol: 0), "a kept autograd.grad result changed after later steps");
    }

    // Finalizes unreachable tensor handles, so the pool's live count is what is still referenced. Two
    // rounds: a finalized graph node releases managed tensors that only the next round finalizes.
    private static void Settle()
    {
        for (var round = 0; round < 2; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        GC.Collect();
    }

    // The pool's live blocks once gradients of earlier tests that are no longer reachable have gone back
    // (and the free ones are dropped, so the pool starts empty).
    internal static int SettledLiveCount()
    {
        Settle();
        GradientPool.Trim();
        return GradientPool.LiveCount;
    }

    [Fact]
    public void ALeafsGradIsTheKernelsGradientItselfNotACopy()
    {
        // The kernel's gradient reaches a leaf's .grad without a copy: the pooled block stays live as
        // long as .grad does, and goes back when the leaf goes. (Were .grad a copy, the block would be
        // released as soon as the backward's own handles are gone.)
        using var loss = new BceLoss();
        var live = SettledLiveCount();
        var (x, t) = Case(3);
        var leaf = x.requires_grad_(true);
        using (var value = loss.forward(leaf, t))
            value.backward();
        Settle();
        Assert.Equal(live + 1, GradientPool.LiveCount);
        using (var grad = leaf.grad!)
        using (var expected = new BceLoss { Mode = ExecutionMode.TorchSharp })
        {
            var y = x.detach().requires_grad_(true);
            expected.forward(y, t).backward();
            Assert.True(grad.allclose(y.grad!, rtol: 1e-5, atol: 1e-7), "the handed-over gradient is not the loss's gradient");
        }
        leaf.Dispose();
        Settle();
        Assert.Equal(live, GradientPool.LiveCount);
    }

    [Fact]
    public void ReleasedBlocksAreReusedAndNotAccumulated()
    {
        using var loss = new DiceLoss();
        var live = SettledLiveCount();
        for (var step = 0; step < 30; step++)
        {
            using var scope = NewDisposeScope();
            var (x, t) = Case(step);
            var leaf = x.requires_grad_(true);
            loss.forward(leaf, t).backward();
        }
        Settle();
        // Every gradient went back: nothing live beyond what was live before, and at most two free
        // blocks of this size kept (8 KiB of float32 each).
        Assert.Equal(live, GradientPool.LiveCount);
        Assert.InRange(GradientPool.FreeBytes, 2 * 32 * 32 * 4, 2 * 2 * 32 * 32 * 4);
    }

    [Fact]
    public void PooledGradientsMatchTheInterpreter()
    {
        // A reused block is fully rewritten: values from an earlier, different case never leak through.
        using var fused = new TverskyLoss(alpha: 0.3, beta: 0.7);
        using var reference = new TverskyLoss(alpha: 0.3, beta: 0.7) { Mode = ExecutionMode.TorchSharp };
        for (var step = 0; step < 6; step++)
        {
            var (x, t) = Case(100 + step);
            var a = x.clone().requires_grad_(true);
            var b = x.clone().requires_grad_(true);
            fused.forward(a, t).backward();
            reference.forward(b, t).backward();
            Assert.True(a.grad!.allclose(b.grad!, rtol: 1e-4, atol: 1e-6), $"step {step}");
        }
    }
}

/// <summary>How many times the kernel reads the inputs: a class-weighted mean scales its gradient afterwards.</summary>
public class KernelPassTests
{
    [Fact]
    public void ClassWeightedCrossEntropyReadsTheLogitsOnce()
    {
        using var ce = new CrossEntropyLoss(classWeights: tensor(new[] { 1f, 2f, 5f }));
        Assert.Equal(1, ce.KernelFor(masked: false)!.Passes);
        Assert.Equal(1, ce.KernelFor(masked: true)!.Passes);
        // Region losses need their sums first: two passes.
        using var dice = new DiceLoss();
        Assert.Equal(2, dice.KernelFor(masked: false)!.Passes);
    }

    [Fact]
    public void TheDeferredScaleGivesTheSameGradientAsTheInterpreter()
    {
        manual_seed(9);
        var weights = tensor(new[] { 0.5f, 2f, 5f });
        using var fused = new CrossEntropyLoss(classWeights: weights);
        using var reference = new CrossEntropyLoss(classWeights: weights) { Mode = ExecutionMode.TorchSharp };
        var x = randn(3, 3, 8, 8);
        var t = randint(0, 3, new long[] { 3, 8, 8 });
        var a = x.clone().requires_grad_(true);
        var b = x.clone().requires_grad_(true);
        var va = fused.forward(a, t);
        var vb = reference.forward(b, t);
        va.backward();
        vb.backward();
        Assert.Equal(vb.ToDouble(), va.ToDouble(), 5);
        Assert.True(a.grad!.allclose(b.grad!, rtol: 1e-4, atol: 1e-7));
    }
}
