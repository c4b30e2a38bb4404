using System;
using System.Collections.Generic;
using System.Linq;
using System.Linq.Expressions;
using System.Reflection;
using static System.Linq.Expressions.Expression;
using Kind = LossDsl.Kernels.NodeKind;
using LinqExpr = System.Linq.Expressions.Expression;
using Node = LossDsl.Kernels.PlanNode;
using Sink = LossDsl.Kernels.PlanSink;

namespace LossDsl.Kernels;

/// <summary>
/// One pass of a kernel over a run of pixels of one sample, compiled to a single loop: per vector of pixels
/// (the kernel's <see cref="ISimd"/> width) it loads the inputs, evaluates every per-pixel node the pass
/// needs (all classes unrolled) in registers, adds the pass's reductions into vector accumulators and
/// stores the gradient. No intermediate buffer, one read of each input and one write of the gradient.
/// </summary>
/// <param name="x">Prediction of class 0 at the run's first pixel (float*).</param>
/// <param name="t">Per-class target of class 0 at that pixel (float*), or 0 with class indices.</param>
/// <param name="index">Class indices at that pixel (long*), or 0 with a per-class target.</param>
/// <param name="mask">Validity mask at that pixel (bool*), or 0 without a mask.</param>
/// <param name="grad">Gradient of class 0 at that pixel (float*).</param>
/// <param name="stride">Elements between classes (the spatial size).</param>
/// <param name="count">Pixels in the run (a multiple of the vector width).</param>
/// <param name="stats">This sample's statistics the pass reads, in the pass's own order.</param>
/// <param name="partials">Partial sums; the pass adds to its slots from <paramref name="slotBase"/>.</param>
/// <param name="slotBase">The chunk's first partial-sum slot.</param>
/// <param name="flags">Per-chunk value-check flags (<see cref="CheckFlags"/>), written by a checking pass.</param>
/// <param name="chunk">The chunk's entry in <paramref name="flags"/>.</param>
/// <param name="ignore">The class index a checking pass flags as ignored (long.MinValue: none).</param>
internal delegate void CompiledPass(
    nint x,
    nint t,
    nint index,
    nint mask,
    nint grad,
    long stride,
    long count,
    float[] stats,
    double[] partials,
    long slotBase,
    int[] flags,
    long chunk,
    long ignore
);

/// <summary>What a checking pass found (bits of a chunk's flags).</summary>
[Flags]
internal enum CheckFlags
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>A NaN or infinite prediction.</summary>
    Input = 1,

    /// <summary>A per-class target outside [0, 1] or NaN.</summary>
    Target = 2,

    /// <summary>A class index outside [0, C), or at the ignore index (an error, or pixels to mask: the caller tells).</summary>
    Index = 4,

    /// <summary>
    /// Not an error: a per-class target of this chunk is not exactly 0 or 1, so pass 2 reads the targets rather
    /// than the marks pass 1 left on the kept activation.
    /// </summary>
    NotBinary = 8,
}

internal sealed partial class CpuKernel
{
    /// <summary>Classes beyond this are not unrolled; such passes use the buffered evaluation.</summary>
    private const int MaxUnrolledClasses = 16;

    /// <summary>A compiled pass and the statistics (node, class) it reads, in its table's order.</summary>
    private sealed record PassCode(CompiledPass Body, (int Node, int Class)[] Stats, IReadOnlyDictionary<string, int> Calls)
    {
        public int CallsOf(params string[] names) => names.Sum(n => Calls.TryGetValue(n, out var k) ? k : 0);
    }

    /// <summary>
    /// How many exponentials a compiled pass evaluates per vector of pixels (for tests), or null when it is not compiled;
    /// a pass that branches on its targets counts those of each of its bodies.
    /// </summary>
    internal int? ExponentialsIn(int pass, long classes, bool index) =>
        CompiledFor(pass, classes, index)?.CallsOf(nameof(Simd512.Exp), nameof(Simd512.ExpOutOfLine), nameof(Simd512.ExpNegAbs));

    /// <summary>
    /// How many calls of the width's function <paramref name="name"/> a compiled pass of a run that keeps the
    /// softmax makes per vector of pixels (for tests), or null when it is not compiled.
    /// </summary>
    internal int? CallsIn(int pass, long classes, bool index, bool check, bool stream, string name, bool marks = false) =>
        CompiledFor(pass, classes, index, check, kept: true, stream: stream, marks: marks)?.CallsOf(name);

    // Counts the calls of each of the width's functions in a compiled pass.
    private sealed class CallCounter : ExpressionVisitor
    {
        public readonly Dictionary<string, int> Calls = new();

