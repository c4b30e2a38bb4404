using System;
using LossDsl.Kernels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Kernels;

/// <summary>
/// A call that wants no gradient (under <c>no_grad</c>, or an input that does not require one: a validation
/// loss, a metric) runs the kernel's value-only passes: a region loss skips its gradient pass, nothing is
/// written, and the checks and ignored pixels behave as in training. The values against every catalog and
/// test spec are compared in <c>CpuKernelTests.KernelMatchesTheFloat64Reference</c>.
/// </summary>
[Collection(nameof(LossDsl.Tests.Soak.SoakCollection))] // reads the process-wide gradient pool
public class ValueOnlyKernelTests
{
    private static (Tensor X, Tensor T) Binary(int seed)
    {
        var g = new Generator((ulong)seed);
        return (randn(new long[] { 2, 1, 16, 37 }, generator: g), (rand(new long[] { 2, 1, 16, 37 }, generator: g) > 0.8).to(float32));
    }

    [Fact]
    public void ARegionLossNeedsOnlyItsStatisticsPassForTheValue()
    {
        using var dice = new DiceLoss();
        using var bce = new BceLoss();
        var region = dice.KernelFor(masked: false)!.Plan;
        var pixelwise = bce.KernelFor(masked: false)!.Plan;
        Assert.Equal(2, region.Passes);
        Assert.Equal(1, region.ValuePasses);
        Assert.Equal(1, pixelwise.Passes);
        Assert.Equal(1, pixelwise.ValuePasses);
    }

    [Fact]
    public void NoGradientIsWrittenAndTheValueIsTheTrainingValue()
    {
        using var loss = new TverskyLoss(alpha: 0.3, beta: 0.7);
        var (x, t) = Binary(1);
        var leaf = x.detach().requires_grad_(true);
        double training;
        // The training step runs to its end (its gradient in leaf.grad), so no graph is left for a finalizer
        // to release while the pool is counted.
        using (var step = loss.forward(leaf, t))
        {
            training = step.ToDouble();
            step.backward();
        }
        var live = GradientPoolTests.SettledLiveCount();
        var calls = loss.KernelRuns.ValueOnly;
        double evaluated,
            plain;
        using (no_grad())
            evaluated = loss.forward(leaf, t).ToDouble();
        plain = loss.forward(x, t).ToDouble(); // an input that does not require a gradient
        Assert.Equal(calls + 2, loss.KernelRuns.ValueOnly);
        Assert.Equal(live, GradientPool.LiveCount);
        Assert.Equal(training, evaluated, 6);
        Assert.Equal(training, plain, 6);
        // The TorchSharp mode keeps the generated forward.
        using var eager = new TverskyLoss(alpha: 0.3, beta: 0.7) { Mode = ExecutionMode.TorchSharp };
        Assert.Equal(eager.forward(x, t).ToDouble(), plain, 5);
        Assert.Equal(0, eager.KernelRuns.All);
    }

    [Fact]
    public void TheChecksStillNameTheOffenderWithoutAGradient()
    {
        using var loss = new DiceLoss();
        var (x, t) = Binary(2);
        var bad = x.clone();
        bad[1, 0, 15, 36] = tensor(float.NaN); // in a sample's buffered tail
        using (no_grad())
        {
            var ex = Assert.Throws<ArgumentException>(() => loss.forward(bad, t));
            Assert.Equal("input", ex.ParamName);
            Assert.Contains("NaN at [1, 0, 15, 36]", ex.Message);
        }
        var badT = t.clone();
        badT[0, 0, 3, 4] = tensor(2f);
        var ex2 = Assert.Throws<ArgumentException>(() => loss.forward(x, badT));
        Assert.Equal("target", ex2.ParamName);
    }

    [Fact]
    public void IgnoredPixelsAreDroppedWithoutAGradientToo()
    {
        var g = new Generator(3);
        var x = randn(new long[] { 2, 4, 9, 21 }, generator: g);
        var index = randint(0, 4, new long[] { 2, 9, 21 }, dtype: int64, generator: g);
        index[0, 2, 3] = tensor(-100L);
        index[1, 8, 20] = tensor(-100L);
        using var loss = new CrossEntropyLoss(classWeights: tensor(new[] { 1f, 2f, 0.5f, 3f }));
        var training = loss.forward(x.detach().requires_grad_(true), index).ToDouble();
        double evaluated;
        using (no_grad())
            evaluated = loss.forward(x, index).ToDouble();
        var builtin = nn.functional.cross_entropy(x, index, weight: tensor(new[] { 1f, 2f, 0.5f, 3f })).ToDouble();
        Assert.Equal(training, evaluated, 6);
        Assert.Equal(builtin, evaluated, 5);
    }
}
