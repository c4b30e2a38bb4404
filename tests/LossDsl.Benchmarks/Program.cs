using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl.Benchmarks;

/// <summary>
/// Forward+backward of catalog losses: the generated fused path against the same formula written in
/// eager TorchSharp the way the seeds write it, TorchSharp's built-in where one exists, and two floors
/// measured in the same run (a copy of the same bytes; one vectorised sigmoid pass into a buffer).
/// <c>--quick</c>: short runs (under 2 minutes) for a smoke check; results for docs/benchmarks.md come
/// from the default (longer) run.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (Array.IndexOf(args, "--memory-one") is var k and >= 0)
        {
            PeakMemory.RunOne(int.Parse(args[k + 1], System.Globalization.CultureInfo.InvariantCulture), args[k + 2]);
            return;
        }
        if (args.Contains("--retain") && Array.IndexOf(args, "--profile") >= 0)
            LossDsl.NativeAllocator.RetainFreedMemory();
        if (Array.IndexOf(args, "--profile") is var pi and >= 0)
        {
            Profile.Run(args.Length > pi + 1 ? args[pi + 1] : "");
            return;
        }
        if (Array.IndexOf(args, "--checks") is var ci and >= 0)
        {
            CheckPairs.Run(args.Length > ci + 1 && args[ci + 1] != "--aa" ? args[ci + 1] : "", args.Contains("--aa"));
            return;
        }
        if (Array.IndexOf(args, "--scaling") is var si and >= 0)
        {
            Scaling.Run(args.Length > si + 1 ? args[si + 1] : "");
            return;
        }
        if (args.Contains("--memory"))
        {
            PeakMemory.Run();
            return;
        }
        // --retain: the tuned allocator (NativeAllocator.RetainFreedMemory), an extra configuration next to
        // the default one; it keeps glibc from returning freed blocks, so no step pays page faults.
        if (args.Contains("--retain") && !LossDsl.NativeAllocator.RetainFreedMemory())
            Console.Error.WriteLine("--retain: not glibc; the allocator is unchanged");
        var quick = args.Contains("--quick");
        var rest = args.Where(a => a is not ("--quick" or "--retain")).ToArray();
        var job = (quick ? Job.Default.WithWarmupCount(2).WithIterationCount(5) : Job.Default.WithWarmupCount(5).WithIterationCount(15))
            .WithInvocationCount(1)
            .WithUnrollFactor(1)
            .WithToolchain(InProcessEmitToolchain.Instance);
        var config = ManualConfig
            .Create(DefaultConfig.Instance)
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(BenchmarkDotNet.Columns.StatisticColumn.Median)
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
        if (rest.Length == 0)
            rest = new[] { "--filter", "*" };
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, config);
    }
}

/// <summary>One benchmark case: a catalog loss, its eager seed-style formula and its built-in (if any).</summary>
public sealed record LossCase(
    string Name,
    long[] Shape,
    bool Multiclass,
    Func<LossFunction> Fused,
    Func<Tensor, Tensor, Tensor, Tensor> Eager,
    Func<Tensor, Tensor, Tensor, Tensor>? Builtin
)
{
    public override string ToString() => $"{Name} {string.Join("x", Shape)}";
}

/// <summary>The cases of the issue: binary 8x1x512x512, multiclass 8x5x256x256, one 3-D case.</summary>
public static class Cases
{
    public static readonly long[] Binary = { 8, 1, 512, 512 };
    public static readonly long[] Multiclass = { 8, 5, 256, 256 };
    public static readonly long[] Volume = { 2, 1, 96, 256, 256 };
    public static readonly long[] LargeMulticlass = { 4, 5, 512, 512 };