        protected override LinqExpr VisitMethodCall(MethodCallExpression node)
        {
            Calls[node.Method.Name] = Calls.GetValueOrDefault(node.Method.Name) + 1;
            return base.VisitMethodCall(node);
        }
    }

    private readonly Dictionary<
        (int Pass, long C, bool Index, bool Check, bool ValueOnly, bool Kept, bool Stream, bool Marks),
        PassCode?
    > _compiled = new();

    // The compiled form of a pass for C classes and this target layout (with the value checks fused in,
    // or not; storing the gradient, or for the value only; with the kept activation written by pass 1 and
    // read by pass 2, or not, and pass 1 storing it past the caches, or not, and pass 2 taking per-class
    // targets from the marks on it, or reading them); null where the loop does not cover it (too many
    // classes, a construct without a vector form), and the buffered path runs.
    private PassCode? CompiledFor(
        int pass,
        long classes,
        bool index,
        bool check = false,
        bool valueOnly = false,
        bool kept = false,
        bool stream = false,
        bool marks = false
    )
    {
        var key = (pass, classes, index, check, valueOnly, kept, stream, marks);
        lock (_compiled)
        {
            if (!_compiled.TryGetValue(key, out var code))
            {
                try
                {
                    code =
                        classes <= MaxUnrolledClasses
                            ? new PassCompiler(this, pass, (int)classes, index, check, valueOnly, kept, stream, marks).Compile()
                            : null;
                }
                catch (NotSupportedException)
                {
                    code = null;
                }
                _compiled[key] = code;
            }
            return code;
        }
    }

    /// <summary>True when the pass runs as one compiled loop for C classes and this target layout.</summary>
    internal bool IsCompiled(int pass, long classes, bool index, bool check = false, bool valueOnly = false, bool kept = false) =>
        CompiledFor(pass, classes, index, check, valueOnly, kept) is not null;

    // The partial-sum slot of every reduction node for C classes (the layout Forward uses).
    private int[] SlotLayout(long classes, out int slots) => _plan.SlotLayout(classes, out slots);

    private sealed class PassCompiler
    {
        // The vector type and the Simd class of the kernel's width (every width names its functions alike).
        private readonly Type _vector;
        private readonly Type _functions;

        private readonly CpuKernel _k;
        private readonly int _pass,
            _c;
        private readonly bool _index;

        private readonly ParameterExpression _x = Parameter(typeof(nint), "x");
        private readonly ParameterExpression _t = Parameter(typeof(nint), "t");
        private readonly ParameterExpression _idx = Parameter(typeof(nint), "index");
        private readonly ParameterExpression _mask = Parameter(typeof(nint), "mask");
        private readonly ParameterExpression _grad = Parameter(typeof(nint), "grad");
        private readonly ParameterExpression _stride = Parameter(typeof(long), "stride");
        private readonly ParameterExpression _count = Parameter(typeof(long), "count");
        private readonly ParameterExpression _stats = Parameter(typeof(float[]), "stats");
        private readonly ParameterExpression _partials = Parameter(typeof(double[]), "partials");
        private readonly ParameterExpression _slotBase = Parameter(typeof(long), "slotBase");
        private readonly ParameterExpression _flags = Parameter(typeof(int[]), "flags");
        private readonly ParameterExpression _chunk = Parameter(typeof(long), "chunk");
        private readonly ParameterExpression _ignore = Parameter(typeof(long), "ignore");
        private readonly bool _check;
        private readonly bool _valueOnly;
        private readonly bool _kept;
        private readonly bool _stream;
        private readonly bool _marks;
        private readonly ParameterExpression _i = Variable(typeof(long), "i");

        // Loop-invariant vectors (constants, statistics) and the accumulators, set up before the loop.
        private readonly List<ParameterExpression> _outerVars = new();
        private readonly List<LinqExpr> _prologue = new();
        private readonly List<(int Node, int Class)> _statOrder = new();
        private readonly Dictionary<(int, int), ParameterExpression> _invariant = new();

        // The loop body: one local per (node, class), assigned once per vector of pixels. (Not readonly: a pass
        // that branches on its targets builds one body per branch from the same prefix, see Scope.)
        private List<ParameterExpression> _bodyVars = new();
        private List<LinqExpr> _body = new();
        private Dictionary<(int, int), ParameterExpression> _values = new();
        private ParameterExpression? _maskBits;
        private Dictionary<int, ParameterExpression> _classBits = new();
        private ParameterExpression? _indices;

        public PassCompiler(
            CpuKernel kernel,
            int pass,
            int classes,
            bool index,
            bool check,
            bool valueOnly,
            bool kept,
            bool stream,
            bool marks
        )
        {
            _marks = marks;
            _stream = stream;
            _check = check;
            _valueOnly = valueOnly;
            _kept = kept;
            _k = kernel;
            _vector = kernel._simd.Vector;
            _functions = kernel._simd.GetType();
            _pass = pass;
            _c = classes;
            _index = index;
        }

