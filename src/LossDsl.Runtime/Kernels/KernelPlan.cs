using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;

namespace LossDsl.Kernels;

/// <summary>Where a node of a kernel plan lives.</summary>
internal enum NodeKind
{
    /// <summary>A constant.</summary>
    Const,

    /// <summary>A statistic: a scalar or a small array over samples and/or classes, known between passes.</summary>
    Stat,

    /// <summary>A value per pixel (and class), computed inside a pass.</summary>
    Pixel,
}

/// <summary>One node of a kernel plan.</summary>
/// <param name="Expr">The compiled expression it computes.</param>
/// <param name="Kind">Constant, statistic or per-pixel value.</param>
/// <param name="Classes">Whether it has a class axis.</param>
/// <param name="Batch">For statistics: whether it has a batch axis.</param>
/// <param name="Level">The pass after which it is known (statistics), or in which it is computed (pixels).</param>
/// <param name="Args">Its operands (node ids).</param>
/// <param name="Value">For constants: the value.</param>
/// <param name="Slot">For reductions: 0 (their partial-sum slots are laid out per run); -1 otherwise.</param>
internal sealed record PlanNode(
    Expr Expr,
    NodeKind Kind,
    bool Classes,
    bool Batch,
    int Level,
    ImmutableArray<int> Args,
    double Value,
    int Slot
)
{
    /// <summary>True for a reduction over pixels, whose value the pass of its level accumulates.</summary>
    public bool IsReduction => Slot >= 0;
}

/// <summary>What a pass writes: a reduction's partial sums, or the gradient.</summary>
internal enum SinkKind
{
    /// <summary>A reduction's partial sums.</summary>
    Reduce,

    /// <summary>The gradient.</summary>
    Gradient,
}

/// <summary>One output of a pass.</summary>
/// <param name="Kind">Reduction or gradient.</param>
/// <param name="Node">The node it writes.</param>
/// <param name="Pass">The pass (1-based) that writes it.</param>
internal sealed record PlanSink(SinkKind Kind, int Node, int Pass);

/// <summary>
/// The schedule of a fused kernel as a value: the compiled spec and its gradient as a node graph (each
/// node a constant, a statistic known between passes, or a per-pixel value), the passes over memory the
/// reductions need (one for pixel-wise losses, two for region losses), what each pass accumulates or
/// writes, and the seeds (the adjoints of the value) the gradient reads. Built once per spec,
/// hyperparameters and masking from a <see cref="CompiledSpec"/>; immutable, so one plan serves every
/// thread and every executor (the CPU kernel's compiled and buffered passes; a device printer next).
/// </summary>
internal sealed class KernelPlan
{
    private KernelPlan(Builder b)
    {
        Nodes = b
            .Nodes.Select(d => new PlanNode(d.Expr, d.Kind, d.Classes, d.Batch, d.Level, d.Args.ToImmutableArray(), d.Value, d.Slot))
            .ToImmutableArray();
        Sinks = b.Sinks.ToImmutableArray();
        Passes = b.Passes;
        ValuePasses = b.ValuePasses;
        Gradient = b.Gradient;
        Value = b.Value;
        Weight = b.Weight;
        ValueSum = b.ValueSum;
        WeightSum = b.WeightSum;
        SeedValue = b.SeedValue;
        SeedWeight = b.SeedWeight;
        DeferSeed = b.DeferSeed;
        Pixelwise = b.Pixelwise;
        Weighted = b.Weighted;
        Axes = b.Axes;
        IsMasked = b.IsMasked;
    }

    /// <summary>The nodes, operands before users.</summary>
    public ImmutableArray<PlanNode> Nodes { get; }

    /// <summary>What each pass accumulates (reductions) or writes (the gradient, in the last pass).</summary>
    public ImmutableArray<PlanSink> Sinks { get; }

    /// <summary>How many passes over the inputs one call makes.</summary>
    public int Passes { get; }

    /// <summary>
    /// How many passes the value alone needs: a call that wants no gradient (an input that does not require
    /// one, or <c>no_grad</c>) runs these and writes no gradient (a region loss skips its gradient pass).
    /// </summary>
    public int ValuePasses { get; }

    /// <summary>The gradient node (per pixel).</summary>
    public int Gradient { get; }

    /// <summary>The value node.</summary>
    public int Value { get; }

    /// <summary>The weight node of a weighted mean, or -1.</summary>
    public int Weight { get; }

    /// <summary>Pixel-wise values: the node of Σ value over valid pixels, or -1.</summary>
    public int ValueSum { get; }

    /// <summary>Pixel-wise weighted means: the node of Σ weight over valid pixels, or -1.</summary>
    public int WeightSum { get; }

