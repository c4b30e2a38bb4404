using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using Kind = LossDsl.Kernels.NodeKind;
using Node = LossDsl.Kernels.PlanNode;
using Reduction = TorchSharp.torch.nn.Reduction;
using Sink = LossDsl.Kernels.PlanSink;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace LossDsl.Kernels;

/// <summary>
/// A fused CPU kernel for one spec with fixed hyperparameters: the compiled forward and its symbolic
/// gradient, scheduled into as few passes over memory as the reductions allow (one for pixel-wise
/// losses, two for region losses). Each pass walks the tensors in chunks of one sample (all classes
/// of a run of pixels); a chunk's whole vectors go through the pass compiled to one vector loop at the
/// hardware's native width (CpuKernel.Compiled.cs, <see cref="Simd.Native"/>), the few pixels left over
/// through a buffered evaluation with
/// <see cref="TensorPrimitives"/>. Per-chunk partial sums are combined in chunk order, so results do
/// not depend on thread timing; the last pass writes the gradient straight into its output.
/// </summary>
/// <remarks>
/// Float32, contiguous CPU tensors, Mean or Sum reduction. Anything else (other dtypes or devices,
/// reduction None, constructs the schedule does not cover) is left to the TorchSharp path: see
/// <see cref="TryCreate"/>. The gradient is computed during the forward pass for an upstream
/// gradient of 1 and scaled in the backward.
/// </remarks>
internal sealed partial class CpuKernel
{
    private readonly KernelPlan _plan;

    // The plan's parts under the names the executor reads.
    private ImmutableArray<Node> _nodes => _plan.Nodes;
    private ImmutableArray<Sink> _sinks => _plan.Sinks;
    private int _passes => _plan.Passes;
    private int _gradient => _plan.Gradient;
    private int _valueSum => _plan.ValueSum;
    private int _weightSum => _plan.WeightSum;
    private int _value => _plan.Value;
    private int _weight => _plan.Weight;
    private int _seedValue => _plan.SeedValue;
    private int _seedWeight => _plan.SeedWeight;
    private bool _deferSeed => _plan.DeferSeed;
    private bool _pixelwise => _plan.Pixelwise;
    private bool _weighted => _plan.Weighted;
    private Over _axes => _plan.Axes;

    private IEnumerable<int> SeedInputs(Seed seed) => _plan.SeedInputs(seed);

    /// <summary>The schedule this kernel executes.</summary>
    internal KernelPlan Plan => _plan;

    /// <summary>How many passes over the inputs one call makes (for tests and profiling).</summary>
    internal int Passes => _plan.Passes;

    // The vector width the compiled passes and the buffered evaluation use.
    private readonly ISimd _simd;

    /// <summary>The vector width this kernel computes with.</summary>
    internal ISimd Simd => _simd;

    private CpuKernel(KernelPlan plan, ISimd simd, bool? keep, bool? stream, bool? branch = null)
    {
        _plan = plan;
        _simd = simd;
        _stream = stream ?? StreamByDefault();
        _branch = branch ?? Switch(BranchVariable, BranchSetting.Value, byDefault: true);
        _kept = keep ?? KeepByDefault() ? KeptActivation() : -1;
    }

    /// <summary>
    /// The environment variable that turns keeping the activation between passes on (1) or off (0) at every
    /// width, for comparisons; by default it is on.
    /// </summary>
    public const string KeepVariable = "LOSSDSL_KEEP_ACTIVATION";

    private static readonly Lazy<string?> KeepSetting = new(() => Environment.GetEnvironmentVariable(KeepVariable));

    // On at every width: measured on Zen 1 (AVX2) and on Zen 4 (AVX-512 issued as two halves, where it made
    // Dice 8x1x512x512 11-13 % faster, the Dice volume 23-24 % and softmax Dice 4x5x512x512 25 %). In bytes it
    // costs pass 1 one streamed store per element and saves pass 2 the read of the targets or indices.
    private static bool KeepByDefault() => Switch(KeepVariable, KeepSetting.Value, byDefault: true);

    // An on/off setting from the environment: 1, 0, or unset for the default.
    private static bool Switch(string variable, string? value, bool byDefault) =>
        value switch
        {
            "1" => true,
            "0" => false,
            null or "" => byDefault,
            var other => throw new InvalidOperationException($"{variable} must be 0 or 1, not '{other}'"),
        };

    // The softmax a two-pass run computes in pass 1 and keeps for pass 2 (in the gradient's memory, which
    // pass 2 overwrites), or -1. Pass 2 then reads C floats per pixel where it read the logits, and skips
    // C exponentials and a division per pixel: the passes of a multiclass region loss are limited by that
    // arithmetic more than by memory (softmax Dice 4x5x512x512 on a Zen 1 core: about 20 ms -> 15 ms; on Zen 4
    // with AVX-512 4.1-4.7 -> 3.0-3.5 ms).
    // Only a softmax pass 1 needs anyway, and only when pass 2 reads the prediction through it alone. Else
    // a sigmoid's derivative σ(x)·σ(-x) under the same condition (binary Dice, Tversky, focal Tversky): one
    // product more in pass 1, and pass 2 skips an exponential, a division and the read of the logits (Dice
    // 8x1x512x512 on a Zen 1 core: 6.7 -> 5.2 ms, the Dice volume 35 -> 28 ms). Pass 1 marks each pixel's
    // target classes in the kept values' sign bits, so pass 2 reads no target where it can. The values are
    // the same bits either way: pass 2 reads exactly what pass 1 computed.
    private readonly int _kept;

