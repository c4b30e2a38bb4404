using System;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Reliability;

/// <summary>
/// Softmax losses at huge finite logits, on the float32 kernel, against the float64 interpreter on the
/// same (float32-rounded) inputs. The log-sum-exp is computed as (x - max) - log Σ exp(x - max), whose
/// error is a few float32 ulps of the result, so 1e-5 relative is ample; the old form x - (max + log Σ)
/// lost log Σ entirely at 1e8.
/// </summary>
public class ExtremeLogitTests
{
    [Fact]
    public void TiedTopClassesAtOneHundredMillion()
    {
        using var loss = new CrossEntropyLoss();
        var x = tensor(new[] { 1e8f, -1e8f, 1e8f, -1e8f }).reshape(1, 4, 1, 1).requires_grad_(true);
        var t = zeros(new long[] { 1, 1, 1 }, dtype: int64);
        var value = loss.forward(x, t);
        value.backward();
        Assert.Equal(Math.Log(2), value.ToDouble(), 6);
        var g = x.grad!.reshape(4).to(float64).data<double>().ToArray();
        Assert.Equal(new[] { -0.5, 0, 0.5, 0 }, g, new Close(1e-6));
    }

    public static TheoryData<string, double> Cases()
    {
        var data = new TheoryData<string, double>();
        foreach (var name in new[] { "ce", "focal", "dice-ce", "dice-focal" })
        foreach (var scale in new[] { 1e4, 1e8 })
            data.Add(name, scale);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SoftmaxLossesAreExactAtHugeLogits(string name, double scale)
    {
        LossModule Make() =>
            name switch
            {
                "ce" => new CrossEntropyLoss(),
                "focal" => new FocalLoss(gamma: 2.0),
                "dice-ce" => new DiceCeLoss(),
                _ => new DiceFocalLoss(),
            };
        using var loss = Make();
        var g = new Generator(42UL);
        // Integer-valued logits times the scale: many ties and exact float32 values.
        var x = (randint(-3, 4, new long[] { 2, 4, 8, 8 }, generator: g).to(float64) * scale).to(float32);
        var t = randint(0, 4, new long[] { 2, 8, 8 }, generator: g);
        var x32 = x.detach().requires_grad_(true);
        var value = loss.forward(x32, t);
        value.backward();
        var x64 = x.to(float64).detach().requires_grad_(true);
        var reference = loss.Reference(x64, t);
        reference.backward();
        var rv = reference.ToDouble();
        Assert.True(Math.Abs(value.ToDouble() - rv) <= 1e-5 * Math.Max(1, Math.Abs(rv)), $"{name} at {scale}: {value.ToDouble()} vs {rv}");
        var diff = (x32.grad!.to(float64) - x64.grad!).abs().max().ToDouble();
        var gscale = Math.Max(1e-12, x64.grad!.abs().max().ToDouble());
        Assert.True(diff <= 1e-5 * gscale, $"{name} at {scale}: gradient off by {diff:E3} (max {gscale:E3})");
    }

    private sealed class Close(double tol) : System.Collections.Generic.IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tol;

        public int GetHashCode(double d) => 0;
    }
}