    /// <summary>The node of the value's adjoint seed, or -1 when the gradient does not read it.</summary>
    public int SeedValue { get; }

    /// <summary>The node of the weight's adjoint seed, or -1.</summary>
    public int SeedWeight { get; }

    /// <summary>
    /// A per-pixel weighted mean whose weight does not depend on the prediction: the gradient is written in
    /// the first pass with the value's seed at 1, then scaled by 1/Σw.
    /// </summary>
    public bool DeferSeed { get; }

    /// <summary>True when the value is per pixel (reduced by the module), false for region values.</summary>
    public bool Pixelwise { get; }

    /// <summary>True for a <c>WeightedMean</c> result.</summary>
    public bool Weighted { get; }

    /// <summary>The value's axes.</summary>
    public Over Axes { get; }

    /// <summary>Whether the plan reads a validity mask (without one masking is compiled away).</summary>
    public bool IsMasked { get; }

    /// <summary>The plan for a compiled spec; <see cref="NotSupportedException"/> when the schedule does not cover it.</summary>
    public static KernelPlan Build(CompiledSpec spec, bool masked) => new(new Builder(spec, masked));

    /// <summary>The totals a seed is computed from: 1/Σw needs Σw only; -Σv/(Σw)² and region seeds need both.</summary>
    public IEnumerable<int> SeedInputs(Seed seed) => SeedInputs(seed, Weighted, DeferSeed, Pixelwise, Value, Weight, ValueSum, WeightSum);

    private static int[] SeedInputs(
        Seed seed,
        bool weighted,
        bool deferSeed,
        bool pixelwise,
        int value,
        int weight,
        int valueSum,
        int weightSum
    )
    {
        if (!weighted || (deferSeed && seed.Index == 0))
            return Array.Empty<int>();
        if (!pixelwise)
            return new[] { value, weight };
        return seed.Index == 0 ? new[] { weightSum } : new[] { valueSum, weightSum };
    }

    /// <summary>
    /// The partial-sum slots of the reductions for a class count: each reduction's first slot (by node id)
    /// and, in <paramref name="slots"/>, how many there are (one per reduction, C for one that keeps classes).
    /// </summary>
    public int[] SlotLayout(long classes, out int slots)
    {
        var slotOf = new int[Nodes.Length];
        slots = 0;
        for (var i = 0; i < Nodes.Length; i++)
        {
            if (!Nodes[i].IsReduction)
                continue;
            slotOf[i] = slots;
            slots += Nodes[i].Classes ? (int)classes : 1;
        }
        return slotOf;
    }

    // A node while the plan is built (levels move when reductions are merged into a later pass).
    private sealed class Draft
    {
        public required Expr Expr;
        public NodeKind Kind;
        public bool Classes;
        public bool Batch;
        public int Level;
        public int[] Args = Array.Empty<int>();
        public double Value;
        public int Slot = -1;
    }

    private sealed class Builder
    {
        public readonly List<Draft> Nodes = new();
        private readonly Dictionary<Expr, int> _ids = new();
        public readonly List<PlanSink> Sinks = new();
        public readonly int Passes;
        public readonly int ValuePasses;
        public readonly int Gradient;
        public readonly int ValueSum = -1,
            WeightSum = -1,
            Value = -1,
            Weight = -1;
        public readonly int SeedValue = -1,
            SeedWeight = -1;
        public readonly bool DeferSeed;
        public readonly bool Pixelwise,
            Weighted;
        public readonly Over Axes;
        public readonly bool IsMasked;