    /// <summary>True when two-pass runs keep the softmax between passes (for tests).</summary>
    internal bool KeepsActivation => _kept >= 0;

    /// <summary>
    /// The environment variable that turns pass 1's streaming store of the kept softmax on (1) or off (0), for
    /// comparisons; by default it is on.
    /// </summary>
    public const string StreamVariable = "LOSSDSL_STREAM_KEPT";

    private static readonly Lazy<string?> StreamSetting = new(() => Environment.GetEnvironmentVariable(StreamVariable));

    private static bool StreamByDefault() => Switch(StreamVariable, StreamSetting.Value, byDefault: true);

    // Whether pass 1 stores the kept softmax past the caches (non-temporal stores) where a run's layout allows.
    // The gradient's block was last touched a step ago, so a store through the caches reads every line of it
    // from memory before writing it; a streaming store does not. Measured on a Zen 1 core as in-process
    // interleaved steps: generalized and softmax Dice 4x5x512x512 4-7 % faster (14.0-15.1 -> 13.3-14.3 and
    // 13.2-13.9 -> 12.6-13.0 ms), generalized Dice 8x5x256x256 5-9 %, and nothing lost down to 1x5x64x64.
    // Streaming the gradient stores of the other passes was measured too and is not done: the binary losses
    // lost 1-3 %, the multiclass ones gained 2-4 %.
    private readonly bool _stream;

    /// <summary>
    /// The environment variable that turns the branch of one-pass binary losses on their targets (a body for
    /// pixel vectors whose targets are all 0, one for all 1, see CpuKernel.Compiled.cs) on (1) or off (0), for
    /// comparisons; by default it is on.
    /// </summary>
    public const string BranchVariable = "LOSSDSL_BRANCH_TARGETS";

    private static readonly Lazy<string?> BranchSetting = new(() => Environment.GetEnvironmentVariable(BranchVariable));

    // Whether a one-pass binary loss's compiled pass branches on its targets.
    private readonly bool _branch;

    /// <summary>
    /// True when pass 1 of a run stores the kept softmax past the caches: streaming stores need every vector's
    /// address aligned to its size, so the spatial size must be a whole number of vectors and the gradient's
    /// block aligned (the pool aligns it to 64 bytes).
    /// </summary>
    internal bool StreamsKept(long spatial, nint gradient) =>
        _kept >= 0 && _stream && spatial % _simd.Lanes == 0 && gradient % (_simd.Lanes * sizeof(float)) == 0;

    private int KeptActivation()
    {
        if (_passes != 2)
            return -1;
        var prediction = Enumerable.Range(0, _nodes.Length).FirstOrDefault(i => _nodes[i].Expr is Input { Kind: InputKind.Prediction }, -1);
        for (var i = 0; i < _nodes.Length; i++)
        {
            if (_nodes[i] is not { Kind: Kind.Pixel, Classes: true, Expr: Unary { Op: UnaryOp.Softmax } })
                continue;
            var second = Needed(_sinks.Where(s => s.Pass == 2), stop: i);
            if (second[i] && (prediction < 0 || !second[prediction]) && Needed(_sinks.Where(s => s.Pass == 1))[i])
                return i;
        }
        // A sigmoid's derivative σ(x)·σ(-x), when pass 2 reads the prediction through it alone: pass 1 computes
        // σ(x) for its sums anyway, and σ(-x) from the same e^-|x| and 1/(1 + e^-|x|) with one product, so
        // keeping the derivative costs pass 1 a product and a store, and saves pass 2 an exponential, a division
        // and the read of the logits.
        if (prediction < 0)
            return -1;
        var first = Needed(_sinks.Where(s => s.Pass == 1));
        for (var i = 0; i < _nodes.Length; i++)
        {
            if (_nodes[i] is not { Kind: Kind.Pixel, Level: 0, Expr: Binary { Op: BinaryOp.Mul } })
                continue;
            var (a, b) = (_nodes[_nodes[i].Args[0]], _nodes[_nodes[i].Args[1]]);
            if (
                a.Expr is not Unary { Op: UnaryOp.Sigmoid }
                || b.Expr is not Unary { Op: UnaryOp.Sigmoid }
                || !first[_nodes[i].Args[0]]
                || _nodes[b.Args[0]].Expr is not Unary { Op: UnaryOp.Neg }
                || _nodes[b.Args[0]].Args[0] != a.Args[0]
            )
                continue;
            var second = Needed(_sinks.Where(s => s.Pass == 2), stop: i);
            if (second[i] && !second[prediction])
                return i;
        }
        return -1;
    }