        public PassCode Compile()
        {
            var sinks = _k.SinksOf(_pass, _valueOnly);
            var slotOf = _k.SlotLayout(_c, out _);
            var epilogue = new List<LinqExpr>();
            // The kept activation, read back before anything of this pixel vector is overwritten. Each value's
            // sign bit tells whether its class is the pixel's target (pass 1 set it): with class indices, and
            // with per-class targets where all of this chunk's are exactly 0 or 1 (_marks), pass 2 takes the
            // targets from there and does not read them again.
            if (_kept && _pass == 2)
                for (var c = 0; c < _c; c++)
                {
                    var marked = Local($"marked{_k._kept}_{c}", Call(Method(nameof(Simd512.Load)), _grad, Offset(c)));
                    _values[(_k._kept, c)] = Local($"kept{_k._kept}_{c}", Simd1(nameof(Simd512.Abs), marked));
                    if (_index)
                        _classBits[c] = Local($"is{c}", Simd1(nameof(Simd512.SignBits), marked));
                    else if (_marks)
                        _targets[c] = Local($"t{c}", Simd1(nameof(Simd512.OneWhere), Simd1(nameof(Simd512.SignBits), marked)));
                }
            var accumulators = new Dictionary<int, ParameterExpression>();
            var branches = BranchesOnTargets;
            if (branches)
            {
                // The inputs and the checks first, for every pixel vector; then one of three bodies: all of the
                // vector's targets 0, all 1, or any other mix (see Scope and Known).
                Value(InputNode(InputKind.Prediction), 0);
                var t = Target(0);
                if (_k._plan.IsMasked)
                    MaskBits();
                if (_check)
                    AddChecks(epilogue);
                var prefix = Scope.Save(this);
                var bodies = new List<BlockExpression>();
                foreach (var targetIs in new double?[] { 0, 1, null })
                {
                    prefix.Restore(this, targetIs, branch: true);
                    EmitSinks(sinks, slotOf, accumulators, epilogue);
                    bodies.Add(Block(_bodyVars, _body.Append(LinqExpr.Empty())));
                }
                prefix.Restore(this, null, branch: false);
                _body.Add(
                    IfThenElse(
                        Simd1(nameof(Simd512.AllZero), t),
                        bodies[0],
                        IfThenElse(Simd1(nameof(Simd512.AllOne), t), bodies[1], bodies[2])
                    )
                );
            }
            else
                EmitSinks(sinks, slotOf, accumulators, epilogue);

            // Pass 1 keeps the activation it computed for its sums in the gradient's memory, for pass 2: past
            // the caches where the run allows (see CpuKernel.StreamsKept), since those lines hold nothing
            // pass 1 needs and a store through the caches would read each of them first.
            if (_kept && _pass == 1)
            {
                var store = _stream ? nameof(Simd512.StoreStreaming) : nameof(Simd512.Store);
                ParameterExpression? notBinary = null;
                if (!_index)
                {
                    notBinary = Variable(_vector, "notBinary");
                    _outerVars.Add(notBinary);
                    _prologue.Add(Assign(notBinary, LinqExpr.Default(_vector)));
                }
                for (var c = 0; c < _c; c++)
                {
                    LinqExpr kept = Value(_k._kept, c);
                    if (_index)
                        kept = Simd2(nameof(Simd512.SignWhere), ClassBits(c), kept);
                    else
                    {
                        kept = Simd2(nameof(Simd512.SignWhere), Simd1(nameof(Simd512.IsOne), Target(c)), kept);
                        _body.Add(
                            Assign(notBinary!, Simd2(nameof(Simd512.Or), notBinary!, Simd1(nameof(Simd512.NotZeroOrOne), Target(c))))
                        );
                    }
                    _body.Add(Call(Method(store), _grad, Offset(c), kept));
                }
                if (_stream)
                    epilogue.Add(Call(Method(nameof(Simd512.StreamFence))));
                if (notBinary is not null)
                {
                    var slot = ArrayAccess(_flags, Convert(_chunk, typeof(int)));
                    epilogue.Add(Assign(slot, Or(slot, Call(Method(nameof(Simd512.NotBinaryFlag)), notBinary))));
                }
            }

            if (_check && !branches)
                AddChecks(epilogue);

            var done = Label("done");
            var width = Constant((long)_k._simd.Lanes);
            var loop = Loop(
                IfThenElse(GreaterThanOrEqual(_i, _count), Break(done), Block(_bodyVars, _body.Append(AddAssign(_i, width)))),
                done
            );
            var all = _prologue.Append(Assign(_i, Constant(0L))).Append(loop).Concat(epilogue).Append(LinqExpr.Empty());
            var lambda = Lambda<CompiledPass>(
                Block(_outerVars.Append(_i), all),
                $"LossDsl.Pass{_pass}",
                new[] { _x, _t, _idx, _mask, _grad, _stride, _count, _stats, _partials, _slotBase, _flags, _chunk, _ignore }
            );
            var counter = new CallCounter();
            counter.Visit(lambda.Body);
            return new PassCode(lambda.Compile(), _statOrder.ToArray(), counter.Calls);
        }