        public Builder(CompiledSpec spec, bool masked)
        {
            var compiled = spec.Body;
            IsMasked = masked;
            var (value, weight) = compiled is WeightedMean wm ? (wm.Value, wm.Weight) : (compiled, (Expr?)null);
            Axes = LossDsl.Axes.Of(value);
            Pixelwise = LossDsl.Axes.IsPixelwise(Axes);
            Weighted = weight is not null;
            var gradient = spec.Gradient ?? throw new NotSupportedException(spec.Unsupported);

            // Seeds: scalars set by the kernel (1/count, or the weighted-mean adjoints), masked for
            // per-pixel values exactly as the TorchSharp path masks them.
            var seed0 = new Seed(0, Over.None);
            var seed1 = new Seed(1, Over.None);
            // The seed is uniform over the value's axes, so a sum of it over some of them (the adjoint of a
            // term broadcast from fewer axes) is the seed times the number of (valid) entries summed.
            gradient = Structure.MapBottomUp(
                gradient,
                e =>
                    e switch
                    {
                        PlainSum { Arg: Seed s } ps when (ps.Over & s.Axes) != Over.None => new Binary(
                            BinaryOp.Mul,
                            s,
                            new Count(ps.Over & s.Axes, Valid: false)
                        ),
                        PlainSum { Arg: Masked { Arg: Seed s } } ps when (ps.Over & s.Axes & (Over.Batch | Over.Spatial)) != Over.None =>
                            new Binary(BinaryOp.Mul, s, new Count(ps.Over & s.Axes, Valid: true)),
                        PlainSum { Arg: Masked { Arg: Seed s } } ps when (ps.Over & s.Axes) != Over.None => new Binary(
                            BinaryOp.Mul,
                            new Masked(s),
                            new Count(ps.Over & s.Axes, Valid: false)
                        ),
                        _ => e,
                    }
            );
            gradient = Structure.MapBottomUp(
                gradient,
                e =>
                    e is Seed s
                        ? (
                            Pixelwise ? new Masked(s.Index == 0 ? seed0 : seed1)
                            : s.Index == 0 ? seed0
                            : seed1
                        )
                        : e
            );

            // A per-pixel weighted mean whose weight does not depend on the prediction (class-weighted
            // cross-entropy): the gradient is 1/Σw times terms the first pass can already compute, so it is
            // written in that pass with the seed at 1 and scaled once Σw is known, instead of reading the
            // logits again in a second pass.
            DeferSeed =
                Pixelwise
                && weight is not null
                && !Structure.Any(weight, x => x is Input { Kind: InputKind.Prediction })
                && !Structure.Any(gradient, x => x is Seed { Index: 1 });
            Value = Add(value);
            if (weight is not null)
                Weight = Add(weight);
            if (Pixelwise)
            {
                ValueSum = Add(new PlainSum(new Masked(value), Over.All));
                if (weight is not null)
                    WeightSum = Add(new PlainSum(new Masked(weight), Over.All));
            }
            if (_ids.TryGetValue(seed0, out var s0))
                SeedValue = s0;
            // The chain-rule terms with their shared factors taken out, where that leaves fewer operations.
            var factored = Factoring.Factor(gradient);
            if (Factoring.Operations(value, factored) < Factoring.Operations(value, gradient))
                gradient = factored;
            Gradient = Add(gradient);
            if (_ids.TryGetValue(seed0, out s0))
                SeedValue = s0;
            if (_ids.TryGetValue(seed1, out var s1))
                SeedWeight = s1;
            if (Nodes[Gradient].Kind != NodeKind.Pixel)
                throw new NotSupportedException("a gradient that is not per pixel");

            Sinks.Add(new PlanSink(SinkKind.Gradient, Gradient, Nodes[Gradient].Level + 1));
            Passes = Sinks.Max(s => s.Pass);

            // Reductions the gradient does not read (the value's own total, for one) run in the last
            // pass, sharing its per-pixel work, instead of making an earlier pass compute it too.
            var read = new bool[Nodes.Count];
            MarkRead(Gradient, read);
            for (var i = 0; i < Sinks.Count; i++)
                if (Sinks[i].Kind == SinkKind.Reduce && !read[Sinks[i].Node] && Sinks[i].Pass < Passes)
                {
                    Sinks[i] = Sinks[i] with { Pass = Passes };
                    Nodes[Sinks[i].Node].Level = Passes;
                }

            // The passes the value reads from: the last one that accumulates a reduction it is computed from.
            var forValue = new bool[Nodes.Count];
            foreach (var root in new[] { Value, Weight, ValueSum, WeightSum })
                if (root >= 0)
                    MarkRead(root, forValue);
            ValuePasses = Sinks.Where(s => s.Kind == SinkKind.Reduce && forValue[s.Node]).Select(s => s.Pass).DefaultIfEmpty(1).Max();
        }

        private int[] SeedInputs(Seed seed) =>
            KernelPlan.SeedInputs(seed, Weighted, DeferSeed, Pixelwise, Value, Weight, ValueSum, WeightSum);

        // Marks every node the given one is computed from, through statistics and seeds.
        private void MarkRead(int id, bool[] read)
        {
            if (read[id])
                return;
            read[id] = true;
            foreach (var a in Nodes[id].Args)
                MarkRead(a, read);
            if (Nodes[id].Expr is Seed seed)
                foreach (var a in SeedInputs(seed))
                    MarkRead(a, read);
        }

        // Sums and products by operator and operand nodes, either order: a·b and b·a are one node (IEEE addition
        // and multiplication commute exactly).
        private readonly Dictionary<(BinaryOp Op, int A, int B), int> _commuted = new();

