using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// DiceFocalLoss with <c>focalActivation: Sigmoid</c> (what MONAI's DiceFocalLoss computes: a sigmoid
/// focal loss of every channel against its one-hot target, averaged over B·C·S) against an independent
/// float64 computation, values and gradients; and the softmax default unchanged.
/// </summary>
public class DiceFocalSigmoidTests
{
    private const int N = 2,
        C = 3,
        S = 12;

    // λ_d · mean_c (1 - Dice_c) + λ_f · mean_{c,s} focal(x, y), per sample, then the batch mean.
    private static double Reference(double[] x, long[] labels, bool includeBackground, double gamma, double lambdaDice, double lambdaFocal)
    {
        var p = Hand.Softmax(x, N, C, S);
        var y = Hand.OneHot(labels, N, C, S);
        var dice = Hand.Dice(p, y, N, C, S);
        var first = includeBackground ? 0 : 1;
        double total = 0;
        for (var n = 0; n < N; n++)
        {
            double d = 0,
                f = 0;
            for (var c = first; c < C; c++)
            {
                d += dice[n, c];
                for (var s = 0; s < S; s++)
                {
                    var k = Hand.K(n, c, s, C, S);
                    var sig = Hand.Sigmoid(x[k]);
                    var bce = y[k] * Hand.Softplus(-x[k]) + (1 - y[k]) * Hand.Softplus(x[k]);
                    var oneMinusPt = y[k] * (1 - sig) + (1 - y[k]) * sig;
                    f += bce * Math.Pow(oneMinusPt, gamma);
                }
            }
            var classes = C - first;
            total += lambdaDice * d / classes + lambdaFocal * f / (classes * S);
        }
        return total / N;
    }

    [Theory]
    [InlineData(true, 2.0, 1.0, 1.0)]
    [InlineData(false, 2.0, 1.0, 1.0)]
    [InlineData(true, 0.0, 0.5, 2.0)]
    [InlineData(true, 1.5, 1.0, 0.25)]
    public void SigmoidFocalPartMatchesAnIndependentFloat64Computation(
        bool includeBackground,
        double gamma,
        double lambdaDice,
        double lambdaFocal
    )
    {
        var x = Hand.Random(N * C * S, seed: 7);
        var labels = Hand.Labels(N * S, C, seed: 8);
        using var loss = new DiceFocalLoss(
            lambdaDice: lambdaDice,
            lambdaFocal: lambdaFocal,
            gamma: gamma,
            includeBackground: includeBackground,
            focalActivation: Activation.Sigmoid
        );
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S));
        Hand.Close(Reference(x, labels, includeBackground, gamma, lambdaDice, lambdaFocal), value.ToDouble(), 1e-12);

        value.backward();
        Hand.CloseToCentralDifferences(
            v => Reference(v, labels, includeBackground, gamma, lambdaDice, lambdaFocal),
            x,
            Hand.Flat(input.grad!),
            new[] { 0, 5, 17, 30, 41, 60, 71 }
        );
    }

    [Fact]
    public void TheFloat32KernelAgreesWithTheFloat64Value()
    {
        var x = Hand.Random(N * C * S, seed: 3);
        var labels = Hand.Labels(N * S, C, seed: 4);
        using var loss = new DiceFocalLoss(focalActivation: Activation.Sigmoid);
        var value = loss.forward(Hand.T(x, N, C, S).to(float32).requires_grad_(true), Hand.L(labels, N, S)).ToDouble();
        // float32 inputs: 7 significant digits over sums of a few dozen terms.
        Assert.Equal(Reference(x, labels, true, 2.0, 1.0, 1.0), value, 1e-5);
    }

    [Fact]
    public void OneChannelWorksWithSigmoidActivations()
    {
        // MONAI's binary use: one channel, sigmoid Dice and sigmoid focal; a finite, non-zero gradient.
        var x = Hand.Random(N * S, seed: 11);
        var t = Hand.Random(N * S, seed: 12, binary: true);
        using var loss = new DiceFocalLoss(activation: Activation.Sigmoid, focalActivation: Activation.Sigmoid);
        var input = Hand.T(x, N, 1, S).requires_grad_(true);
        var value = loss.forward(input, Hand.T(t, N, 1, S));
        value.backward();
        Assert.True(double.IsFinite(value.ToDouble()));
        Assert.True(input.grad!.abs().sum().ToDouble() > 1e-3);
    }

    [Fact]
    public void FocalActivationNoneIsRejected()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new DiceFocalLoss(focalActivation: Activation.None));
        Assert.Equal("focalActivation", ex.ParamName);
    }
}