    public static LossFunction Catalog(string type, params (string Name, object Value)[] options)
    {
        var t =
            typeof(LossModule).Assembly.GetType("LossDsl." + type) ?? throw new InvalidOperationException($"catalog loss {type} not found");
        var ctor = t.GetConstructors().Single();
        var args = ctor.GetParameters()
            .Select(p => options.FirstOrDefault(o => o.Name == p.Name) is { Name: not null } o ? o.Value : p.DefaultValue)
            .ToArray();
        // The configuration a user gets: default options (value checks on). FusedVsEager adds an unchecked row.
        return (LossModule)ctor.Invoke(args);
    }

    private static Tensor Dims(Tensor x) => x; // readability helper for the eager formulas below

    private static long[] SpatialDims(Tensor x) => Enumerable.Range(2, (int)x.dim() - 2).Select(i => (long)i).ToArray();

    // ---- eager formulas, written as the seed code writes them (one op per line, autograd keeps all)

    public static Tensor EagerBce(Tensor x, Tensor t, Tensor _)
    {
        var p = sigmoid(x).clamp(1e-7, 1 - 1e-7);
        return (-(t * log(p) + (1 - t) * log(1 - p))).mean();
    }

    public static Tensor EagerWeightedBce(Tensor x, Tensor t, Tensor _)
    {
        var p = sigmoid(x).clamp(1e-7, 1 - 1e-7);
        return (-(49.0 * t * log(p) + (1 - t) * log(1 - p))).mean();
    }

    public static Tensor EagerFocal(Tensor x, Tensor t, Tensor _)
    {
        var p = sigmoid(x);
        var pt = p * t + (1 - p) * (1 - t);
        var alpha = 0.25 * t + 0.75 * (1 - t);
        return (-alpha * pow(1 - pt, 2.0) * log(pt.clamp_min(1e-7))).mean();
    }

    public static Tensor EagerDice(Tensor x, Tensor t, Tensor _)
    {
        var p = sigmoid(x);
        var dims = SpatialDims(x);
        var inter = (p * t).sum(dims);
        var den = p.sum(dims) + t.sum(dims);
        return (1 - (2 * inter + 1e-5) / (den + 1e-5)).mean();
    }

    public static Tensor EagerBceDice(Tensor x, Tensor t, Tensor w) => 0.5 * EagerBce(x, t, w) + 0.5 * EagerDice(x, t, w);

    // The Tversky index per sample, seed style: α weighs false positives, β false negatives.
    private static Tensor EagerTverskyIndex(Tensor x, Tensor t, double alpha, double beta)
    {
        var p = sigmoid(x);
        var dims = SpatialDims(x);
        var tp = (p * t).sum(dims);
        var fp = (p * (1 - t)).sum(dims);
        var fn = ((1 - p) * t).sum(dims);
        return (tp + 1e-5) / (tp + alpha * fp + beta * fn + 1e-5);
    }

    public static Tensor EagerTversky(Tensor x, Tensor t, Tensor _) => (1 - EagerTverskyIndex(x, t, 0.3, 0.7)).mean();

    public static Tensor EagerGeneralizedDice(Tensor x, Tensor t, Tensor _)
    {
        var p = softmax(x, 1);
        var dims = SpatialDims(x);
        var ground = t.sum(dims);
        var w = 1.0 / (ground * ground).clamp_min(1e-5);
        var inter = (w * (p * t).sum(dims)).sum(1);
        var den = (w * (p.sum(dims) + ground)).sum(1);
        return (1 - (2 * inter + 1e-5) / (den + 1e-5)).mean();
    }

    public static Tensor EagerCrossEntropy(Tensor x, Tensor t, Tensor w)
    {
        var logp = log(softmax(x, 1));
        var wt = (w.reshape(1, -1, 1, 1) * t).sum(1);
        var nll = -(logp * t).sum(1);
        return (wt * nll).sum() / wt.sum();
    }

    public static Tensor EagerFocalTversky(Tensor x, Tensor t, Tensor _) =>
        pow((1 - EagerTverskyIndex(x, t, 0.7, 0.3)).clamp_min(1e-12), 0.75).mean();

