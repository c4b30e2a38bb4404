using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using LossDsl.Kernels.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl.Cli.Commands;

/// <summary>
/// <c>lossdsl gpu-check</c>: on a machine with a CUDA device, runs every catalog kernel's printed CUDA program
/// through the driver (<see cref="CudaExecutor"/>) against the float64 reference on the CPU (values and
/// gradients, with and without a mask), then times forward+backward of the fused kernels against autograd
/// through the generated forward and TorchSharp's built-in BCE. Without a device it says so and exits 3.
/// </summary>
public static class GpuCheckCommand
{
    /// <summary>The exit code when there is no CUDA device, driver or NVRTC to check with.</summary>
    public const int Unavailable = 3;

    /// <summary>Runs the check; returns the exit code (0 when every program agrees with the reference).</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, int steps)
    {
        stdout.WriteLine($"cuda available: {cuda.is_available()}; {CudaDriver.Describe()}; {Nvrtc.Describe()}");
        if (!cuda.is_available() || !CudaDriver.IsAvailable || !Nvrtc.IsAvailable)
        {
            stderr.WriteLine("gpu-check: no CUDA device, driver or NVRTC here: nothing to check (see docs/cuda.md)");
            return Unavailable;
        }
        var failures = 0;
        foreach (var entry in LossCatalog.All.Where(e => typeof(LossModule).IsAssignableFrom(e.Type)))
        foreach (var masked in new[] { false, true })
            failures += Parity(entry, masked, stdout) ? 0 : 1;
        Time(stdout, steps);
        stdout.WriteLine(
            failures == 0 ? "gpu-check: every program agrees with the reference" : $"gpu-check: {failures} program(s) disagree"
        );
        return failures == 0 ? ExitCodes.Success : ExitCodes.Failure;
    }

    private static bool Parity(CatalogEntry entry, bool masked, TextWriter stdout)
    {
        using var module = (LossModule)entry.Create();
        if (module.KernelFor(masked) is not { } kernel)
            return true;
        using var scope = NewDisposeScope();
        var multiclass = entry.Task == LossTask.Multiclass;
        long n = 2,
            c = multiclass ? 3 : 1,
            h = 33,
            w = 70;
        var g = new Generator(20261202);
        var x = (rand(new[] { n, c, h, w }, dtype: float64, generator: g) * 2 - 1) * 4;
        var index = multiclass && !entry.Name.StartsWith("multilabel", StringComparison.Ordinal);
        Tensor t = index
            ? randint(0, c, new[] { n, h, w }, dtype: int64, generator: g)
            : rand(new[] { n, c, h, w }, dtype: float64, generator: g).gt(0.6).to(float64);
        var m = masked ? rand(new[] { n, h, w }, dtype: float64, generator: g).gt(0.3) : null;
        var weights = multiclass && module.UsesClassWeights ? tensor(new[] { 0.5, 2.0, 1.5 }) : null;
        var reference = Reference(entry, weights, x, t, m);

        var device = CUDA;
        var (value, gradient, check) = CudaExecutor.Run(
            kernel.Plan,
            x.to(float32).to(device),
            index ? null : t.to(float32).to(device),
            index ? t.to(device) : null,
            m?.to(device),
            weights?.to(device),
            module.IgnoreIndex,
            sum: false,
            check: true
        );
        var v = value.cpu().ToDouble();
        var gd = (gradient.cpu().to(float64) - reference.Gradient).abs().max().ToDouble();
        var scale = Math.Max(1e-12, reference.Gradient.abs().max().ToDouble());
        var bits = check.cpu().data<long>()[0];
        var ok = bits == 0 && Math.Abs(v - reference.Value) <= 2e-4 * Math.Max(1, Math.Abs(reference.Value)) && gd <= 2e-4 * scale;
        stdout.WriteLine(
            $"{entry.Name}{(masked ? " (masked)" : "")}: value gpu {v:G7} reference {reference.Value:G7}, max grad diff {gd:E2} (scale {scale:E2}), check {bits} {(ok ? "ok" : "FAIL")}"
        );
        return ok;
    }