        // What the pass accumulates and stores, from the current body's values: a reduction adds its argument into
        // one accumulator per slot (the argument's classes fold into one slot when the reduction drops the class
        // axis), shared by every body of a pass that branches; the gradient is stored.
        private void EmitSinks(List<Sink> sinks, int[] slotOf, Dictionary<int, ParameterExpression> accumulators, List<LinqExpr> epilogue)
        {
            foreach (var sink in sinks)
            {
                var node = _k._nodes[sink.Node];
                if (sink.Kind == SinkKind.Gradient)
                {
                    for (var c = 0; c < _c; c++)
                        _body.Add(Call(Method(nameof(Simd512.Store)), _grad, Offset(c), Value(sink.Node, node.Classes ? c : 0)));
                    continue;
                }
                var arg = _k._nodes[node.Args[0]];
                for (var c = 0; c < (arg.Classes ? _c : 1); c++)
                {
                    var slot = slotOf[sink.Node] + (node.Classes ? c : 0);
                    if (!accumulators.TryGetValue(slot, out var acc))
                    {
                        acc = Variable(_vector, $"sum{sink.Node}_{c}");
                        accumulators[slot] = acc;
                        _outerVars.Add(acc);
                        _prologue.Add(Assign(acc, LinqExpr.Default(_vector)));
                        var target = ArrayAccess(_partials, Convert(LinqExpr.Add(_slotBase, Constant((long)slot)), typeof(int)));
                        epilogue.Add(AddAssign(target, Call(Method(nameof(Simd512.Sum)), acc)));
                    }
                    _body.Add(AddAssign(acc, Value(node.Args[0], c)));
                }
            }
        }

        // A one-pass binary loss on per-class targets branches on each pixel vector's targets: where all are 0 (the
        // background of a sparse mask) or all are 1, the body is compiled with the target known, and every node
        // that knowing it settles is left out (t·a, (1 - t)·b, a + 0·b, and what they feed: about half of binary
        // focal's arithmetic where its targets are 0). The nodes that remain are computed as in the other body,
        // from the same values, so the results are the same up to the sign of a zero (a + 0 for a = -0), and
        // except where a left-out product would have been 0·∞ = NaN: a non-finite prediction, which the checks
        // report whichever body runs.
        private bool BranchesOnTargets =>
            _k._branch
            && !_kept
            && !_index
            && _c == 1
            && _pass == 1
            && _k._plan.Passes == 1
            && InputNode(InputKind.Target) >= 0
            && InputNode(InputKind.Prediction) >= 0
            && !_k._nodes.Any(n => n.Expr is LossDsl.Unary { Op: UnaryOp.Softmax or UnaryOp.LogSoftmax });

        // The target's value in the body being built (null: read from memory), and what that settles.
        private double? _targetIs;
        private Dictionary<(int, int), double?> _known = new();

        // The value node id takes for class c when the target is known, or null when it must be computed. Only
        // exact steps: x·0 = 0 and x·1 = x, x ± 0 = x, 0^γ = 0 (γ > 0), 1^γ = 1, and constants combined in float32
        // as the pass would combine them.
        private double? Known(int id, int c)
        {
            if (_targetIs is null)
                return null;
            var node = _k._nodes[id];
            if (!node.Classes)
                c = 0;
            if (_known.TryGetValue((id, c), out var memo))
                return memo;
            double? Arg(int i) => Known(node.Args[i], c);
            static double F(float v) => v;
            double? known = node.Kind switch
            {
                Kind.Const => node.Value,
                Kind.Stat => null,
                _ => node.Expr switch
                {
                    Input { Kind: InputKind.Target } => _targetIs,
                    LossDsl.Unary { Op: UnaryOp.Neg } => Arg(0) is double a ? -a : null,
                    Masked => Arg(0) is 0 ? 0 : null,
                    LossDsl.Binary { Op: BinaryOp.Mul } => (Arg(0), Arg(1)) switch
                    {
                        (0, _) or (_, 0) => 0,
                        (double a, double b) => F((float)a * (float)b),
                        _ => null,
                    },
                    LossDsl.Binary { Op: BinaryOp.Add } => Arg(0) is double a && Arg(1) is double b ? F((float)a + (float)b) : null,
                    LossDsl.Binary { Op: BinaryOp.Sub } => Arg(0) is double a && Arg(1) is double b ? F((float)a - (float)b) : null,
                    LossDsl.Binary { Op: BinaryOp.Pow } => (Arg(0), _k._nodes[node.Args[1]]) switch
                    {
                        (0, { Kind: Kind.Const, Value: > 0 }) => 0,
                        (1, { Kind: Kind.Const }) => 1,
                        _ => null,
                    },
                    _ => null,
                },
            };
            _known[(id, c)] = known;
            return known;
        }

