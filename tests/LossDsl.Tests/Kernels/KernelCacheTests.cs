using System;
using System.Linq;
using LossDsl.Kernels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Kernels;

[CollectionDefinition(nameof(KernelCacheCollection), DisableParallelization = true)]
public sealed class KernelCacheCollection { }

/// <summary>
/// Modules of one spec share its compiled kernel (a functional form builds a module per call, which compiled
/// its passes every time); other hyperparameters, a mask or another vector width give another kernel; the
/// cache stays bounded. Not run in parallel with other tests, so the cache's size is this test's own doing.
/// </summary>
[Collection(nameof(KernelCacheCollection))]
public class KernelCacheTests
{
    [Fact]
    public void ModulesOfOneSpecShareTheKernelAndOthersDoNot()
    {
        using var a = new DiceLoss();
        using var b = new DiceLoss { CheckValues = false }; // a setting, not part of the spec
        using var other = new DiceLoss(smoothNr: 1.0, smoothDr: 1.0);
        Assert.Same(a.KernelFor(masked: false), b.KernelFor(masked: false));
        Assert.Same(a.KernelFor(masked: true), b.KernelFor(masked: true));
        Assert.NotSame(a.KernelFor(masked: false), a.KernelFor(masked: true));
        Assert.NotSame(a.KernelFor(masked: false), other.KernelFor(masked: false));
        using var narrow = new DiceLoss();
        narrow.UseKernelWidth(Simd.OfBits(128)!);
        Assert.Equal(128, narrow.KernelFor(masked: false)!.Simd.Bits);
        Assert.NotSame(a.KernelFor(masked: false), narrow.KernelFor(masked: false));
    }

    [Fact]
    public void ModulesSharingAKernelGiveTheirOwnResults()
    {
        // One kernel, two modules with different settings and inputs, interleaved.
        using var checkedLoss = new CrossEntropyLoss();
        using var uncheckedLoss = new CrossEntropyLoss { CheckValues = false, IgnoreIndex = 0 };
        Assert.Same(checkedLoss.KernelFor(masked: false), uncheckedLoss.KernelFor(masked: false));
        var x = randn(2, 3, 5, 7);
        var t = randint(0, 3, new long[] { 2, 5, 7 });
        for (var k = 0; k < 2; k++)
        {
            var all = checkedLoss.forward(x, t).ToDouble();
            var ignoring0 = uncheckedLoss.forward(x, t).ToDouble();
            Assert.Equal(nn.functional.cross_entropy(x, t).ToDouble(), all, 5);
            Assert.Equal(nn.functional.cross_entropy(x, t, ignore_index: 0).ToDouble(), ignoring0, 5);
        }
    }

    [Fact]
    public void AFullCacheStartsOverInsteadOfGrowing()
    {
        // A sweep over a hyperparameter: one spec per value.
        foreach (var i in Enumerable.Range(0, KernelCache.Capacity + 20))
        {
            using var loss = new TverskyLoss(alpha: 0.5 + i * 1e-4, beta: 0.5);
            Assert.NotNull(loss.KernelFor(masked: false));
            Assert.InRange(KernelCache.KernelCount, 1, KernelCache.Capacity);
        }
    }
}