    public static Tensor EagerMcc(Tensor x, Tensor t, Tensor _)
    {
        var p = sigmoid(x);
        var tp = (p * t).sum() + 1e-5;
        var tn = ((1 - p) * (1 - t)).sum() + 1e-5;
        var fp = (p * (1 - t)).sum() + 1e-5;
        var fn = ((1 - p) * t).sum() + 1e-5;
        return 1 - (tp * tn - fp * fn) / sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
    }

    public static Tensor EagerSoftmaxFocal(Tensor x, Tensor t, Tensor w)
    {
        var p = softmax(x, 1);
        var logp = log(p.clamp_min(1e-7));
        var alpha = w.reshape(1, -1, 1, 1);
        return (alpha * t * pow(1 - p, 2.0) * -logp).sum(1).mean();
    }

    public static Tensor EagerDiceCe(Tensor x, Tensor t, Tensor _)
    {
        var p = softmax(x, 1);
        var ce = -(t * log(p.clamp_min(1e-7))).sum(1).mean();
        var dims = SpatialDims(x);
        var inter = (p * t).sum(dims);
        var den = p.sum(dims) + t.sum(dims);
        return (1 - (2 * inter + 1e-5) / (den + 1e-5)).mean() + ce;
    }

    public static IEnumerable<LossCase> All()
    {
        yield return new(
            "bce",
            Binary,
            false,
            () => Catalog("BceLoss"),
            EagerBce,
            (x, t, _) => nn.functional.binary_cross_entropy_with_logits(x, t)
        );
        yield return new(
            "weighted-bce",
            Binary,
            false,
            () => Catalog("BceLoss", ("posWeight", 49.0)),
            EagerWeightedBce,
            (x, t, _) => nn.functional.binary_cross_entropy_with_logits(x, t, null, nn.Reduction.Mean, PosWeight49)
        );
        yield return new("binary-focal", Binary, false, () => Catalog("BinaryFocalLoss", ("alpha", 0.25)), EagerFocal, null);
        yield return new("dice", Binary, false, () => Catalog("DiceLoss"), EagerDice, null);
        yield return new("bce-dice", Binary, false, () => Catalog("BceDiceLoss"), EagerBceDice, null);
        yield return new("tversky", Binary, false, () => Catalog("TverskyLoss", ("alpha", 0.3), ("beta", 0.7)), EagerTversky, null);
        yield return new("generalized-dice", Multiclass, true, () => Catalog("GeneralizedDiceLoss"), EagerGeneralizedDice, null);
        yield return new(
            "cross-entropy",
            Multiclass,
            true,
            () => Catalog("CrossEntropyLoss"),
            EagerCrossEntropy,
            (x, t, w) => nn.functional.cross_entropy(x, t, weight: w)
        );
        yield return new("dice", Volume, false, () => Catalog("DiceLoss"), EagerDice, null);
        yield return new("focal-tversky", Binary, false, () => Catalog("FocalTverskyLoss"), EagerFocalTversky, null);
        yield return new("mcc", Binary, false, () => Catalog("MccLoss"), EagerMcc, null);
        yield return new("focal (softmax)", Multiclass, true, () => Catalog("FocalLoss"), EagerSoftmaxFocal, null);
        yield return new("dice-ce", Multiclass, true, () => Catalog("DiceCeLoss"), EagerDiceCe, null);
        // Sizes that do not fit in cache.
        yield return new("tversky", Volume, false, () => Catalog("TverskyLoss", ("alpha", 0.3), ("beta", 0.7)), EagerTversky, null);
        yield return new("generalized-dice", LargeMulticlass, true, () => Catalog("GeneralizedDiceLoss"), EagerGeneralizedDice, null);
        yield return new(
            "dice (softmax)",
            LargeMulticlass,
            true,
            () => Catalog("DiceLoss", ("activation", Activation.Softmax)),
            EagerSoftmaxDice,
            null
        );
    }

