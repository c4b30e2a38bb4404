using System;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests;

public class SmokeTests
{
    [Fact]
    public void TorchSharpLoadsAndDifferentiatesABceLossOnCpu()
    {
        double[] xs =  { -1.0, 0.5, 2.0 },
            ys =  { 0.0, 1.0, 1.0 };
        using var x = tensor(xs, requires_grad: true);
        using var y = tensor(ys);
        using var l = nn.functional.binary_cross_entropy_with_logits(x, y);
        l.backward();

        // float64 reference: mean of softplus(x) - x*y; gradient (sigmoid(x) - y) / n.
        double expected = 0;
        for (var i = 0; i < 3; i++)
            expected += Math.Log(1 + Math.Exp(xs[i])) - xs[i] * ys[i];
        Assert.Equal(expected / 3, l.item<double>(), 12);
        var g = x.grad!.data<double>().ToArray();
        for (var i = 0; i < 3; i++)
            Assert.Equal((1 / (1 + Math.Exp(-xs[i])) - ys[i]) / 3, g[i], 12);
    }
}
