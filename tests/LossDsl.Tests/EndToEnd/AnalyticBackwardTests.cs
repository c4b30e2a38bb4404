using System;
using System.Linq;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.EndToEnd;

/// <summary>
/// The generated analytic backward against autograd of the reference interpreter (float64, 1e-8
/// relative: both are exact formulas evaluated in double precision, so only rounding differs), at
/// ordinary and extreme logits, with empty and partial masks and a non-uniform upstream gradient.
/// </summary>
public class AnalyticBackwardTests
{
    [Fact]
    public void EveryGeneratedLossHasAnAnalyticBackward()
    {
        var types = GeneratedParityTests.GeneratedLossTypes().ToList();
        Assert.NotEmpty(types);
        foreach (var type in types)
        {
            using var module = GeneratedParityTests.Variants(type, Reduction.Mean).First().Module;
            Assert.True(module.HasAnalyticBackward, $"{type.Name} falls back to autograd");
        }
    }

    public static TheoryData<string> LossNames() => GeneratedParityTests.LossNames();

    [Theory]
    [MemberData(nameof(LossNames))]
    public void AnalyticBackwardEqualsInterpreterAutograd(string typeName)
    {
        var type = GeneratedParityTests.GeneratedLossTypes().Single(t => t.FullName == typeName);
        var seed = 500;
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        foreach (var (label, module) in GeneratedParityTests.Variants(type, reduction))
            using (module)
                foreach (var scale in new[] { 3.0, 50.0 })
                foreach (var maskKind in new[] { "none", "partial", "empty" })
                {
                    using var scope = NewDisposeScope();
                    var indexTarget = module.Task == LossTask.Multiclass && seed % 2 == 0;
                    var (x, t, m) = GeneratedParityTests.Inputs(module.Task, indexTarget, maskKind != "none", seed++, scale);
                    if (maskKind == "empty")
                        m = zeros(m!.shape, dtype: @bool);
                    x = GeneratedParityTests.ForModule(module, x);
                    if (module.Task == LossTask.Multiclass && module.UsesClassWeights)
                        module.With(classWeights: tensor(new[] { 0.5, 2.0, 1.0, 3.0 }, float64));
                    module.With(mode: ExecutionMode.TorchSharp); // float64: the analytic TorchSharp path
                    var what = $"{type.Name} [{label}] reduction={reduction} scale={scale} mask={maskKind}";

                    var maps = GeneratedParityTests.MapsFor(module, x, seed);
                    var xg = x.detach().requires_grad_(true);
                    var generated = GeneratedParityTests.Forward(module, xg, t, m, maps);
                    var xr = x.detach().requires_grad_(true);
                    var reference = GeneratedParityTests.Reference(module, xr, t, m, maps);
                    // A non-uniform upstream gradient exercises the seed of every reduction.
                    var upstream = rand(generated.shape, dtype: float64) + 0.5;
                    (generated * upstream).sum().backward();
                    (reference * upstream).sum().backward();
                    GeneratedParityTests.AssertClose(xr.grad!, xg.grad!, 1e-8, what, stableWins: true);
                    Assert.True(xg.grad!.isfinite().all().item<bool>(), what + ": non-finite gradient");
                }
    }

    /// <summary>
    /// A construction-time choice whose other branch divides by the hyperparameter: with the branch taken
    /// (threshold 0.5) and not taken (0, where the other branch's derivative would be 0 · ∞) the analytic
    /// backward equals autograd of the interpreter and is finite.
    /// </summary>
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    public void ChoiceBranchDerivativesAreOnlyEvaluatedWhenTaken(double threshold)
    {
        using var scope = NewDisposeScope();
        var (x, t, m) = GeneratedParityTests.Inputs(LossTask.Binary, false, true, 11);
        using var module = new Specs.ThresholdedLoss(threshold) { Mode = ExecutionMode.TorchSharp };
        var xg = x.detach().requires_grad_(true);
        module.forward(xg, t, m).backward();
        var xr = x.detach().requires_grad_(true);
        module.Reference(xr, t, m).backward();
        GeneratedParityTests.AssertClose(xr.grad!, xg.grad!, 1e-10, $"threshold {threshold}");
        Assert.True(xg.grad!.abs().sum().item<double>() > 0, "the gradient is not identically 0");
    }

    [Fact]
    public void AutogradModeGivesTheSameGradientAsTheAnalyticBackward()
    {
        using var scope = NewDisposeScope();
        var (x, t, m) = GeneratedParityTests.Inputs(LossTask.Binary, false, true, 7);
        using var analytic = new Specs.UserTverskyLoss { Mode = ExecutionMode.TorchSharp };
        using var autograd = new Specs.UserTverskyLoss { Mode = ExecutionMode.Autograd };
        var xa = x.detach().requires_grad_(true);
        analytic.forward(xa, t, m).backward();
        var xb = x.detach().requires_grad_(true);
        autograd.forward(xb, t, m).backward();
        GeneratedParityTests.AssertClose(xb.grad!, xa.grad!, 1e-10, "Tversky");
    }

    [Fact]
    public void GradientKeepsTheShapeAndDtypeOfABinaryInputWithoutClassAxis()
    {
        using var scope = NewDisposeScope();
        using var loss = new Specs.UserTverskyLoss();
        var x = randn(3, 4, 5, dtype: float32).requires_grad_(true);
        var t = rand(3, 4, 5).gt(0.5).to(float32);
        loss.forward(x, t).backward();
        Assert.Equal(x.shape, x.grad!.shape);
        Assert.Equal(ScalarType.Float32, x.grad!.dtype);
    }

    [Fact]
    public void HalfPrecisionInputGetsAHalfPrecisionGradient()
    {
        using var scope = NewDisposeScope();
        using var loss = new Specs.NaiveBceLoss();
        var x = randn(2, 1, 4, 4).to(float16).requires_grad_(true);
        var t = rand(2, 1, 4, 4).gt(0.5).to(float16);
        loss.forward(x, t).backward();
        Assert.Equal(ScalarType.Float16, x.grad!.dtype);
        // d mean BCE / dx = (sigmoid(x) - t) / count, computed in float32 then rounded to half.
        var expected = (sigmoid(x.detach().to(float32)) - t.to(float32)) / 32.0;
        GeneratedParityTests.AssertClose(expected, x.grad!.to(float32), 1e-3, "half gradient");
    }
}