    private static readonly Tensor PosWeight49 = tensor(new[] { 49.0f });

    public static Tensor EagerSoftmaxDice(Tensor x, Tensor t, Tensor _)
    {
        var p = softmax(x, 1);
        var dims = SpatialDims(x);
        var inter = (p * t).sum(dims);
        var den = p.sum(dims) + t.sum(dims);
        return (1 - (2 * inter + 1e-5) / (den + 1e-5)).mean();
    }
}

/// <summary>Inputs shared by the benchmarks of one case.</summary>
public abstract class LossBenchmarkBase
{
    protected Tensor X = null!,
        Target = null!,
        Index = null!,
        Weights = null!;
    protected LossFunction Fused = null!,
        Unchecked = null!;

    public LossCase Case { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        manual_seed(1);
        X = randn(Case.Shape);
        if (Case.Multiclass)
        {
            // Unequal class areas: class 0 dominates.
            var spatial = new[] { Case.Shape[0] }.Concat(Case.Shape.Skip(2)).ToArray();
            Index = (rand(spatial) * rand(spatial) * Case.Shape[1]).floor().to(int64).clamp(0, Case.Shape[1] - 1);
            Target = nn.functional.one_hot(Index, Case.Shape[1]).permute(Permutation(Case.Shape.Length)).to(float32).contiguous();
        }
        else
        {
            Target = rand(Case.Shape).gt(0.98).to(float32); // sparse foreground, about 2 %
            Index = Target;
        }
        Weights = tensor(Enumerable.Range(0, (int)Case.Shape[1]).Select(i => 1.0f + i).ToArray());
        Fused = Case.Fused();
        if (Fused is LossModule m && Case.Multiclass && m.UsesClassWeights)
            Init(m, nameof(LossModule.ClassWeights), Weights);
        Unchecked = Case.Fused();
        if (Unchecked is LossModule u)
        {
            Init(u, nameof(LossModule.CheckValues), false);
            if (Case.Multiclass && u.UsesClassWeights)
                Init(u, nameof(LossModule.ClassWeights), Weights);
        }
    }

    /// <summary>For an A/A comparison: the second module checks values too (a separate instance of the same module).</summary>
    internal void CheckTheUncheckedModuleToo()
    {
        if (Unchecked is LossModule u)
            Init(u, nameof(LossModule.CheckValues), true);
    }

    // Construction-time settings of a module built generically (by reflection) from the catalog.
    private static void Init(LossModule module, string property, object value) =>
        typeof(LossModule).GetProperty(property)!.SetValue(module, value);

    private static long[] Permutation(int rank) =>
        new long[] { 0, rank - 1 }
            .Concat(Enumerable.Range(1, rank - 2).Select(i => (long)i))
            .ToArray();

    internal Tensor XForProfile() => X.detach().requires_grad_(true);

    internal LossFunction FusedForProfile => Fused;

    internal Tensor TargetForProfile() => Case.Multiclass ? Index : Target;

    internal Tensor WeightsForProfile() => Weights;

    /// <summary>One forward+backward step of the catalog module in its default configuration (checks on).</summary>
    protected void StepChecked() => Step(x => Fused.forward(x, Case.Multiclass ? Index : Target));

    /// <summary>The same step with <c>CheckValues = false</c>.</summary>
    protected void StepUnchecked() => Step(x => Unchecked.forward(x, Case.Multiclass ? Index : Target));

    protected void Step(Func<Tensor, Tensor> loss)
    {
        using var scope = NewDisposeScope();
        var x = X.detach().requires_grad_(true);
        loss(x).backward();
    }
}

/// <summary>Benchmarks run for every case of <see cref="Cases.All"/>.</summary>
public abstract class EveryCase : LossBenchmarkBase
{
    public IEnumerable<LossCase> AllCases => Cases.All();

