using System;
using System.Globalization;
using System.Linq;
using LossDsl;
using TorchSharp;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace CustomLoss;

/// <summary>Declares two losses (see MyLosses.cs), checks them, and trains against their blend.</summary>
public static class Program
{
    public static int Main()
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        random.manual_seed(7);
        using var scope = NewDisposeScope();

        // A sparse batch: 4 samples of 32 x 32, ~3 % foreground, a tenth of the pixels invalid.
        var target = (rand(4, 1, 32, 32, dtype: float64) < 0.03).to(float64);
        var mask = rand(4, 32, 32, dtype: float64) > 0.1;
        var logits = randn(4, 1, 32, 32, dtype: float64) + 2 * target - 1;

        using var focal = new MyFocalTverskyLoss(gamma: 0.75);
        using var logCosh = new MyLogCoshDiceLoss();
        var failures = 0;

        // 1. The generated module computes what the spec says: the same value as the interpreter.
        foreach (var (name, loss) in new (string, LossModule)[] { ("focal Tversky", focal), ("log-cosh Dice", logCosh) })
        {
            var generated = loss.forward(logits, target, mask).item<double>();
            var reference = loss.Reference(logits, target, mask).item<double>();
            var ok = Math.Abs(generated - reference) <= 1e-10; // float64; both sum the same 4096 pixels
            failures += ok ? 0 : 1;
            Console.WriteLine($"{name, -14} generated {generated:F6}  interpreter {reference:F6}  {(ok ? "agree" : "DIFFER")}");
        }

        // 2. A declared loss is an ordinary loss: it matches the catalog's multiclass FocalTverskyLoss
        //    with the same options (its α weighs false positives too; smoothing on both sides).
        using var catalog = new FocalTverskyLoss(alpha: 0.3, beta: 0.7, gamma: 0.75, smoothNr: 1.0, smoothDr: 1.0);
        var mine = focal.forward(logits, target, mask).item<double>();
        var theirs = catalog.forward(logits, target, mask).item<double>();
        var same = Math.Abs(mine - theirs) <= 1e-10;
        failures += same ? 0 : 1;
        Console.WriteLine($"catalog FocalTverskyLoss {theirs:F6}  {(same ? "agrees" : "DIFFERS")}");

        // 3. The functional form, per sample.
        var perSample = MyLosses.MyLogCoshDiceLoss(logits, target, mask, reduction: Reduction.None);
        Console.WriteLine(
            $"log-cosh Dice per sample: {string.Join(", ", perSample.flatten().data<double>().ToArray().Select(v => v.ToString("F4", CultureInfo.InvariantCulture)))}"
        );

        // 4. Blend the two and train the logits directly for a few steps.
        using var blend = 0.7 * new MyFocalTverskyLoss() + 0.3 * new MyLogCoshDiceLoss();
        var x = nn.Parameter(zeros(4, 1, 32, 32, dtype: float64));
        var optimizer = optim.Adam(new[] { x }, 0.1);
        double first = 0,
            last = 0;
        for (var step = 0; step < 30; step++)
        {
            using var inner = NewDisposeScope();
            optimizer.zero_grad();
            var value = blend.forward(x, target, mask);
            value.backward();
            optimizer.step();
            if (step == 0)
                first = value.item<double>();
            last = value.item<double>();
        }
        var decreased = last < first;
        failures += decreased ? 0 : 1;
        Console.WriteLine($"0.7 focal Tversky + 0.3 log-cosh Dice: {first:F4} -> {last:F4} in 30 Adam steps");

        Console.WriteLine(failures == 0 ? "all checks passed" : $"{failures} check(s) failed");
        return failures == 0 ? 0 : 1;
    }
}
