using System;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl.Benchmarks;

/// <summary>
/// Step time of one loss at growing sizes (--scaling [filter]): the intercept is the fixed cost of a call
/// (autograd, checks, dispatch), the slope the cost per element.
/// </summary>
public static class Scaling
{
    public static void Run(string filter)
    {
        torch.set_num_threads(Environment.ProcessorCount);
        foreach (var c in Cases.All().Where(c => c.ToString().Contains(filter, StringComparison.OrdinalIgnoreCase)).Take(1))
        {
            var loss = c.Fused();
            foreach (var side in new long[] { 8, 32, 64, 128, 256, 512 })
            {
                var shape = c.Shape.Take(c.Shape.Length - 2).Concat(new[] { side, side }).ToArray();
                manual_seed(1);
                var x = randn(shape);
                var t = c.Multiclass
                    ? (rand(new[] { shape[0] }.Concat(shape.Skip(2)).ToArray()) * shape[1]).floor().to(int64)
                    : rand(shape).gt(0.98).to(float32);
                double Median(Action a) => Profile.Median(a, warmup: 10, runs: 60);
                var step = Median(() =>
                {
                    using var s = NewDisposeScope();
                    var xi = x.detach().requires_grad_(true);
                    loss.forward(xi, t).backward();
                });
                var value = Median(() =>
                {
                    using var s = NewDisposeScope();
                    using var _ = no_grad();
                    loss.forward(x, t);
                });
                var sig = Median(() =>
                {
                    using var s = NewDisposeScope();
                    sigmoid(x);
                });
                Console.WriteLine(
                    $"{c.Name, -20} {string.Join("x", shape), -16} step {step * 1000, 9:F1} us   no-grad {value * 1000, 9:F1} us   torch sigmoid {sig * 1000, 9:F1} us"
                );
            }
        }
    }
}