        private int Add(Expr e)
        {
            if (_ids.TryGetValue(e, out var known))
                return known;
            if (e is Masked unmasked && !IsMasked)
            {
                var same = Add(unmasked.Arg);
                _ids[e] = same;
                return same;
            }
            var args = Structure.Children(e).Select(Add).ToArray();
            if (e is Binary { Op: BinaryOp.Add or BinaryOp.Mul } commutes)
            {
                if (_commuted.TryGetValue((commutes.Op, args[1], args[0]), out var swapped))
                {
                    _ids[e] = swapped;
                    return swapped;
                }
                _commuted[(commutes.Op, args[0], args[1])] = Nodes.Count;
            }
            var node = new Draft { Expr = e, Args = args };
            Draft A(int i) => Nodes[args[i]];
            int MaxLevel() => args.Length == 0 ? 0 : args.Max(a => Nodes[a].Level);

            switch (e)
            {
                case Const c:
                    node.Kind = NodeKind.Const;
                    node.Value = c.Value;
                    break;
                case Input { Kind: InputKind.Prediction or InputKind.Target }:
                    node.Kind = NodeKind.Pixel;
                    node.Classes = true;
                    break;
                case Input { Kind: InputKind.ClassWeights or InputKind.PositiveWeights or InputKind.ClassIndex }:
                    node.Kind = NodeKind.Stat;
                    node.Classes = true;
                    break;
                case Count c when (LossDsl.Axes.Of(c) & Over.Spatial) == 0:
                    node.Kind = NodeKind.Stat;
                    node.Batch = (LossDsl.Axes.Of(c) & Over.Batch) != 0;
                    break;
                case Seed seed:
                    // Weighted-mean adjoints need the totals they are computed from first.
                    node.Kind = NodeKind.Stat;
                    node.Level = SeedInputs(seed).Select(a => Nodes[a].Level).DefaultIfEmpty(0).Max();
                    break;
                case Unary { Op: UnaryOp.Softmax or UnaryOp.LogSoftmax } when A(0).Kind == NodeKind.Pixel:
                    node.Kind = NodeKind.Pixel;
                    node.Classes = true;
                    break;
                case Unary { Op: UnaryOp.Softmax or UnaryOp.LogSoftmax }:
                    throw new NotSupportedException("softmax of a reduced value");
                case Unary or Binary:
                    Combine(node, args.Select(a => Nodes[a]).ToArray());
                    break;
                case PlainSum p when A(0).Kind == NodeKind.Pixel && (p.Over & Over.Spatial) != 0:
                    node.Kind = NodeKind.Stat;
                    node.Batch = (p.Over & Over.Batch) == 0;
                    node.Classes = A(0).Classes && (p.Over & Over.Classes) == 0;
                    node.Level = A(0).Level + 1;
                    node.Slot = 0; // a reduction: its partial-sum slots are laid out per run (C of them if it keeps classes)
                    Sinks.Add(new PlanSink(SinkKind.Reduce, Nodes.Count, node.Level));
                    break;
                case PlainSum { Over: Over.Classes } when A(0).Kind == NodeKind.Pixel:
                    node.Kind = NodeKind.Pixel;
                    node.Level = A(0).Level;
                    break;
                case PlainSum p when A(0).Kind == NodeKind.Stat:
                    node.Kind = NodeKind.Stat;
                    node.Batch = A(0).Batch && (p.Over & Over.Batch) == 0;
                    node.Classes = A(0).Classes && (p.Over & Over.Classes) == 0;
                    node.Level = A(0).Level;
                    break;
                case Masked when A(0).Kind != NodeKind.Const:
                    node.Kind = NodeKind.Pixel;
                    node.Classes = A(0).Classes;
                    node.Level = A(0).Level;
                    break;
                case SelectTarget when A(0).Kind == NodeKind.Pixel || (A(0).Kind == NodeKind.Stat && A(0).Classes):
                    node.Kind = NodeKind.Pixel;
                    node.Level = A(0).Level;
                    break;
                default:
                    throw new NotSupportedException(e.GetType().Name);
            }
            if (node.Kind == NodeKind.Pixel && node.Level < MaxLevel())
                node.Level = MaxLevel();
            _ids[e] = Nodes.Count;
            Nodes.Add(node);
            return Nodes.Count - 1;
        }

        private static void Combine(Draft node, Draft[] args)
        {
            if (args.Any(a => a.Kind == NodeKind.Pixel))
            {
                node.Kind = NodeKind.Pixel;
                node.Classes = args.Any(a => a.Classes);
            }
            else
            {
                node.Kind = NodeKind.Stat;
                node.Classes = args.Any(a => a.Classes);
                node.Batch = args.Any(a => a.Batch);
            }
            node.Level = args.Length == 0 ? 0 : args.Max(a => a.Level);
        }
    }
}
