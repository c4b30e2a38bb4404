using TorchSharp;
using Xunit;
using static TorchSharp.torch;
namespace LossDsl.Tests;
public class Smoke
{
    [Fact]
    public void TorchSharpLoadsAndDifferentiatesABceLoss()
    {
        using var x = tensor(new double[] { -1.0, 0.5, 2.0 }, requires_grad: true);
        using var y = tensor(new double[] { 0.0, 1.0, 1.0 });
        using var l = nn.functional.binary_cross_entropy_with_logits(x, y);
        l.backward();
        Assert.Equal(0.4539, l.item<double>(), 3);
        Assert.NotNull(x.grad);
    }
}