    /// <summary>The kernel for a compiled spec, or null when the schedule does not cover it.</summary>
    /// <param name="compiled">The compiled spec (hyperparameters as constants).</param>
    /// <param name="masked">Whether the inputs come with a validity mask; without one, masking is the
    /// identity and is compiled away.</param>
    /// <param name="simd">The vector width (tests compare them); by default the hardware's native one.</param>
    /// <param name="keep">Whether two-pass runs keep the activation between passes; by default they do
    /// (<see cref="KeepVariable"/> overrides the default).</param>
    /// <param name="stream">Whether pass 1 stores the kept softmax past the caches where the layout allows; by
    /// default it does (<see cref="StreamVariable"/> overrides the default).</param>
    /// <param name="branch">Whether a one-pass binary loss branches on its targets; by default it does
    /// (<see cref="BranchVariable"/> overrides the default).</param>
    public static CpuKernel? TryCreate(
        CompiledSpec compiled,
        bool masked,
        ISimd? simd = null,
        bool? keep = null,
        bool? stream = null,
        bool? branch = null
    )
    {
        try
        {
            return new CpuKernel(KernelPlan.Build(compiled, masked), simd ?? Kernels.Simd.Native, keep, stream, branch);
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>True when the kernel can run on these inputs with this reduction.</summary>
    public static bool Accepts(LossContext ctx, Reduction reduction) =>
        Reads(ctx.Input, reduction)
        && ctx.Input.is_contiguous()
        && ctx.SpatialRank >= 1
        && (
            ctx.TargetIndex is { } ti
                ? ti.dtype == ScalarType.Int64 && ti.is_contiguous()
                : ctx.Target.dtype == ScalarType.Float32 && ctx.Target.is_contiguous() && ctx.Target.shape.SequenceEqual(ctx.Input.shape)
        )
        && (ctx.Mask is null || (ctx.Mask.dtype == ScalarType.Bool && ctx.Mask.is_contiguous()));

    /// <summary>
    /// What the kernel needs of an input before its context is built: float32 on the CPU, reduced by Mean or Sum
    /// (layout and targets are for <see cref="Accepts"/>).
    /// </summary>
    public static bool Reads(Tensor input, Reduction reduction) =>
        reduction is Reduction.Mean or Reduction.Sum && input.dtype == ScalarType.Float32 && input.device_type == DeviceType.CPU;

    // ---------------------------------------------------------------- running

    private sealed class Run
    {
        public required LossContext Ctx;
        public long N,
            C,
            S,
            L,
            ChunksPerSample;
        public unsafe float* X;
        public unsafe float* T;
        public unsafe long* Index;
        public unsafe byte* Mask;
        public unsafe float* Grad;
        public double[][] Stats = Array.Empty<double[]>();
        public int[] SlotOf = Array.Empty<int>();
        public int Slots;
        public double[] Partials = Array.Empty<double>();
        public bool Check;
        public bool ValueOnly;
        public bool Kept;
        public bool Stream;
        public int LastPass;
        public long Ignore;
        public int[] Flags = Array.Empty<int>();
    }

    /// <summary>
    /// Runs the kernel: the reduced loss value (a 0-dimensional tensor in float32) and, in
    /// <paramref name="gradient"/>, d loss / d input for an upstream gradient of 1, shaped like the
    /// normalised input.
    /// </summary>
    public Tensor Forward(LossContext ctx, Reduction reduction, out Tensor gradient) =>
        Forward(ctx, reduction, check: false, out gradient, out _);

    /// <summary>
    /// Runs the kernel, with the value checks fused into its last pass when <paramref name="check"/>: that
    /// pass reads every prediction and target element anyway, and also flags a non-finite prediction, a
    /// target outside [0, 1], a class index outside [0, C) that is not the ignore index, and (when the
    /// context defers it) a pixel at the ignore index. When <paramref name="found"/> holds
    /// <see cref="CheckFlags.Index"/> the value and gradient are meaningless and the caller must not use them;
    /// with only <see cref="CheckFlags.Input"/> or <see cref="CheckFlags.Target"/> they are what the formula gives
    /// for those values (a NaN propagates), which a caller that does not check values may use.
    /// </summary>
    public Tensor Forward(LossContext ctx, Reduction reduction, bool check, out Tensor gradient, out CheckFlags found)
    {
        var value = Execute(ctx, reduction, check, valueOnly: false, out var written, out found);
        gradient = written!;
        return value;
    }

    /// <summary>
    /// The value alone, for a call that wants no gradient: only the passes the value reads from run (a
    /// region loss skips its gradient pass), and no gradient is written. The checks are fused into the last
    /// of them, as in <see cref="Forward(LossContext, Reduction, bool, out Tensor, out CheckFlags)"/>.
    /// </summary>
    public Tensor Value(LossContext ctx, Reduction reduction, bool check, out CheckFlags found) =>
        Execute(ctx, reduction, check, valueOnly: true, out _, out found);

    // What a pass accumulates and writes (a value-only pass writes no gradient).
    private List<Sink> SinksOf(int pass, bool valueOnly) =>
        _sinks.Where(s => s.Pass == pass && !(valueOnly && s.Kind == SinkKind.Gradient)).ToList();

    private unsafe Tensor Execute(
        LossContext ctx,
        Reduction reduction,
        bool check,
        bool valueOnly,
        out Tensor? gradient,
        out CheckFlags found
    )
    {
        var r = new Run
        {
            Ctx = ctx,
            N = ctx.N,
            C = ctx.C,
            Check = check,
            Ignore = ctx.DeferredIgnore ?? long.MinValue,
        };
        r.S = ctx.Input.numel() / (r.N * r.C);
        // A whole number of vectors per chunk, so only a sample's last chunk can have a tail.
        r.L = Math.Max(256, 4096 / r.C / _simd.Lanes * _simd.Lanes);
        r.ChunksPerSample = (r.S + r.L - 1) / r.L;
        r.X = (float*)Native.THSTensor_data(ctx.Input.Handle);
        if (ctx.TargetIndex is { } ti)
            r.Index = (long*)Native.THSTensor_data(ti.Handle);
        else
            r.T = (float*)Native.THSTensor_data(ctx.Target.Handle);
        if (ctx.Mask is { } m)
            r.Mask = (byte*)Native.THSTensor_data(m.Handle);
        // Every element is written by the last pass; the block is reused once libtorch releases the tensor.
        gradient = valueOnly ? null : GradientPool.Float32(ctx.Shape);
        r.Grad = gradient is null ? null : (float*)Native.THSTensor_data(gradient.Handle);
        r.ValueOnly = valueOnly;
        r.LastPass = valueOnly ? _plan.ValuePasses : _passes;
        // Both passes must be compiled loops: they split each chunk between loop and buffered tail alike.
        r.Kept =
            !valueOnly
            && _kept >= 0
            && CompiledFor(1, r.C, r.Index != null, check, kept: true) is not null
            && CompiledFor(2, r.C, r.Index != null, kept: true) is not null;
        r.Stream = r.Kept && StreamsKept(r.S, (nint)r.Grad);

        // Slots: one per reduction and kept class.
        r.SlotOf = SlotLayout(r.C, out r.Slots);
        r.Stats = new double[_nodes.Length][];
        EvaluateStats(r, level: 0, reduction);
        // Flags per chunk: the checks', and pass 1's note of per-class targets that are not all 0 or 1.
        r.Flags = new int[check || (r.Kept && r.Index == null) ? r.N * r.ChunksPerSample : 0];
        for (var pass = 1; pass <= r.LastPass; pass++)
        {
            RunPass(r, pass);
            EvaluateStats(r, pass, reduction);
        }
        found = CheckFlags.None;
        foreach (var f in r.Flags)
            found |= (CheckFlags)f & ~CheckFlags.NotBinary;
        if (gradient is not null && _deferSeed && reduction == Reduction.Mean && (found & CheckFlags.Index) == 0)
        {
            using var scale = (1 / WeightTotal(r)).ToScalar();
            gradient.mul_(scale);
        }

        double value;
        if (_pixelwise)
        {
            var sum = r.Stats[_valueSum][0];
            value =
                reduction == Reduction.Sum ? sum
                : _weighted ? sum / WeightTotal(r)
                : sum / CountOf(ctx, _axes, valid: true);
        }
        else
        {
            // Region values: Σ value, divided by the number of entries or by Σ weight.
            var (sv, sw) = RegionTotals(r);
            value = reduction == Reduction.Sum ? sv : sv / sw;
        }
        return tensor((float)value);
    }

    private static double CountOf(LossContext ctx, Over axes, bool valid) => ctx.CountTotal(axes, valid);

    private double WeightTotal(Run r)
    {
        var total = r.Stats[_weightSum][0];
        // A weight without a class axis counts once per class of a value that has one.
        if (!_nodes[_weight].Classes && _nodes[_value].Classes)
            total *= r.C;
        return MeanRule.WeightDenominator(total);
    }

    // Computes every statistic of the given level (level 0: constants, counts, class vectors, seeds
    // of unweighted means; later levels: reductions of the pass just run and what depends on them).
    private void EvaluateStats(Run r, int level, Reduction reduction)
    {
        for (var i = 0; i < _nodes.Length; i++)
        {
            var node = _nodes[i];
            if (node.Kind != Kind.Stat || r.Stats[i] is not null)
                continue;
            if (node.Slot >= 0)
            {
                if (node.Level != level)
                    continue;
                r.Stats[i] = CombinePartials(r, i);
                continue;
            }
            if (node.Expr is Seed seed)
            {
                var ready = reduction == Reduction.Sum || SeedInputs(seed).All(a => Known(r, a));
                if (!ready)
                    continue;
                r.Stats[i] = new[] { SeedValue(r, seed.Index, reduction) };
                continue;
            }
            if (node.Args.Any(a => _nodes[a].Kind == Kind.Stat && r.Stats[a] is null))
                continue;
            r.Stats[i] = EvaluateStat(r, node);
        }
    }

    private bool Known(Run r, int id) => _nodes[id].Kind == Kind.Const || r.Stats[id] is not null;

    // Σ value and Σ weight (broadcast to the value's axes) of a region result.
    private (double Value, double Weight) RegionTotals(Run r)
    {
        var v = _nodes[_value];
        double sv = 0,
            sw = 0;
        for (long n = 0; n < (v.Batch ? r.N : 1); n++)
        for (long c = 0; c < (v.Classes ? r.C : 1); c++)
        {
            sv += At(r, _value, n, c);
            sw += _weighted ? At(r, _weight, n, c) : 1;
        }
        return (sv, MeanRule.WeightDenominator(sw));
    }

    private double At(Run r, int id, long n, long c)
    {
        var node = _nodes[id];
        if (node.Kind == Kind.Const)
            return node.Value;
        return r.Stats[id][(node.Batch ? n : 0) * (node.Classes ? r.C : 1) + (node.Classes ? c : 0)];
    }

    private double SeedValue(Run r, int index, Reduction reduction)
    {
        if (reduction == Reduction.Sum)
            return index == 0 ? 1 : 0;
        if (_weighted && !_pixelwise)
        {
            var (sv, sw) = RegionTotals(r);
            return index == 0 ? MeanRule.ValueAdjoint(sw) : MeanRule.WeightAdjoint(sv, sw);
        }
        // Deferred: the first pass writes the gradient with the seed at 1; Forward scales it by 1/Σw after.
        if (_deferSeed && index == 0)
            return 1;
        if (_weighted)
        {
            var sw = WeightTotal(r);
            return index == 0 ? MeanRule.ValueAdjoint(sw) : MeanRule.WeightAdjoint(r.Stats[_valueSum][0], sw);
        }
        return index == 0 ? MeanRule.ValueAdjoint(CountOf(r.Ctx, _axes, valid: _pixelwise)) : 0;
    }

    private double[] CombinePartials(Run r, int id)
    {
        var node = _nodes[id];
        var batch = node.Batch ? r.N : 1;
        var classes = node.Classes ? r.C : 1;
        var result = new double[batch * classes];
        var slot = r.SlotOf[id];
        var chunks = r.N * r.ChunksPerSample;
        for (long k = 0; k < chunks; k++)
        {
            var n = node.Batch ? k / r.ChunksPerSample : 0;
            for (var c = 0; c < classes; c++)
                result[n * classes + c] += r.Partials[k * r.Slots + slot + c];
        }
        return result;
    }

    private double[] EvaluateStat(Run r, Node node)
    {
        var batch = node.Batch ? r.N : 1;
        var classes = node.Classes ? r.C : 1;
        var result = new double[batch * classes];
        switch (node.Expr)
        {
            case Input { Kind: InputKind.ClassIndex }:
                for (var c = 0; c < classes; c++)
                    result[c] = c;
                return result;
            case Input { Kind: InputKind.ClassWeights or InputKind.PositiveWeights } input:
            {
                using var w = (input.Kind == InputKind.ClassWeights ? r.Ctx.ClassWeights : r.Ctx.PosWeights)
                    .to(ScalarType.Float64)
                    .flatten();
                var data = w.data<double>().ToArray();
                for (var c = 0; c < classes; c++)
                    result[c] = data[c];
                return result;
            }
            case Count c:
            {
                using var t = r.Ctx.Count(c.Over, c.Valid).to(ScalarType.Float64).flatten();
                var data = t.data<double>().ToArray();
                for (var n = 0; n < batch; n++)
                    result[n] = data.Length == 1 ? data[0] : data[n];
                return result;
            }
        }
        for (long n = 0; n < batch; n++)
        for (long c = 0; c < classes; c++)
        {
            double Arg(int i)
            {
                var a = _nodes[node.Args[i]];
                if (a.Kind == Kind.Const)
                    return a.Value;
                var ac = a.Classes ? r.C : 1;
                return r.Stats[node.Args[i]][(a.Batch ? n : 0) * ac + (a.Classes ? c : 0)];
            }
            result[n * classes + c] = node.Expr switch
            {
                Unary u => ScalarUnary(u.Op, Arg(0)),
                Binary b => ScalarBinary(b.Op, Arg(0), Arg(1)),
                PlainSum p => SumStat(r, node, p, n, c),
                _ => throw new InvalidOperationException(node.Expr.GetType().Name),
            };
        }
        return result;
    }

    private double SumStat(Run r, Node node, PlainSum p, long n, long c)
    {
        var a = _nodes[node.Args[0]];
        var values = r.Stats[node.Args[0]];
        var ac = a.Classes ? r.C : 1;
        double total = 0;
        for (long an = 0; an < (a.Batch ? r.N : 1); an++)
        for (long cc = 0; cc < ac; cc++)
        {
            if (node.Batch && a.Batch && an != n)
                continue;
            if (node.Classes && a.Classes && cc != c)
                continue;
            total += values[an * ac + cc];
        }
        return total;
    }

    private static double ScalarUnary(UnaryOp op, double x) =>
        Operators.Of(op) is { } function
            ? function.Scalar(x)
            : op switch
            {
                UnaryOp.Neg => -x,
                UnaryOp.Step => x > 0 ? 1 : 0,
                _ => throw new InvalidOperationException(op.ToString()),
            };

    private static double ScalarBinary(BinaryOp op, double a, double b) =>
        (Operators.Of(op) ?? throw new InvalidOperationException(op.ToString())).Scalar(a, b);

    // ---------------------------------------------------------------- one pass over memory

    private sealed class Workspace
    {
        public required int Width;
        public required float[][] Buffers;
        public required float[] Scratch1;
        public required float[] Scratch2;
    }

    private unsafe void RunPass(Run r, int pass)
    {
        var sinks = SinksOf(pass, r.ValueOnly);
        if (sinks.Count == 0)
            return;
        var needed = Needed(sinks);
        var order = Enumerable.Range(0, _nodes.Length).Where(i => needed[i] && _nodes[i].Kind == Kind.Pixel).ToArray();
        var chunks = r.N * r.ChunksPerSample;
        if (r.Partials.Length == 0)
            r.Partials = new double[chunks * Math.Max(1, r.Slots)];
        var width = (int)(r.C * r.L);

        // The compiled loop covers each chunk's whole vectors; the buffered evaluation the rest (and
        // whole passes the loop does not cover).
        // The checks join the last pass, or pass 1 when pass 2 reads the kept activation instead of the inputs.
        var checking = r.Check && pass == (r.Kept ? 1 : r.LastPass);
        var code = CompiledFor(pass, r.C, r.Index != null, checking, r.ValueOnly, r.Kept, r.Stream && pass == 1);
        var tables = code is null ? null : StatTables(r, code);
        // Pass 2 after a kept activation with per-class targets: where all of a chunk's targets are 0 or 1,
        // the form that takes them from pass 1's marks, else the one that reads them.
        var marked = r.Kept && pass == 2 && r.Index == null ? CompiledFor(2, r.C, index: false, kept: true, marks: true) : null;
        var markedTables = marked is null ? null : StatTables(r, marked);

        ThreadTeam.For(
            chunks,
            r.N * r.C * r.S,
            k =>
            {
                var n = k / r.ChunksPerSample;
                var s0 = (k % r.ChunksPerSample) * r.L;
                var len = (int)Math.Min(r.L, r.S - s0);
                var done = 0;
                if (code is not null && (done = len - len % _simd.Lanes) > 0)
                {
                    var pixel = n * r.S + s0;
                    var element = n * r.C * r.S + s0;
                    var (body, table) =
                        marked is not null && (r.Flags[k] & (int)CheckFlags.NotBinary) == 0
                            ? (marked.Body, markedTables![n])
                            : (code.Body, tables![n]);
                    body(
                        (nint)(r.X + element),
                        r.T == null ? 0 : (nint)(r.T + element),
                        r.Index == null ? 0 : (nint)(r.Index + pixel),
                        r.Mask == null ? 0 : (nint)(r.Mask + pixel),
                        (nint)(r.Grad + element),
                        r.S,
                        done,
                        table,
                        r.Partials,
                        k * r.Slots,
                        r.Flags,
                        k,
                        r.Ignore
                    );
                }
                if (done == len)
                    return;
                if (checking)
                    r.Flags[k] |= (int)CheckRest(r, n, s0 + done, len - done);
                var ws = Rent(width, (int)r.L);
                var start = s0 + done;
                var rest = len - done;
                foreach (var id in order)
                    EvaluatePixel(r, ws, id, n, start, rest);
                foreach (var sink in sinks)
                {
                    if (sink.Kind == SinkKind.Reduce)
                        Accumulate(r, ws, sink.Node, k, rest);
                    else
                        WriteGradient(r, ws, sink.Node, n, start, rest);
                }
                _pool.Add(ws);
            }
        );
    }

    // Per sample, the statistics a compiled pass reads, in its table's order.
    private float[][] StatTables(Run r, PassCode code)
    {
        var tables = new float[r.N][];
        for (long n = 0; n < r.N; n++)
        {
            var table = new float[code.Stats.Length];
            for (var j = 0; j < table.Length; j++)
            {
                var (id, c) = code.Stats[j];
                var node = _nodes[id];
                table[j] = (float)r.Stats[id][(node.Batch ? n : 0) * (node.Classes ? r.C : 1) + (node.Classes ? c : 0)];
            }
            tables[n] = table;
        }
        return tables;
    }

    // Workspaces are reused across passes and calls (their contents never carry over: every buffer a
    // pass reads is written first in the same chunk), so a training loop allocates no managed memory here.
    private readonly System.Collections.Concurrent.ConcurrentBag<Workspace> _pool = new();

    private Workspace Rent(int width, int length)
    {
        while (_pool.TryTake(out var ws))
            if (ws.Buffers.Length == _nodes.Length && ws.Width == width && ws.Scratch1.Length == length)
                return ws;
        return new Workspace
        {
            Width = width,
            Buffers = Enumerable
                .Range(0, _nodes.Length)
                .Select(i => _nodes[i].Kind == Kind.Pixel ? new float[width] : Array.Empty<float>())
                .ToArray(),
            Scratch1 = new float[length],
            Scratch2 = new float[length],
        };
    }

    // The nodes the given sinks are computed from, through per-pixel nodes (a statistic is marked, not looked
    // through), and not through the stop node.
    private bool[] Needed(IEnumerable<Sink> sinks, int stop = -1)
    {
        var needed = new bool[_nodes.Length];
        foreach (var s in sinks)
            Mark(s.Kind == SinkKind.Reduce ? _nodes[s.Node].Args[0] : s.Node, needed, stop);
        return needed;
    }

    private void Mark(int id, bool[] needed, int stop)
    {
        if (needed[id])
            return;
        needed[id] = true;
        var node = _nodes[id];
        if (node.Kind != Kind.Pixel || id == stop)
            return;
        foreach (var a in node.Args)
            Mark(a, needed, stop);
    }

    private unsafe void Accumulate(Run r, Workspace ws, int id, long k, int len)
    {
        var node = _nodes[id];
        var arg = _nodes[node.Args[0]];
        var buffer = ws.Buffers[node.Args[0]];
        var slot = r.SlotOf[id];
        var classes = arg.Classes ? r.C : 1;
        for (var c = 0; c < classes; c++)
        {
            var s = (double)TensorPrimitives.Sum(new ReadOnlySpan<float>(buffer, (int)(c * r.L), len));
            r.Partials[k * r.Slots + slot + (node.Classes ? c : 0)] += s;
        }
    }

    private unsafe void WriteGradient(Run r, Workspace ws, int id, long n, long s0, int len)
    {
        var node = _nodes[id];
        for (long c = 0; c < r.C; c++)
        {
            var dst = new Span<float>(r.Grad + (n * r.C + c) * r.S + s0, len);
            new ReadOnlySpan<float>(ws.Buffers[id], (int)((node.Classes ? c : 0) * r.L), len).CopyTo(dst);
        }
    }

    // An operand of an element-wise op for class c: a span of a pixel buffer, or a scalar.
    private readonly ref struct Operand
    {
        public readonly ReadOnlySpan<float> Span;
        public readonly float Scalar;
        public readonly bool IsScalar;

        public Operand(ReadOnlySpan<float> span)
        {
            Span = span;
            Scalar = 0;
            IsScalar = false;
        }

        public Operand(float scalar)
        {
            Span = default;
            Scalar = scalar;
            IsScalar = true;
        }
    }

    private Operand Get(Run r, Workspace ws, int id, long n, long c, int len)
    {
        var node = _nodes[id];
        return node.Kind switch
        {
            Kind.Const => new Operand((float)node.Value),
            Kind.Stat => new Operand((float)r.Stats[id][(node.Batch ? n : 0) * (node.Classes ? r.C : 1) + (node.Classes ? c : 0)]),
            _ => new Operand(new ReadOnlySpan<float>(ws.Buffers[id], (int)((node.Classes ? c : 0) * r.L), len)),
        };
    }

    private unsafe void EvaluatePixel(Run r, Workspace ws, int id, long n, long s0, int len)
    {
        var node = _nodes[id];
        var buffer = ws.Buffers[id];
        var classes = node.Classes ? r.C : 1;
        Span<float> Dst(long c) => new(buffer, (int)(c * r.L), len);

        switch (node.Expr)
        {
            case Input { Kind: InputKind.Prediction }:
                for (long c = 0; c < classes; c++)
                    new ReadOnlySpan<float>(r.X + (n * r.C + c) * r.S + s0, len).CopyTo(Dst(c));
                return;
            case Input { Kind: InputKind.Target }:
                for (long c = 0; c < classes; c++)
                {
                    var dst = Dst(c);
                    if (r.Index != null)
                    {
                        var idx = r.Index + n * r.S + s0;
                        for (var i = 0; i < len; i++)
                            dst[i] = idx[i] == c ? 1f : 0f;
                    }
                    else
                    {
                        new ReadOnlySpan<float>(r.T + (n * r.C + c) * r.S + s0, len).CopyTo(dst);
                    }
                }
                return;
            case Unary { Op: UnaryOp.Softmax or UnaryOp.LogSoftmax } u:
                SoftmaxBlock(r, ws, node.Args[0], buffer, len, u.Op == UnaryOp.LogSoftmax);
                return;
            case PlainSum:
            {
                var dst = Dst(0);
                var arg = _nodes[node.Args[0]];
                new ReadOnlySpan<float>(ws.Buffers[node.Args[0]], 0, len).CopyTo(dst);
                if (arg.Classes)
                    for (long c = 1; c < r.C; c++)
                        TensorPrimitives.Add(dst, new ReadOnlySpan<float>(ws.Buffers[node.Args[0]], (int)(c * r.L), len), dst);
                return;
            }
            case SelectTarget when _nodes[node.Args[0]].Kind == Kind.Stat:
            {
                // A class vector (e.g. class weights) at each pixel's target class.
                var dst = Dst(0);
                var arg = _nodes[node.Args[0]];
                var values = r.Stats[node.Args[0]];
                var row = (arg.Batch ? n : 0) * r.C;
                if (r.Index != null)
                {
                    var idx = r.Index + n * r.S + s0;
                    // An index outside [0, C) (flagged by the checks, whose results are then discarded) reads 0.
                    for (var i = 0; i < len; i++)
                        dst[i] = (ulong)idx[i] < (ulong)r.C ? (float)values[row + idx[i]] : 0f;
                }
                else
                {
                    dst.Clear();
                    for (long c = 0; c < r.C; c++)
                        TensorPrimitives.MultiplyAdd(
                            new ReadOnlySpan<float>(r.T + (n * r.C + c) * r.S + s0, len),
                            (float)values[row + c],
                            dst,
                            dst
                        );
                }
                return;
            }
            case SelectTarget:
            {
                var dst = Dst(0);
                var x = ws.Buffers[node.Args[0]];
                if (r.Index != null)
                {
                    var idx = r.Index + n * r.S + s0;
                    for (var i = 0; i < len; i++)
                        dst[i] = (ulong)idx[i] < (ulong)r.C ? x[idx[i] * r.L + i] : 0f;
                }
                else
                {
                    dst.Clear();
                    for (long c = 0; c < r.C; c++)
                        TensorPrimitives.MultiplyAdd(
                            new ReadOnlySpan<float>(x, (int)(c * r.L), len),
                            new ReadOnlySpan<float>(r.T + (n * r.C + c) * r.S + s0, len),
                            dst,
                            dst
                        );
                }
                return;
            }
            case Masked:
                for (long c = 0; c < classes; c++)
                {
                    var a = Get(r, ws, node.Args[0], n, c, len);
                    var dst = Dst(c);
                    if (r.Mask == null)
                    {
                        if (a.IsScalar)
                            dst.Fill(a.Scalar);
                        else
                            a.Span.CopyTo(dst);
                        continue;
                    }
                    var m = new ReadOnlySpan<byte>(r.Mask + n * r.S + s0, len);
                    if (a.IsScalar)
                        for (var i = 0; i < len; i++)
                            dst[i] = m[i] != 0 ? a.Scalar : 0f;
                    else
                        Vectorised.Select(m, a.Span, dst);
                }
                return;
            case Unary u:
                for (long c = 0; c < classes; c++)
                    ApplyUnary(u.Op, Get(r, ws, node.Args[0], n, c, len).Span, Dst(c), ws);
                return;
            case Binary b:
                for (long c = 0; c < classes; c++)
                    ApplyBinary(b.Op, Get(r, ws, node.Args[0], n, c, len), Get(r, ws, node.Args[1], n, c, len), Dst(c));
                return;
            default:
                throw new InvalidOperationException(node.Expr.GetType().Name);
        }
    }

    private void SoftmaxBlock(Run r, Workspace ws, int argId, float[] buffer, int len, bool log)
    {
        var x = ws.Buffers[argId];
        ReadOnlySpan<float> X(long c) => new(x, (int)(c * r.L), len);
        Span<float> D(long c) => new(buffer, (int)(c * r.L), len);
        var max = ws.Scratch1.AsSpan(0, len);
        var sum = ws.Scratch2.AsSpan(0, len);
        X(0).CopyTo(max);
        for (long c = 1; c < r.C; c++)
            TensorPrimitives.Max(max, X(c), max);
        sum.Clear();
        for (long c = 0; c < r.C; c++)
        {
            TensorPrimitives.Subtract(X(c), max, D(c));
            TensorPrimitives.Exp(D(c), D(c));
            TensorPrimitives.Add(sum, D(c), sum);
        }
        if (log)
        {
            // (x - max) - log Σ, exact for any finite logits (see the compiled pass).
            TensorPrimitives.Log(sum, sum);
            for (long c = 0; c < r.C; c++)
            {
                TensorPrimitives.Subtract(X(c), max, D(c));
                TensorPrimitives.Subtract(D(c), sum, D(c));
            }
        }
        else
        {
            for (long c = 0; c < r.C; c++)
                TensorPrimitives.Divide(D(c), sum, D(c));
        }
    }

    private void ApplyUnary(UnaryOp op, ReadOnlySpan<float> x, Span<float> dst, Workspace ws)
    {
        if (Operators.Of(op) is { } function)
        {
            // The compiled pass's own formula (the operator table's Simd function), tail lanes included.
            _simd.Apply(function.Kernel, x, dst);
            return;
        }
        switch (op)
        {
            case UnaryOp.Neg:
                TensorPrimitives.Negate(x, dst);
                break;
            case UnaryOp.Step:
                for (var i = 0; i < x.Length; i++)
                    dst[i] = x[i] > 0 ? 1f : 0f;
                break;
            default:
                throw new InvalidOperationException(op.ToString());
        }
    }

    // An arithmetic operation on buffers, with the operator table's Simd function (the compiled pass's
    // formula), so the pixels of a run's tail get the same arithmetic as the rest.
    private void ApplyBinary(BinaryOp op, Operand a, Operand b, Span<float> dst)
    {
        if (a.IsScalar && b.IsScalar)
            throw new InvalidOperationException($"{op} of two scalars in a per-pixel node");
        // x^1 and x^2 as the compiled pass writes them.
        if (op == BinaryOp.Pow && b.IsScalar && b.Scalar == 1f)
        {
            a.Span.CopyTo(dst);
            return;
        }
        if (op == BinaryOp.Pow && b.IsScalar && b.Scalar == 2f)
        {
            TensorPrimitives.Multiply(a.Span, a.Span, dst);
            return;
        }
        var function = Operators.Of(op) ?? throw new InvalidOperationException(op.ToString());
        _simd.Apply(function.Kernel, a.Span, a.Scalar, a.IsScalar, b.Span, b.Scalar, b.IsScalar, dst);
    }

    // Fused element-wise primitives that TensorPrimitives composes from several passes.
    // The value checks of the pixels the compiled loop did not cover (a run's tail, or a whole chunk of
    // a buffered pass), element by element, with the compiled checks' rules.
    private static unsafe CheckFlags CheckRest(Run r, long n, long start, int count)
    {
        var found = CheckFlags.None;
        for (long c = 0; c < r.C; c++)
        {
            var x = r.X + (n * r.C + c) * r.S + start;
            for (var i = 0; i < count; i++)
                if (!float.IsFinite(x[i]))
                    found |= CheckFlags.Input;
            if (r.T != null)
            {
                var t = r.T + (n * r.C + c) * r.S + start;
                for (var i = 0; i < count; i++)
                    if (!(t[i] >= 0 && t[i] <= 1))
                        found |= CheckFlags.Target;
            }
        }
        if (r.Index != null)
        {
            var idx = r.Index + n * r.S + start;
            for (var i = 0; i < count; i++)
                if (idx[i] == r.Ignore || (ulong)idx[i] >= (ulong)r.C)
                    found |= CheckFlags.Index;
        }
        return found;
    }

    private static class Vectorised
    {
        // dst = mask != 0 ? x : 0 (a select, so a NaN or infinity at an invalid pixel never leaks).
        public static void Select(ReadOnlySpan<byte> mask, ReadOnlySpan<float> x, Span<float> dst)
        {
            for (var i = 0; i < x.Length; i++)
                dst[i] = mask[i] != 0 ? x[i] : 0f;
        }
    }

    internal static class Native
    {
        [DllImport("LibTorchSharp")]
        public static extern IntPtr THSTensor_data(IntPtr handle);
    }
}
