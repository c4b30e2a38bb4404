using System;
using LossDsl.Kernels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Kernels;

/// <summary>
/// A compiled pass evaluates one exponential per class and pixel for a softmax argument, however many of its
/// softmax, log-softmax and exp(log-softmax) (the log-softmax's symbolic gradient) the pass reads; the values
/// stay those of autograd through torch's own functions.
/// </summary>
public class SoftmaxSharingTests
{
    public static TheoryData<int> Widths()
    {
        var data = new TheoryData<int>();
        foreach (var simd in Simd.All)
            data.Add(simd.Bits);
        return data;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void EachPassEvaluatesOneExponentialPerClass(int bits)
    {
        const int classes = 5;
        foreach (var module in new LossModule[] { new CrossEntropyLoss(), new FocalLoss(), new DiceCeLoss(), new GeneralizedDiceLoss() })
            using (module)
            {
                var kernel = CpuKernel.TryCreate(Compiler.Compile(module.BuildSpec(), module.Task), false, Simd.OfBits(bits), keep: false)!;
                for (var pass = 1; pass <= kernel.Passes; pass++)
                    foreach (var index in new[] { true, false })
                        Assert.True(
                            kernel.ExponentialsIn(pass, classes, index) == classes,
                            $"{module.GetName()} pass {pass} ({(index ? "indices" : "per-class target")}, {bits}-bit): {kernel.ExponentialsIn(pass, classes, index)} exponentials per pixel vector, expected {classes}"
                        );
            }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void CrossEntropyAndSoftmaxFocalMatchTorch(int bits)
    {
        // float64 references through torch's own log_softmax; the kernel computes in float32.
        var g = new Generator(77);
        var x = randn(new long[] { 3, 5, 9, 41 }, generator: g) * 4;
        var t = randint(0, 5, new long[] { 3, 9, 41 }, generator: g);
        using (var ce = new CrossEntropyLoss())
        {
            ce.UseKernelWidth(Simd.OfBits(bits)!);
            var xf = x.clone().requires_grad_(true);
            ce.forward(xf, t).backward();
            var x64 = x.to(float64).requires_grad_(true);
            nn.functional.cross_entropy(x64, t).backward();
            var diff = (xf.grad!.to(float64) - x64.grad!).abs().max().item<double>();
            Assert.True(diff < 1e-7, $"cross-entropy gradient differs by {diff:E3}");
        }
        using (var focal = new FocalLoss(gamma: 2.0))
        {
            focal.UseKernelWidth(Simd.OfBits(bits)!);
            var xf = x.clone().requires_grad_(true);
            var value = focal.forward(xf, t);
            value.backward();
            var x64 = x.to(float64).requires_grad_(true);
            var logp = nn.functional.log_softmax(x64, 1);
            var y = nn.functional.one_hot(t, 5).permute(0, 3, 1, 2).to(float64);
            var reference = (-(1 - logp.exp()).pow(2) * logp * y).sum(1).mean();
            reference.backward();
            Assert.True(Math.Abs(value.item<float>() - reference.item<double>()) < 1e-5 * Math.Abs(reference.item<double>()));
            var scale = x64.grad!.abs().max().item<double>();
            var diff = (xf.grad!.to(float64) - x64.grad!).abs().max().item<double>();
            Assert.True(diff < 1e-5 * scale, $"focal gradient differs by {diff:E3} (scale {scale:E3})");
        }
    }
}
