using System;
using LossDsl.Tests.Specs;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.EndToEnd;

/// <summary>
/// MONAI's <c>other_act=torch.tanh</c> as a user spec (<see cref="TestSpecs.MonaiTanhDice"/>): the catalog's Dice losses do
/// not offer a tanh activation (values in (-1, 1) let the smoothed denominator reach 0), and a spec declares it.
/// </summary>
public class TanhSpecTests
{
    [Fact]
    public void MatchesMonaisPublishedValue()
    {
        // Project-MONAI/MONAI tests/losses/test_dice_loss.py, TEST_CASES: other_act=torch.tanh, smooth_nr = smooth_dr =
        // 1e-4, input (2, 1, 2, 2), expected 0.999963 (MONAI's check: rtol 1e-5).
        var input = tensor(new[] { 1.0, -1, -1, 1, 1, -1, -1, 1 }, float64).reshape(2, 1, 2, 2);
        var target = tensor(new[] { 1.0, 1, 1, 1, 1, 0, 1, 0 }, float64).reshape(2, 1, 2, 2);
        using var loss = new MonaiTanhDiceLoss(smoothNr: 1e-4, smoothDr: 1e-4);
        var value = loss.forward(input, target).ToDouble();
        Assert.True(Math.Abs(value - 0.999963) <= 1e-5 * 0.999963, $"{value}");
    }

    [Fact]
    public void ValueAndGradientEqualTheFormulaWrittenWithTorch()
    {
        var g = new TorchSharp.torch.Generator(61);
        var x = randn(new long[] { 3, 1, 6, 5 }, dtype: float64, generator: g);
        var t = rand(new long[] { 3, 1, 6, 5 }, dtype: float64, generator: g).gt(0.5).to(float64);
        using var loss = new MonaiTanhDiceLoss();
        foreach (var mode in new[] { ExecutionMode.Auto, ExecutionMode.TorchSharp })
        {
            loss.With(mode: mode);
            var xa = x.detach().requires_grad_(true);
            var value = loss.forward(xa, t);
            var xb = x.detach().requires_grad_(true);
            var p = tanh(xb);
            var dims = new long[] { 1, 2, 3 };
            var expected = (1 - (2 * (p * t).sum(dims) + 1e-5) / (p.sum(dims) + t.sum(dims) + 1e-5)).mean();
            GeneratedParityTests.AssertClose(expected, value, 1e-12, $"{mode} value");
            value.backward();
            expected.backward();
            GeneratedParityTests.AssertClose(xb.grad!, xa.grad!, 1e-12, $"{mode} gradient");
        }
    }
}