    [ParamsSource(nameof(AllCases))]
    public LossCase Loss
    {
        get => Case;
        set => Case = value;
    }
}

/// <summary>Fused vs eager (the baseline) for every case.</summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByParams)]
public class FusedVsEager : EveryCase
{
    [Benchmark(Baseline = true)]
    public void Eager() => Step(x => Case.Eager(x, Target, Weights));

    /// <summary>The default configuration: value checks on.</summary>
    [Benchmark]
    public void Fused_() => StepChecked();

    /// <summary>Tuned: CheckValues = false (the built-ins check nothing either); measured in <see cref="CheckCost"/>.</summary>
    public void FusedUnchecked() => StepUnchecked();
}

/// <summary>
/// What the value checks cost: the fused step with <c>CheckValues</c> on (the default) against the same step
/// with it off, for every case, with no eager row in between. In <see cref="FusedVsEager"/> the fused row runs
/// right after its eager row: on the 2-core VM the row after an eager step that allocates and frees hundreds of MB
/// ran 10–35 % slower in some processes (Dice on the volume: 13.7 ms checked against 10.1 ms unchecked in one full
/// run, 10.1 against 9.6 ms where the fused rows ran first). Here both rows see the same conditions.
/// </summary>
/// <remarks>
/// <see cref="CheckedAgain"/> is the same step as <see cref="Checked"/> (an A/A row): how far it strays from it is
/// how much these rows drift on the machine, the resolution of the ratio. <c>--checks</c> measures the ratio
/// from interleaved pairs instead.
/// </remarks>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByParams)]
[IterationCount(31)]
public class CheckCost : EveryCase
{
    [Benchmark(Baseline = true)]
    public void Unchecked_() => StepUnchecked();

    [Benchmark]
    public void Checked() => StepChecked();

    [Benchmark]
    public void CheckedAgain() => StepChecked();
}

/// <summary>
/// The value alone, under <c>no_grad</c> (a validation loss, a metric): the catalog module in its default
/// configuration against the same eager formula, for a binary, a multiclass and an out-of-cache case.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByParams)]
public class NoGrad : LossBenchmarkBase
{
    public IEnumerable<LossCase> NoGradCases =>
        Cases.All().Where(c => c.ToString() is "dice 8x1x512x512" or "cross-entropy 8x5x256x256" or "dice (softmax) 4x5x512x512");

    [ParamsSource(nameof(NoGradCases))]
    public LossCase Loss
    {
        get => Case;
        set => Case = value;
    }

    [Benchmark(Baseline = true)]
    public double EagerValue() => Value(() => Case.Eager(X, Target, Weights));

    [Benchmark]
    public double FusedValue() => Value(() => Fused.forward(X, Case.Multiclass ? Index : Target));

    private static double Value(Func<Tensor> loss)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return loss().ToDouble();
    }
}

/// <summary>TorchSharp's built-ins where they exist.</summary>
public class BuiltIn : LossBenchmarkBase
{
    public IEnumerable<LossCase> BuiltInCases => Cases.All().Where(c => c.Builtin is not null);

    [ParamsSource(nameof(BuiltInCases))]
    public LossCase BuiltInCase
    {
        get => Case;
        set => Case = value;
    }

    [Benchmark]
    public void Builtin() => Step(x => Case.Builtin!(x, Case.Multiclass ? Index : Target, Weights));
}

/// <summary>
/// The generated functional form (<c>Losses.DiceLoss(input, target)</c>), which builds a module per call, against
/// one module kept across calls, at a small and a large binary size: what a call costs beyond the loss.
/// </summary>
public class FunctionalForm
{
    private Tensor _x = null!,
        _t = null!;
    private DiceLoss _module = null!;

    [Params(64, 512)]
    public int Side { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        manual_seed(1);
        _x = randn(8, 1, Side, Side);
        _t = rand(8, 1, Side, Side).gt(0.98).to(float32);
        _module = new DiceLoss();
    }