        // The body-building state a branch starts from: the shared prefix's locals and what they cache.
        private sealed record Scope(
            List<ParameterExpression> BodyVars,
            List<LinqExpr> Body,
            Dictionary<(int, int), ParameterExpression> Values,
            ParameterExpression? MaskBits,
            Dictionary<int, ParameterExpression> ClassBits,
            ParameterExpression? Indices,
            Dictionary<int, ParameterExpression> Targets,
            Dictionary<(int, int), ParameterExpression> ExpNegAbs,
            Dictionary<(int, int), ParameterExpression> SoftTails,
            Dictionary<(int, int), ParameterExpression> Reciprocals
        )
        {
            public static Scope Save(PassCompiler p) =>
                new(
                    new(p._bodyVars),
                    new(p._body),
                    new(p._values),
                    p._maskBits,
                    new(p._classBits),
                    p._indices,
                    new(p._targets),
                    new(p._expNegAbs),
                    new(p._softTails),
                    new(p._reciprocals)
                );

            // Back to this state, with fresh copies (a branch's locals must not leak into another), for a body
            // with the target known to be targetIs (or read): an empty one for a branch (inside the prefix's
            // block, it sees the prefix's locals), or the prefix itself.
            public void Restore(PassCompiler p, double? targetIs, bool branch)
            {
                p._bodyVars = branch ? new() : new(BodyVars);
                p._body = branch ? new() : new(Body);
                p._values = new(Values);
                p._maskBits = MaskBits;
                p._classBits = new(ClassBits);
                p._indices = Indices;
                p._targets = new(Targets);
                p._expNegAbs = new(ExpNegAbs);
                p._softTails = new(SoftTails);
                p._reciprocals = new(Reciprocals);
                p._targetIs = targetIs;
                p._known = new();
            }
        }

        // The value checks, fused into the pass: every element it covers of the prediction and the target
        // (every pixel, masked or not, as the unfused checks did) is tested into accumulators, and after the
        // loop the chunk's flags record what was found.
        private void AddChecks(List<LinqExpr> epilogue)
        {
            ParameterExpression Accumulator(string name)
            {
                var acc = Variable(_vector, name);
                _outerVars.Add(acc);
                _prologue.Add(Assign(acc, LinqExpr.Default(_vector)));
                return acc;
            }
            var badX = Accumulator("badInput");
            var badT = Accumulator("targetBits");
            var badI = Accumulator("suspectIndex");
            for (var c = 0; c < _c; c++)
            {
                var x = _values.TryGetValue((InputNode(InputKind.Prediction), c), out var known)
                    ? (LinqExpr)known
                    : Call(Method(nameof(Simd512.Load)), _x, Offset(c));
                // x·0 is NaN exactly where x is NaN or ±∞, and NaN sticks in a sum: one FMA per element.
                _body.Add(Assign(badX, Call(Method(nameof(Simd512.MultiplyAdd)), x, LinqExpr.Default(_vector), badX)));
            }
            if (_index)
            {
                // One load of the indices: lanes outside [0, C) or at the ignore index (the caller tells the
                // two apart the slow way, only when this fires).
                _body.Add(
                    Assign(
                        badI,
                        Simd2(nameof(Simd512.Or), badI, Call(Method(nameof(Simd512.IndexSuspect)), _idx, _i, Constant((long)_c), _ignore))
                    )
                );
            }
            else
            {
                for (var c = 0; c < _c; c++)
                {
                    var t = _targets.TryGetValue(c, out var loaded) ? (LinqExpr)loaded : Call(Method(nameof(Simd512.Load)), _t, Offset(c));
                    _body.Add(Assign(badT, Simd2(nameof(Simd512.MaxTargetBits), badT, t)));
                }
            }
            var slot = ArrayAccess(_flags, Convert(_chunk, typeof(int)));
            epilogue.Add(Assign(slot, Or(slot, Call(Method(nameof(Simd512.Flags)), badX, badT, badI))));
        }