/// <summary>
/// A softmax over one channel is 1: losses that take one (cross-entropy, softmax focal, Dice with
/// softmax, DiceCE, DiceFocal's defaults) reject a single-channel input instead of returning a constant
/// with a zero gradient.
/// </summary>
public class SingleChannelSoftmaxTests
{
    public static TheoryData<string> SoftmaxLosses() => new() { "ce", "focal", "dice-softmax", "dice-ce", "dice-focal", "gdl", "user" };

    private static LossFunction Make(string name) =>
        name switch
        {
            "ce" => new CrossEntropyLoss(),
            "focal" => new FocalLoss(),
            "dice-softmax" => new DiceLoss(activation: Activation.Softmax),
            "dice-ce" => new DiceCeLoss(), // with activation Sigmoid one channel is MONAI's binary case (DiceCeOneChannelTests)
            "dice-focal" => new DiceFocalLoss(),
            "gdl" => new GeneralizedDiceLoss(),
            _ => new LossDsl.Tests.Specs.OptionDiceLoss(), // a user spec with a softmax
        };

    [Theory]
    [MemberData(nameof(SoftmaxLosses))]
    public void ASingleChannelInputIsRejected(string name)
    {
        using var loss = Make(name);
        foreach (var grad in new[] { true, false })
        {
            var x = randn(2, 1, 4, 4).requires_grad_(grad);
            var t = (rand(2, 1, 4, 4) > 0.5).to(float32);
            var ex = Assert.Throws<ArgumentException>(() => loss.forward(x, t));
            Assert.Contains("single channel (C = 1)", ex.Message);
            Assert.Contains("softmax", ex.Message);
            Assert.Equal("input", ex.ParamName);
        }
    }

    [Fact]
    public void SigmoidLossesKeepWorkingOnOneChannel()
    {
        foreach (var loss in new LossFunction[] { new DiceLoss(), new TverskyLoss(), new DiceLoss(activation: Activation.None) })
        {
            using (loss)
            {
                var x = rand(2, 1, 4, 4).requires_grad_(true);
                var value = loss.forward(x, (rand(2, 1, 4, 4) > 0.5).to(float32));
                value.backward();
                Assert.True(x.grad!.abs().sum().ToDouble() > 0, loss.GetName());
            }
        }
    }
}

/// <summary>
/// DiceLoss(logLoss: true), segmentation_models_pytorch's <c>log_loss</c>: −log(max(score, 1e-7)) per sample
/// and class, averaged, against an independent float64 computation (values and central-difference gradients).
/// </summary>
public class DiceLogLossTests
{
    private const int N = 2,
        C = 3,
        S = 10;

    private static double Reference(double[] x, long[] labels, bool batch)
    {
        var p = Hand.Softmax(x, N, C, S);
        var dice = Hand.Dice(p, Hand.OneHot(labels, N, C, S), N, C, S, batch: batch);
        double total = 0;
        var rows = dice.GetLength(0);
        for (var r = 0; r < rows; r++)
        for (var c = 0; c < C; c++)
            total += -Math.Log(Math.Max(1 - dice[r, c], 1e-7));
        return total / (rows * C);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LogLossMatchesAnIndependentFloat64Computation(bool batch)
    {
        var x = Hand.Random(N * C * S, seed: 21);
        var labels = Hand.Labels(N * S, C, seed: 22);
        using var loss = new DiceLoss(activation: Activation.Softmax, batch: batch, logLoss: true);
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.L(labels, N, S));
        Hand.Close(Reference(x, labels, batch), value.ToDouble(), 1e-12);
        value.backward();
        Hand.CloseToCentralDifferences(v => Reference(v, labels, batch), x, Hand.Flat(input.grad!), new[] { 0, 7, 19, 33, 48, 59 });
    }

    [Fact]
    public void LogLossIsAboveTheLinearLoss()
    {
        // -log s >= 1 - s for s in (0, 1]: the log form weighs poor classes more.
        var x = Hand.Random(N * C * S, seed: 23);
        var labels = Hand.Labels(N * S, C, seed: 24);
        using var linear = new DiceLoss(activation: Activation.Softmax);
        using var log = new DiceLoss(activation: Activation.Softmax, logLoss: true);
        var input = Hand.T(x, N, C, S);
        var target = Hand.L(labels, N, S);
        Assert.True(log.forward(input, target).ToDouble() > linear.forward(input, target).ToDouble());
    }
}
