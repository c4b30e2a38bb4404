using System;
using System.Globalization;
using LossDsl;
using TorchSharp;
using static LossDsl.Dsl;
using static TorchSharp.torch;

namespace Consumer;

/// <summary>A loss declared by the user, compiled by the generator that ships in LossDsl.Runtime.</summary>
public static partial class MyLosses
{
    /// <summary>Tversky loss: alpha weighs false positives, beta false negatives.</summary>
    [Loss(LossTask.Binary)]
    public static Expr PackTversky(Expr logits, Expr target, double alpha = 0.3, double beta = 0.7, double smooth = 1.0)
    {
        var p = Sigmoid(logits);
        var tp = Sum(p * target, Over.Spatial);
        var fp = Sum(p * (1 - target), Over.Spatial);
        var fn = Sum((1 - p) * target, Over.Spatial);
        return 1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth);
    }
}

/// <summary>Trains logits against fixed targets for a few SGD steps and prints every loss value.</summary>
public static class Program
{
    // Fixed inputs, defined by formulas the test reproduces independently: N = 2 samples of 3 x 4 pixels.
    private const int N = 2,
        H = 3,
        W = 4,
        Steps = 4;
    private const double LearningRate = 2.0;

    public static int Main()
    {
        var count = N * H * W;
        var x = new double[count];
        var t = new double[count];
        var m = new double[count];
        for (var k = 0; k < count; k++)
        {
            x[k] = 2 * Math.Sin(0.7 * k);
            t[k] = k % 3 == 0 ? 1 : 0;
            m[k] = k % 7 == 5 ? 0 : 1;
        }

        using var logits = nn.Parameter(tensor(x, new long[] { N, 1, H, W }, float64));
        using var target = tensor(t, new long[] { N, 1, H, W }, float64);
        using var mask = tensor(m, new long[] { N, H, W }, float64);

        using var loss = new PackTverskyLoss(alpha: 0.4, beta: 0.6);
        var optimizer = optim.SGD(new[] { logits }, LearningRate);
        for (var step = 0; step < Steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var value = loss.forward(logits, target, mask);
            value.backward();
            optimizer.step();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step} loss {value.item<double>():R}"));
        }
        using (no_grad())
        {
            using var final = loss.forward(logits, target, mask);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"final loss {final.item<double>():R}"));
        }

        // Catalog losses from the same package, combined with the operators on LossFunction.
        using var start = tensor(x, new long[] { N, 1, H, W }, float64);
        using var combined = 0.5 * new BceLoss() + 0.5 * new DiceLoss();
        using var c = combined.forward(start, target, mask);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"combined {c.item<double>():R}"));
        return 0;
    }
}