        private int InputNode(InputKind kind)
        {
            for (var i = 0; i < _k._nodes.Length; i++)
                if (_k._nodes[i].Expr is Input inp && inp.Kind == kind)
                    return i;
            return -1;
        }

        private MethodInfo Method(string name) =>
            _functions.GetMethod(name, BindingFlags.Public | BindingFlags.Static)
            ?? throw new InvalidOperationException($"{_functions.Name}.{name}");

        private MethodCallExpression Simd1(string name, LinqExpr a) => Call(Method(name), a);

        private MethodCallExpression Simd2(string name, LinqExpr a, LinqExpr b) => Call(Method(name), a, b);

        // Element offset of class c at the current pixel: c * stride + i.
        private LinqExpr Offset(int c) => c == 0 ? _i : LinqExpr.Add(Multiply(Constant((long)c), _stride), _i);

        private ParameterExpression Local(string name, LinqExpr value)
        {
            var v = Variable(value.Type, name);
            _bodyVars.Add(v);
            _body.Add(Assign(v, value));
            return v;
        }

        private ParameterExpression Invariant(int id, int c, LinqExpr value)
        {
            var v = Variable(_vector, $"k{id}_{c}");
            _outerVars.Add(v);
            _prologue.Add(Assign(v, value));
            _invariant[(id, c)] = v;
            return v;
        }

        // A value known at compile time, splat once before the loop.
        private readonly Dictionary<float, ParameterExpression> _knownSplats = new();

        private ParameterExpression KnownSplat(float value)
        {
            if (!_knownSplats.TryGetValue(value, out var v))
            {
                v = Variable(_vector, $"known{_knownSplats.Count}");
                _outerVars.Add(v);
                _prologue.Add(Assign(v, Call(Method(nameof(Simd512.Splat)), Constant(value))));
                _knownSplats[value] = v;
            }
            return v;
        }

        private ParameterExpression MaskBits() => _maskBits ??= Local("valid", Call(Method(nameof(Simd512.MaskBits)), _mask, _i));

        private ParameterExpression ClassBits(int c)
        {
            if (!_classBits.TryGetValue(c, out var bits))
            {
                _indices ??= Local("indices", Call(Method(nameof(Simd512.LoadIndices)), _idx, _i));
                bits = Local($"is{c}", Call(Method(nameof(Simd512.ClassEquals)), _indices, Constant(c)));
                _classBits[c] = bits;
            }
            return bits;
        }

        // The value of node id for class c (class 0 for nodes without a class axis).
        private ParameterExpression Value(int id, int c)
        {
            var node = _k._nodes[id];
            if (!node.Classes)
                c = 0;
            if (_values.TryGetValue((id, c), out var known) || _invariant.TryGetValue((id, c), out known))
                return known;
            if (node.Kind == Kind.Pixel && Known(id, c) is double settled)
                return _values[(id, c)] = KnownSplat((float)settled);
            switch (node.Kind)
            {
                case Kind.Const:
                    return Invariant(id, c, Call(Method(nameof(Simd512.Splat)), Constant((float)node.Value)));
                case Kind.Stat:
                {
                    var slot = _statOrder.Count;
                    _statOrder.Add((id, c));
                    return Invariant(id, c, Call(Method(nameof(Simd512.Splat)), ArrayIndex(_stats, Constant(slot))));
                }
            }

            if (node.Expr is LossDsl.Unary { Op: UnaryOp.Softmax or UnaryOp.LogSoftmax } sm)
            {
                SoftmaxBlock(id, node.Args[0], sm.Op == UnaryOp.LogSoftmax);
                return _values[(id, c)];
            }
            // exp(log-softmax) is the softmax, from the exponentials the log-softmax already computed.
            if (node.Expr is LossDsl.Unary { Op: UnaryOp.Exp } && _k._nodes[node.Args[0]].Expr is LossDsl.Unary { Op: UnaryOp.LogSoftmax })
            {
                SoftmaxBlock(id, _k._nodes[node.Args[0]].Args[0], log: false);
                return _values[(id, c)];
            }
            var value = Local($"v{id}_{c}", Build(node, c));
            _values[(id, c)] = value;
            return value;
        }

