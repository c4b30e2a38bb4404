using System;
using LossDsl.Kernels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Kernels;

/// <summary>
/// Inputs large enough for the kernel to hand its chunks to libtorch's thread team (small ones run on the
/// calling thread, see <see cref="ThreadTeam.SerialBelow"/>): the values and gradients of the float64 path, and the
/// same bits on every call whichever thread ran which chunk.
/// </summary>
public class TeamPassTests
{
    public static TheoryData<string> Losses() => new() { "bce", "dice", "cross-entropy", "generalized-dice" };

    [Theory]
    [MemberData(nameof(Losses))]
    public void AKernelOnTheTeamMatchesTheFloat64PathBitForBitOnEveryCall(string name)
    {
        var entry = LossCatalog.Find(name)!;
        var multiclass = entry.Task == LossTask.Multiclass;
        var g = new Generator(5);
        var shape = multiclass ? new long[] { 3, 4, 72, 81 } : new long[] { 3, 1, 144, 162 };
        Assert.True(shape[0] * shape[1] * shape[2] * shape[3] >= 4 * ThreadTeam.SerialBelow);
        var x = randn(shape, generator: g) * 3;
        Tensor t = multiclass
            ? randint(0, shape[1], new long[] { shape[0], shape[2], shape[3] }, generator: g)
            : (rand(shape, generator: g) > 0.9).to(float32);
        using var loss = (LossModule)entry.Create();
        Assert.True(loss.HasCpuKernel);

        float[]? firstGrad = null;
        float firstValue = 0;
        for (var call = 0; call < 4; call++)
        {
            using var scope = NewDisposeScope();
            var xf = x.clone().requires_grad_(true);
            var value = loss.forward(xf, t);
            value.backward();
            var grad = xf.grad!.data<float>().ToArray();
            if (firstGrad is null)
            {
                firstGrad = grad;
                firstValue = value.item<float>();
                // float64 through the TorchSharp path (the kernel runs float32 only); float32 rounding of a few
                // hundred thousand terms stays below 1e-5 relative.
                var x64 = x.to(float64).requires_grad_(true);
                var v64 = loss.forward(x64, multiclass ? t : t.to(float64));
                v64.backward();
                Assert.Equal(v64.item<double>(), firstValue, 1e-5 * Math.Max(1, Math.Abs(v64.item<double>())));
                var diff = (xf.grad!.to(float64) - x64.grad!).abs().max().item<double>();
                var scale = x64.grad!.abs().max().item<double>();
                Assert.True(diff <= 1e-5 * scale, $"{name}: gradient differs by {diff:E3} (largest {scale:E3})");
            }
            else
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(firstValue), BitConverter.SingleToInt32Bits(value.item<float>()));
                Assert.Equal(firstGrad, grad);
            }
        }
        Assert.True(loss.KernelRuns.All >= 4);
    }
}