    [Benchmark(Baseline = true)]
    public void Module() => Step(x => _module.forward(x, _t));

    [Benchmark]
    public void Functional() => Step(x => Losses.DiceLoss(x, _t));

    private void Step(Func<Tensor, Tensor> loss)
    {
        using var scope = NewDisposeScope();
        var x = _x.detach().requires_grad_(true);
        loss(x).backward();
    }
}

/// <summary>The floors: the bytes a loss must move, and the least transcendental work it must do.</summary>
public class Floors
{
    private Tensor _x = null!,
        _buffer = null!;
    private float[] _src = Array.Empty<float>(),
        _dst = Array.Empty<float>();

    [Params(8L * 512 * 512)]
    public long Elements { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        _x = randn(Elements);
        _buffer = empty(Elements);
        _src = _x.data<float>().ToArray();
        _dst = new float[Elements];
    }

    /// <summary>
    /// Read logits and target, write a gradient: three tensors' worth of bytes, copied by two threads
    /// (the bandwidth floor of a loss's forward+backward).
    /// </summary>
    [Benchmark]
    public void CopyFloor()
    {
        var half = _src.Length / 2;
        System.Threading.Tasks.Parallel.Invoke(
            () =>
            {
                for (var k = 0; k < 3; k++)
                    _src.AsSpan(0, half).CopyTo(_dst.AsSpan(0, half));
            },
            () =>
            {
                for (var k = 0; k < 3; k++)
                    _src.AsSpan(half).CopyTo(_dst.AsSpan(half));
            }
        );
    }

    /// <summary>The same bytes copied by TorchSharp's <c>copy_</c> (for comparison with the managed copy).</summary>
    [Benchmark]
    public void TorchCopy()
    {
        _buffer.copy_(_x);
        _buffer.copy_(_x);
        _buffer.copy_(_x);
    }

    /// <summary>One vectorised sigmoid pass over the logits into a preallocated buffer (TensorPrimitives, 2 threads).</summary>
    [Benchmark]
    public void SigmoidFloor()
    {
        var half = _src.Length / 2;
        System.Threading.Tasks.Parallel.Invoke(
            () => System.Numerics.Tensors.TensorPrimitives.Sigmoid(_src.AsSpan(0, half), _dst.AsSpan(0, half)),
            () => System.Numerics.Tensors.TensorPrimitives.Sigmoid(_src.AsSpan(half), _dst.AsSpan(half))
        );
    }
}