        private LinqExpr Build(Node node, int c)
        {
            ParameterExpression Arg(int i, int cc) => Value(node.Args[i], cc);
            switch (node.Expr)
            {
                case Input { Kind: InputKind.Prediction }:
                    return Call(Method(nameof(Simd512.Load)), _x, Offset(c));
                case Input { Kind: InputKind.Target }:
                    return Target(c);
                case PlainSum:
                {
                    var arg = _k._nodes[node.Args[0]];
                    LinqExpr sum = Arg(0, 0);
                    if (arg.Classes)
                        for (var cc = 1; cc < _c; cc++)
                            sum = LinqExpr.Add(sum, Arg(0, cc));
                    return sum;
                }
                case SelectTarget:
                {
                    if (!_k._nodes[node.Args[0]].Classes)
                        throw new NotSupportedException("select of a value without classes");
                    LinqExpr acc = LinqExpr.Default(_vector);
                    for (var cc = 0; cc < _c; cc++)
                        acc = _index
                            ? Call(Method(nameof(Simd512.Select)), ClassBits(cc), Arg(0, cc), acc)
                            : Call(Method(nameof(Simd512.MultiplyAdd)), Arg(0, cc), Target(cc), acc);
                    return acc;
                }
                case Masked:
                    return Call(Method(nameof(Simd512.Select)), MaskBits(), Arg(0, c), LinqExpr.Default(_vector));
                case LossDsl.Unary u:
                {
                    var a = Arg(0, c);
                    return u.Op switch
                    {
                        UnaryOp.Neg => Negate(a),
                        UnaryOp.Sigmoid => Call(
                            Method(nameof(Simd512.SigmoidFrom)),
                            a,
                            ExpNegAbs(node.Args[0], c),
                            ReciprocalOnePlus(node.Args[0], c)
                        ),
                        UnaryOp.LogSigmoid => Simd2(nameof(Simd512.LogSigmoidFrom), a, SoftTail(node.Args[0], c)),
                        UnaryOp.Softplus => Simd2(nameof(Simd512.SoftplusFrom), a, SoftTail(node.Args[0], c)),
                        UnaryOp.Step => Simd1(nameof(Simd512.Step), a),
                        // Every other element-wise function: its Simd function, named by the operator table.
                        _ when Operators.Of(u.Op) is { } function => Simd1(function.Kernel, a),
                        _ => throw new NotSupportedException(u.Op.ToString()),
                    };
                }
                case LossDsl.Binary b:
                {
                    // With the target known, an operand that is 0 or 1 leaves the other as it is (a product with 0
                    // is settled in Known).
                    if (_targetIs is not null)
                        switch (b.Op, Known(node.Args[0], c), Known(node.Args[1], c))
                        {
                            case (BinaryOp.Mul, 1, _):
                            case (BinaryOp.Add, 0, _):
                                return Arg(1, c);
                            case (BinaryOp.Mul, _, 1):
                            case (BinaryOp.Add, _, 0):
                            case (BinaryOp.Sub, _, 0):
                                return Arg(0, c);
                            case (BinaryOp.Sub, 0, _):
                                return Negate(Arg(1, c));
                        }
                    var right = _k._nodes[node.Args[1]];
                    if (b.Op == BinaryOp.Pow && right.Kind == Kind.Const)
                    {
                        if (right.Value == 1)
                            return Arg(0, c);
                        if (right.Value == 2)
                            return Multiply(Arg(0, c), Arg(0, c));
                    }
                    var (l, r) = (Arg(0, c), Arg(1, c));
                    // The Simd function the operator table names for the operation.
                    return Operators.Of(b.Op) is { } function
                        ? Simd2(function.Kernel, l, r)
                        : throw new NotSupportedException(b.Op.ToString());
                }
                default:
                    throw new NotSupportedException(node.Expr.GetType().Name);
            }
        }

        private Dictionary<int, ParameterExpression> _targets = new();
        private Dictionary<(int, int), ParameterExpression> _expNegAbs = new();
        private Dictionary<(int, int), ParameterExpression> _softTails = new();
        private Dictionary<(int, int), ParameterExpression> _reciprocals = new();

        // σ, log σ and softplus of a value and of its negation all start from e^-|x|, 1/(1 + e^-|x|)
        // and log(1 + e^-|x|): computed once per value (keyed by the value without its sign).
        private (int Id, int Class) Unsigned(int id, int c)
        {
            var node = _k._nodes[id];
            return node.Expr is LossDsl.Unary { Op: UnaryOp.Neg }
                ? (node.Args[0], _k._nodes[node.Args[0]].Classes ? c : 0)
                : (id, node.Classes ? c : 0);
        }

        private ParameterExpression ExpNegAbs(int id, int c)
        {
            var key = Unsigned(id, c);
            if (!_expNegAbs.TryGetValue(key, out var e))
            {
                e = Local($"expNegAbs{key.Id}_{key.Class}", Simd1(nameof(Simd512.ExpNegAbs), Value(key.Id, key.Class)));
                _expNegAbs[key] = e;
            }
            return e;
        }