    // The reference: the interpreter in float64 on the CPU, and its autograd.
    private static (double Value, Tensor Gradient) Reference(CatalogEntry entry, Tensor? weights, Tensor x, Tensor t, Tensor? m)
    {
        using var module = (LossModule)entry.Create(classWeights: weights);
        var x64 = x.detach().requires_grad_(true);
        var value = module.Reference(x64, t, m);
        value.backward();
        return (value.ToDouble(), x64.grad!.detach().clone());
    }

    private static void Time(TextWriter stdout, int steps)
    {
        foreach (
            var (name, shape) in new[]
            {
                ("bce", new long[] { 8, 1, 512, 512 }),
                ("binary-focal", new long[] { 8, 1, 512, 512 }),
                ("bce-dice", new long[] { 8, 1, 512, 512 }),
                ("dice", new long[] { 8, 4, 256, 256 }),
                ("tversky", new long[] { 8, 4, 256, 256 }),
                ("dice-ce", new long[] { 2, 4, 128, 128, 128 }),
                ("generalized-dice", new long[] { 2, 4, 128, 128, 128 }),
                ("focal", new long[] { 2, 4, 128, 128, 128 }),
            }
        )
        {
            var entry = LossCatalog.Find(name)!;
            using var module = (LossModule)entry.Create();
            if (module.KernelFor(masked: false) is not { } kernel)
                continue;
            // Autograd through the generated forward, the path CUDA tensors take today (Mode is fixed at construction).
            using var autograd = (LossModule)entry.Create();
            typeof(LossModule).GetProperty(nameof(LossModule.Mode))!.SetValue(autograd, ExecutionMode.Autograd);
            using var scope = NewDisposeScope();
            var x = randn(shape, device: CUDA);
            var index = entry.Task == LossTask.Multiclass;
            var spatial = shape.Skip(2).ToArray();
            var t = index
                ? randint(0, shape[1], new[] { shape[0] }.Concat(spatial).ToArray(), dtype: int64, device: CUDA)
                : rand(shape, device: CUDA).gt(0.98).to(float32);
            double Fused()
            {
                using var s = NewDisposeScope();
                CudaExecutor.Run(kernel.Plan, x, index ? null : t, index ? t : null, null, null, -100, sum: false, check: false);
                return 0;
            }
            double Autograd()
            {
                using var s = NewDisposeScope();
                var xi = x.detach().requires_grad_(true);
                autograd.forward(xi, t, null).backward();
                return 0;
            }
            stdout.WriteLine(
                $"{name} {string.Join("x", shape)}: fused {Median(Fused, steps):F3} ms, autograd {Median(Autograd, steps):F3} ms"
            );
        }
        using (NewDisposeScope())
        {
            var x = randn(new long[] { 8, 1, 512, 512 }, device: CUDA);
            var t = rand(new long[] { 8, 1, 512, 512 }, device: CUDA).gt(0.98).to(float32);
            double BuiltIn()
            {
                using var s = NewDisposeScope();
                var xi = x.detach().requires_grad_(true);
                nn.functional.binary_cross_entropy_with_logits(xi, t).backward();
                return 0;
            }
            stdout.WriteLine($"built-in bce 8x1x512x512: {Median(BuiltIn, steps):F3} ms");
        }
    }

    private static double Median(Func<double> step, int steps)
    {
        for (var i = 0; i < 5; i++)
            step();
        cuda.synchronize();
        var times = new List<double>();
        for (var i = 0; i < steps; i++)
        {
            var sw = Stopwatch.StartNew();
            step();
            cuda.synchronize();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}

/// <summary>The <c>gpu-check</c> verb.</summary>
internal sealed class GpuCheckVerb : ICliCommand
{
    /// <inheritdoc />
    public System.CommandLine.Command Create()
    {
        var steps = new System.CommandLine.Option<int>("--steps")
        {
            Description = "Timed steps per case (median).",
            DefaultValueFactory = _ => 21,
        };
        var command = new System.CommandLine.Command(
            "gpu-check",
            "On a CUDA machine: run every catalog kernel's printed CUDA program against the float64 reference, then time the fused kernels against autograd (exit 3 without a device)."
        );
        command.Options.Add(steps);
        command.SetAction(result => GpuCheckCommand.Run(Console.Out, Console.Error, result.GetValue(steps)));
        return command;
    }
}