/// <summary>
/// Peak extra resident memory of one forward+backward step per path, from the kernel's own counters:
/// /proc/self/clear_refs resets the peak (VmHWM), then the step runs and the new peak is read. The extra
/// memory is reported in units of the logits tensor's size.
/// </summary>
public static class PeakMemory
{
    private static long Read(string field)
    {
        foreach (var line in System.IO.File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    // Each case and path runs in a fresh process (an allocator that has already grown hides new
    // allocations from the resident-set peak), measuring its first full-size forward+backward step.
    public static void Run()
    {
        Console.WriteLine("| case | path | peak extra memory | × logits |");
        Console.WriteLine("|---|---|---|---|");
        var all = Cases.All().ToList();
        for (var i = 0; i < all.Count; i++)
            foreach (var path in new[] { "fused", "eager" })
            {
                var psi = new System.Diagnostics.ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
                foreach (var a in Environment.GetCommandLineArgs().Skip(1).Where(a => a != "--memory"))
                    psi.ArgumentList.Add(a);
                // Every block of 64 KiB or more gets its own mapping and is unmapped when freed, so the
                // resident peak is the peak of live tensor memory, not of what the allocator kept.
                psi.Environment["MALLOC_MMAP_THRESHOLD_"] = "65536";
                psi.Environment["MALLOC_TRIM_THRESHOLD_"] = "65536";
                // ... and the .NET GC keeps what it has, so its releases cannot hide a native allocation.
                psi.Environment["DOTNET_GCRetainVM"] = "1";
                psi.ArgumentList.Add("--memory-one");
                psi.ArgumentList.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                psi.ArgumentList.Add(path);
                if (Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal))
                    psi.ArgumentList.Insert(0, typeof(PeakMemory).Assembly.Location);
                using var p = System.Diagnostics.Process.Start(psi)!;
                Console.WriteLine(p.StandardOutput.ReadToEnd().Trim());
                p.WaitForExit();
            }
    }

    public static void RunOne(int index, string path)
    {
        torch.set_num_threads(Environment.ProcessorCount);
        var c = Cases.All().ElementAt(index);
        // One-time work (JIT, the kernel's construction and compiled passes, thread teams) happens in a
        // step on a small input of the same case first, so the peak is that of a training step. Sides of 64 at
        // most: large enough that the passes run on the thread team (ThreadTeam.SerialBelow) as the measured
        // step's do, which starts the team's threads.
        var warm = new FusedVsEager
        {
            Case = c with { Shape = c.Shape.Take(2).Concat(c.Shape.Skip(2).Select(d => Math.Min(d, 64L))).ToArray() },
        };
        warm.Setup();
        (path == "fused" ? (Action)warm.Fused_ : warm.Eager)();
        var bench = new FusedVsEager { Case = c };
        bench.Setup();
        var logits = c.Shape.Aggregate(1L, (a, b) => a * b) * 4;
        Action step = path == "fused" ? bench.Fused_ : bench.Eager;
        // Tensors of the warm-up step are released by finalizers: run them all before the measurement.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        System.IO.File.WriteAllText("/proc/self/clear_refs", "5");
        var before = Read("VmRSS");
        step();
        var extra = Math.Max(0, Read("VmHWM") - before);
        Console.WriteLine($"| {c} | {path} | {extra / 1048576.0:F1} MB | {extra / (double)logits:F2} |");
    }
}

/// <summary>
/// <c>--profile [filter]</c>: median wall time of 40 fused and eager steps per case, in process, for
/// quick iteration (BenchmarkDotNet runs give the numbers that are reported).
/// </summary>
public static class Profile
{
    /// <summary>The median wall time of an action in ms, after a few unmeasured warm-up calls.</summary>
    internal static double Median(Action a, int warmup = 5, int runs = 40)
    {
        for (var i = 0; i < warmup; i++)
            a();
        var times = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            a();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    public static void Run(string filter)
    {
        foreach (var c in Cases.All().Where(c => c.ToString().Contains(filter, StringComparison.OrdinalIgnoreCase)))
        {
            var bench = new FusedVsEager { Loss = c };
            bench.Setup();
            var builtin = c.Builtin is null
                ? ""
                : $"   built-in {Median(() => { using var s = NewDisposeScope(); var x = bench.XForProfile(); c.Builtin(x, bench.TargetForProfile(), bench.WeightsForProfile()).backward(); }), 8:F2} ms";
            // The forward alone without a gradient (the kernel's value-only passes): with the step, where the time goes.
            var valueOnly = Median(() =>
            {
                using var s = NewDisposeScope();
                using var _ = no_grad();
                bench.FusedForProfile.forward(bench.XForProfile(), bench.TargetForProfile());
            });
            Console.WriteLine(
                $"{c, -36} fused {Median(bench.Fused_), 8:F2} ms   unchecked {Median(bench.FusedUnchecked), 8:F2} ms   eager {Median(bench.Eager), 8:F2} ms   no-grad {valueOnly, 8:F2} ms{builtin}"
            );
            if (Environment.GetEnvironmentVariable("PROBE_THREADS") == "1")
                Console.WriteLine(
                    System.IO.File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Threads"))
                        + " rss "
                        + (System.Diagnostics.Process.GetCurrentProcess().WorkingSet64 >> 20)
                        + " MB"
                );
        }
    }
}