        private ParameterExpression ReciprocalOnePlus(int id, int c)
        {
            var key = Unsigned(id, c);
            if (!_reciprocals.TryGetValue(key, out var r))
            {
                r = Local($"recipOnePlus{key.Id}_{key.Class}", Simd1(nameof(Simd512.ReciprocalOnePlus), ExpNegAbs(id, c)));
                _reciprocals[key] = r;
            }
            return r;
        }

        private ParameterExpression SoftTail(int id, int c)
        {
            var key = Unsigned(id, c);
            if (!_softTails.TryGetValue(key, out var tail))
            {
                tail = Local($"softTail{key.Id}_{key.Class}", Simd1(nameof(Simd512.SoftTail), ExpNegAbs(id, c)));
                _softTails[key] = tail;
            }
            return tail;
        }

        // The per-class target of class c at the current pixels (loaded once per vector).
        private ParameterExpression Target(int c)
        {
            if (!_targets.TryGetValue(c, out var t))
            {
                t = _index
                    ? Local($"t{c}", Simd1(nameof(Simd512.OneWhere), ClassBits(c)))
                    : Local($"t{c}", Call(Method(nameof(Simd512.Load)), _t, Offset(c)));
                _targets[c] = t;
            }
            return t;
        }

        // Below AVX-512 (16 vector registers) a softmax of four or more classes calls its exponentials instead
        // of inlining them: with every class's exponential inlined the JIT keeps most values in memory, and the
        // calls made softmax focal, Dice, Dice+CE and generalized Dice steps 10-35 % faster on AVX2.
        private bool OutOfLineExp => _k._simd.Bits < 512 && _c >= 4;

        // The exponentials of one softmax argument, shared by its softmax, its log-softmax and the exponential
        // of that log-softmax (the symbolic gradient of a log-softmax reads exp(log-softmax)): one exponential
        // per class and pixel, however many of them the pass needs (softmax focal needs all three).
        private sealed record SoftmaxParts(ParameterExpression[] Shifted, ParameterExpression[] Exps, ParameterExpression Sum)
        {
            public ParameterExpression? LogSum;
            public ParameterExpression[]? Probabilities;
        }

        private readonly Dictionary<int, SoftmaxParts> _softmaxes = new();

        private SoftmaxParts Parts(int argId)
        {
            if (_softmaxes.TryGetValue(argId, out var parts))
                return parts;
            var xs = Enumerable.Range(0, _c).Select(cc => Value(argId, cc)).ToArray();
            LinqExpr max = xs[0];
            for (var cc = 1; cc < _c; cc++)
                max = Simd2(nameof(Simd512.MaxNative), max, xs[cc]);
            var m = Local($"max{argId}", max);
            var shifted = xs.Select((x, cc) => Local($"d{argId}_{cc}", Subtract(x, m))).ToArray();
            var exp = OutOfLineExp ? nameof(Simd512.ExpOutOfLine) : nameof(Simd512.Exp);
            var exps = shifted.Select((d, cc) => Local($"e{argId}_{cc}", Simd1(exp, d))).ToArray();
            LinqExpr sum = exps[0];
            for (var cc = 1; cc < _c; cc++)
                sum = LinqExpr.Add(sum, exps[cc]);
            parts = new SoftmaxParts(shifted, exps, Local($"sum{argId}", sum));
            _softmaxes[argId] = parts;
            return parts;
        }

        // softmax over the classes of the argument, all classes at once: e^(x - max) / Σ.
        private ParameterExpression[] Probabilities(int argId)
        {
            var parts = Parts(argId);
            if (parts.Probabilities is null)
            {
                var inv = Local($"inv{argId}", Simd1(nameof(Simd512.Reciprocal), parts.Sum));
                parts.Probabilities = parts.Exps.Select((e, cc) => Local($"p{argId}_{cc}", Multiply(e, inv))).ToArray();
            }
            return parts.Probabilities;
        }

        // softmax / log-softmax over the classes of the argument, all classes at once.
        private void SoftmaxBlock(int id, int argId, bool log)
        {
            if (!log)
            {
                var p = Probabilities(argId);
                for (var cc = 0; cc < _c; cc++)
                    _values[(id, cc)] = p[cc];
                return;
            }
            var parts = Parts(argId);
            // (x - max) - log Σ: exact for any finite logits (x - (max + log Σ) rounds log Σ away when
            // |max| is large, e.g. tied top classes at 1e8 would give 0 instead of -log 2).
            parts.LogSum ??= Local($"logsum{argId}", Simd1(nameof(Simd512.Log), parts.Sum));
            for (var cc = 0; cc < _c; cc++)
                _values[(id, cc)] = Local($"v{id}_{cc}", Subtract(parts.Shifted[cc], parts.LogSum));
        }
    }
}
