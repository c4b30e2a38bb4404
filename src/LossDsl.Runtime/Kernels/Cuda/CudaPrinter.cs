using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Text;

namespace LossDsl.Kernels.Cuda;

/// <summary>The element type a CUDA kernel reads and writes (arithmetic is float, or double for float64).</summary>
internal enum CudaDType
{
    /// <summary>float32.</summary>
    Float32,

    /// <summary>float16, read and written natively, computed in float.</summary>
    Float16,

    /// <summary>bfloat16, read and written natively, computed in float.</summary>
    BFloat16,

    /// <summary>float64, computed in double.</summary>
    Float64,
}

/// <summary>What a printed program is specialised for, besides the plan.</summary>
/// <param name="Classes">The class count (unrolled; at most <see cref="CudaPrinter.MaxUnrolledClasses"/>).</param>
/// <param name="Index">Targets are int64 class indices (N, *spatial) rather than per-class values.</param>
/// <param name="DType">The prediction's (and gradient's, and per-class target's) element type.</param>
/// <param name="Sum">Reduction Sum (else Mean).</param>
/// <param name="Check">Whether the passes check the inputs (non-finite prediction, target outside [0, 1], bad class index).</param>
internal sealed record CudaKey(int Classes, bool Index, CudaDType DType, bool Sum, bool Check);

/// <summary>A printed CUDA translation unit and how to launch it.</summary>
/// <param name="Source">The CUDA C++ source (NVRTC input).</param>
/// <param name="Kernels">Its kernels in launch order.</param>
/// <param name="Slots">Partial-sum slots per (sample, block).</param>
/// <param name="StatNodes">How many statistics the stats buffer holds (each N·C doubles).</param>
internal sealed record CudaProgram(string Source, ImmutableArray<CudaLaunch> Kernels, int Slots, int StatNodes);

/// <summary>One kernel of a program.</summary>
/// <param name="Name">Its extern "C" name.</param>
/// <param name="Grid">How it is launched: over pixels (blocks × N), one block per sample, or a single thread.</param>
internal sealed record CudaLaunch(string Name, CudaGrid Grid);

/// <summary>A kernel's launch shape.</summary>
internal enum CudaGrid
{
    /// <summary>(blocks, N) blocks of <see cref="CudaPrinter.BlockSize"/> threads striding over a sample's pixels.</summary>
    Pixels,

    /// <summary>N blocks of <see cref="CudaPrinter.BlockSize"/> threads, one per sample.</summary>
    Samples,

    /// <summary>One thread (the statistics between passes: a few values per sample and class).</summary>
    Single,
}

/// <summary>
/// Prints a <see cref="KernelPlan"/> as CUDA C++: for every pass of the CPU kernel one kernel, whose
/// per-pixel nodes live in registers (classes unrolled), whose reductions are summed per thread in double,
/// then per warp (shuffles) and per block (shared memory) into one partial per block and slot, and which
/// writes the gradient once; between passes a single-thread kernel sums the partials in a fixed order
/// (so results do not depend on scheduling) and evaluates the statistics and seeds in double; a last one
/// writes the loss value. The arithmetic is the operator table's, through <see cref="CudaMath"/>.
/// </summary>
internal static class CudaPrinter
{
    /// <summary>Threads per block of the pixel and sample kernels.</summary>
    public const int BlockSize = 256;

    /// <summary>Classes are unrolled up to this count.</summary>
    public const int MaxUnrolledClasses = 16;

    /// <summary>Prints the program of <paramref name="plan"/> for <paramref name="key"/>.</summary>
    /// <exception cref="NotSupportedException">More classes than are unrolled, or a node the printer has no form for.</exception>
    public static CudaProgram Print(KernelPlan plan, CudaKey key, string? title = null)
    {
        if (key.Classes < 1 || key.Classes > MaxUnrolledClasses)
            throw new NotSupportedException($"{key.Classes} classes: the CUDA printer unrolls 1 to {MaxUnrolledClasses}");
        return new Program(plan, key).Print(title);
    }

    private sealed class Program
    {
        private readonly KernelPlan _plan;
        private readonly CudaKey _key;
        private readonly int[] _slotOf;
        private readonly int _slots;
        private readonly int[] _statIndex;
        private readonly int[] _statLevel;
        private readonly int _statCount;
        private readonly string _r;
        private readonly StringBuilder _out = new();
        private readonly List<CudaLaunch> _kernels = new();

        public Program(KernelPlan plan, CudaKey key)
        {
            _plan = plan;
            _key = key;
            _r = key.DType == CudaDType.Float64 ? "double" : "float";
            _slotOf = plan.SlotLayout(key.Classes, out _slots);
            _statIndex = new int[plan.Nodes.Length];
            _statLevel = new int[plan.Nodes.Length];
            for (var i = 0; i < plan.Nodes.Length; i++)
            {
                _statIndex[i] = plan.Nodes[i].Kind == NodeKind.Stat ? _statCount++ : -1;
                _statLevel[i] = -1;
            }
            ScheduleStatistics();
        }

        private int C => _key.Classes;

        private bool NeedsValidCounts =>
            _plan.IsMasked
            && (
                _plan.Nodes.Any(n => n.Expr is Count { Valid: true } c && (c.Over & (Over.Batch | Over.Spatial)) != 0)
                || (_plan.Pixelwise && !_plan.Weighted)
            );

        // Which statistics each stats kernel computes: the CPU kernel's order (EvaluateStats), decided once.
        private void ScheduleStatistics()
        {
            var known = new bool[_plan.Nodes.Length];
            bool Known(int id) => _plan.Nodes[id].Kind == NodeKind.Const || known[id];
            for (var level = 0; level <= _plan.Passes; level++)
            for (var i = 0; i < _plan.Nodes.Length; i++)
            {
                var node = _plan.Nodes[i];
                if (node.Kind != NodeKind.Stat || known[i])
                    continue;
                if (node.IsReduction)
                {
                    if (node.Level != level)
                        continue;
                }
                else if (node.Expr is Seed seed)
                {
                    if (!(_key.Sum || _plan.SeedInputs(seed).All(Known)))
                        continue;
                }
                else if (node.Args.Any(a => _plan.Nodes[a].Kind == NodeKind.Stat && !known[a]))
                {
                    continue;
                }
                known[i] = true;
                _statLevel[i] = level;
            }
        }

        public CudaProgram Print(string? title)
        {
            Line("// <auto-generated/>");
            Line(
                $"// LossDsl CUDA kernels{(title is null ? "" : " for " + title)}: {_plan.Passes} pass(es), {C} class(es), "
                    + $"{(_key.Index ? "class-index" : "per-class")} target, {_key.DType}, reduction {(_key.Sum ? "Sum" : "Mean")}"
                    + $"{(_key.Check ? ", checked" : "")}{(_plan.IsMasked ? ", masked" : "")}."
            );
            Line(CudaMath.Header);
            Prelude();
            var helpersAt = _out.Length;
            if (NeedsValidCounts)
                ValidCountKernel();
            for (var level = 0; level <= _plan.Passes; level++)
            {
                if (level > 0)
                    PassKernel(level);
                StatsKernel(level);
            }
            FinishKernel();
            if (_plan.DeferSeed && !_key.Sum)
                ScaleKernel();
            _out.Insert(helpersAt, Helpers());
            return new CudaProgram(_out.ToString(), _kernels.ToImmutableArray(), _slots, _statCount);
        }

        // ------------------------------------------------------------ prelude: element type, block sums

        private void Prelude()
        {
            Line($"#define LD_C {C}");
            Line($"#define LD_SLOTS {Math.Max(_slots, 1)}");
            Line($"#define LD_BLOCK {BlockSize}");
            switch (_key.DType)
            {
                case CudaDType.Float32:
                    Line("typedef float ld_in_t;");
                    Line("__device__ __forceinline__ float ld_load(ld_in_t v) { return v; }");
                    Line("__device__ __forceinline__ ld_in_t ld_store(float v) { return v; }");
                    break;
                case CudaDType.Float64:
                    Line("typedef double ld_in_t;");
                    Line("__device__ __forceinline__ double ld_load(ld_in_t v) { return v; }");
                    Line("__device__ __forceinline__ ld_in_t ld_store(double v) { return v; }");
                    break;
                case CudaDType.Float16:
                    Line("typedef unsigned short ld_in_t; // IEEE half bits");
                    Line(
                        "__device__ __forceinline__ float ld_load(ld_in_t h) { float f; asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(h)); return f; }"
                    );
                    Line(
                        "__device__ __forceinline__ ld_in_t ld_store(float f) { ld_in_t h; asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(f)); return h; }"
                    );
                    break;
                case CudaDType.BFloat16:
                    Line("typedef unsigned short ld_in_t; // bfloat16 bits");
                    Line("__device__ __forceinline__ float ld_load(ld_in_t h) { return __uint_as_float(((unsigned int)h) << 16); }");
                    Line("__device__ __forceinline__ ld_in_t ld_store(float f)");
                    Line("{");
                    Line("    unsigned int u = __float_as_uint(f);");
                    Line("    if ((u & 0x7fffffffu) > 0x7f800000u) return (ld_in_t)0x7fc0u; // NaN stays NaN");
                    Line("    u += 0x7fffu + ((u >> 16) & 1u); // round to nearest even");
                    Line("    return (ld_in_t)(u >> 16);");
                    Line("}");
                    break;
            }
            Line(
                """
                // Sum over the block in a fixed order (shuffles, then one warp over the warps' sums): the result, in
                // thread 0, does not depend on scheduling.
                __device__ __forceinline__ double ld_block_sum(double v, double* shared)
                {
                    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
                    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
                    __syncthreads();
                    if (lane == 0) shared[warp] = v;
                    __syncthreads();
                    v = 0.0;
                    if (warp == 0)
                    {
                        v = lane < (int)(blockDim.x >> 5) ? shared[lane] : 0.0;
                        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
                    }
                    return v;
                }
                """
            );
            if (_key.Check)
                Line(
                    """
                    // A failed check: its bits, and the first offending element (the smallest flat index) of those seen.
                    __device__ __forceinline__ void ld_flag(unsigned long long* check, unsigned long long bits, unsigned long long at)
                    {
                        atomicOr(check, bits);
                        atomicMin(check + 1, at);
                    }
                    """
                );
        }

        // ------------------------------------------------------------ valid-pixel counts

        private void ValidCountKernel()
        {
            Begin(
                "lossdsl_valid_counts",
                CudaGrid.Samples,
                "const unsigned char* __restrict__ mask, double* __restrict__ valid, long long S"
            );
            Line("    __shared__ double shared[32];");
            Line("    const long long n = blockIdx.x;");
            Line("    double count = 0.0;");
            Line("    for (long long i = threadIdx.x; i < S; i += blockDim.x) count += mask[n * S + i] != 0 ? 1.0 : 0.0;");
            Line("    count = ld_block_sum(count, shared);");
            Line("    if (threadIdx.x == 0) valid[n] = count;");
            Line("}");
        }

        // ------------------------------------------------------------ a pass

        private void PassKernel(int pass)
        {
            var sinks = _plan.Sinks.Where(s => s.Pass == pass).ToList();
            var needed = new bool[_plan.Nodes.Length];
            void Mark(int id)
            {
                if (needed[id])
                    return;
                needed[id] = true;
                if (_plan.Nodes[id].Kind != NodeKind.Pixel)
                    return;
                foreach (var a in _plan.Nodes[id].Args)
                    Mark(a);
            }
            foreach (var s in sinks)
                Mark(s.Kind == SinkKind.Reduce ? _plan.Nodes[s.Node].Args[0] : s.Node);

            Begin(
                $"lossdsl_pass{pass}",
                CudaGrid.Pixels,
                "const ld_in_t* __restrict__ x, const ld_in_t* __restrict__ t, const long long* __restrict__ idx, "
                    + "const unsigned char* __restrict__ mask, ld_in_t* __restrict__ grad, const double* __restrict__ stats, "
                    + "double* __restrict__ partials, unsigned long long* __restrict__ check, long long N, long long S, long long ignore"
            );
            Line("    __shared__ double shared[32];");
            Line("    const long long n = blockIdx.y;");
            Line("    const long long NC = N * LD_C;");
            Line("    const long long base = n * LD_C * S;");
            Line(
                "    (void)NC; (void)base; (void)ignore; (void)stats; (void)partials; (void)check; (void)t; (void)idx; (void)mask; (void)grad;"
            );

            // Statistics the pass reads: loop invariants.
            for (var id = 0; id < _plan.Nodes.Length; id++)
            {
                var node = _plan.Nodes[id];
                if (node.Kind != NodeKind.Stat || !UsedBy(id, needed))
                    continue;
                for (var c = 0; c < (node.Classes ? C : 1); c++)
                    Line(
                        $"    const {_r} k{id}_{c} = ({_r}){StatAt(id, node.Batch ? "n" : "0", node.Classes ? c.ToString(CultureInfo.InvariantCulture) : "0")};"
                    );
            }
            var accumulators = new List<(int Slot, string Name)>();
            foreach (var sink in sinks.Where(s => s.Kind == SinkKind.Reduce))
            {
                var node = _plan.Nodes[sink.Node];
                for (var c = 0; c < (node.Classes ? C : 1); c++)
                {
                    var name = $"sum{sink.Node}_{c}";
                    accumulators.Add((_slotOf[sink.Node] + c, name));
                    Line($"    double {name} = 0.0;");
                }
            }

            Line("    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < S; i += (long long)gridDim.x * blockDim.x)");
            Line("    {");
            var body = new PixelBody(this, needed);
            foreach (var sink in sinks)
            {
                var node = _plan.Nodes[sink.Node];
                if (sink.Kind == SinkKind.Gradient)
                {
                    for (var c = 0; c < C; c++)
                    {
                        var v = body.Value(sink.Node, node.Classes ? c : 0);
                        body.Emit($"grad[base + {c}LL * S + i] = ld_store({v});");
                    }
                    continue;
                }
                var arg = _plan.Nodes[node.Args[0]];
                for (var c = 0; c < (arg.Classes ? C : 1); c++)
                {
                    var v = body.Value(node.Args[0], c);
                    body.Emit($"sum{sink.Node}_{(node.Classes ? c : 0)} += (double){v};");
                }
            }
            if (_key.Check)
                body.Checks();
            foreach (var line in body.Lines)
                Line("        " + line);
            Line("    }");
            foreach (var (slot, name) in accumulators)
            {
                Line($"    {name} = ld_block_sum({name}, shared);");
                Line($"    if (threadIdx.x == 0) partials[((n * gridDim.x) + blockIdx.x) * LD_SLOTS + {slot}] = {name};");
            }
            Line("}");
        }

        private bool UsedBy(int stat, bool[] needed)
        {
            for (var id = 0; id < _plan.Nodes.Length; id++)
                if (needed[id] && _plan.Nodes[id].Kind == NodeKind.Pixel && _plan.Nodes[id].Args.Contains(stat))
                    return true;
            return needed[stat] && _plan.Nodes[stat].Kind == NodeKind.Stat;
        }

        // The per-pixel code of a pass: every node a local, classes unrolled, each computed once.
        private sealed class PixelBody
        {
            private readonly Program _p;
            private readonly bool[] _needed;
            private readonly Dictionary<(int, int), string> _values = new();
            public readonly List<string> Lines = new();
            private bool _valid,
                _index;
            private readonly HashSet<int> _targets = new();
            private readonly HashSet<int> _inputs = new();

            public PixelBody(Program p, bool[] needed)
            {
                _p = p;
                _needed = needed;
            }

            private string R => _p._r;

            public void Emit(string line) => Lines.Add(line);

            private string Local(string name, string value)
            {
                Lines.Add($"const {R} {name} = {value};");
                return name;
            }

            private string Input(int c)
            {
                if (_inputs.Add(c))
                    Lines.Add($"const {R} x{c} = ld_load(x[base + {c}LL * S + i]);");
                return $"x{c}";
            }

            private string Valid()
            {
                if (!_valid)
                    Lines.Add("const bool valid = mask[n * S + i] != 0;");
                _valid = true;
                return "valid";
            }

            private string Index()
            {
                if (!_index)
                    Lines.Add("const long long cls = idx[n * S + i];");
                _index = true;
                return "cls";
            }

            private string Target(int c)
            {
                if (_targets.Add(c))
                    Lines.Add(
                        _p._key.Index
                            ? $"const {R} t{c} = {Index()} == {c}LL ? ({R})1 : ({R})0;"
                            : $"const {R} t{c} = ld_load(t[base + {c}LL * S + i]);"
                    );
                return $"t{c}";
            }

            public string Value(int id, int c)
            {
                var node = _p._plan.Nodes[id];
                if (!node.Classes)
                    c = 0;
                if (_values.TryGetValue((id, c), out var known))
                    return known;
                string v;
                switch (node.Kind)
                {
                    case NodeKind.Const:
                        v = _p.Literal(node.Value);
                        break;
                    case NodeKind.Stat:
                        v = $"k{id}_{c}";
                        break;
                    default:
                        if (node.Expr is Unary { Op: UnaryOp.Softmax or UnaryOp.LogSoftmax } sm)
                        {
                            Softmax(id, node.Args[0], sm.Op == UnaryOp.LogSoftmax);
                            return _values[(id, c)];
                        }
                        v = Build(id, node, c);
                        break;
                }
                _values[(id, c)] = v;
                return v;
            }

            private string Build(int id, PlanNode node, int c)
            {
                string Arg(int i, int cc) => Value(node.Args[i], cc);
                var name = $"v{id}_{c}";
                switch (node.Expr)
                {
                    case LossDsl.Input { Kind: InputKind.Prediction }:
                        return Input(c);
                    case LossDsl.Input { Kind: InputKind.Target }:
                        return Target(c);
                    case PlainSum:
                    {
                        var arg = _p._plan.Nodes[node.Args[0]];
                        var terms = Enumerable.Range(0, arg.Classes ? _p.C : 1).Select(cc => Arg(0, cc)).ToList();
                        return Local(name, string.Join(" + ", terms));
                    }
                    case SelectTarget:
                    {
                        if (!_p._plan.Nodes[node.Args[0]].Classes)
                            throw new NotSupportedException("select of a value without classes");
                        if (_p._key.Index)
                        {
                            var acc = $"({R})0";
                            for (var cc = _p.C - 1; cc >= 0; cc--)
                                acc = $"({Index()} == {cc}LL ? {Arg(0, cc)} : {acc})";
                            return Local(name, acc);
                        }
                        return Local(name, string.Join(" + ", Enumerable.Range(0, _p.C).Select(cc => $"{Arg(0, cc)} * {Target(cc)}")));
                    }
                    case Masked:
                        return Local(name, $"{Valid()} ? {Arg(0, c)} : ({R})0");
                    case Unary u:
                        return Local(name, UnaryText(u.Op, Arg(0, c)));
                    case Binary b:
                    {
                        var right = _p._plan.Nodes[node.Args[1]];
                        if (b.Op == BinaryOp.Pow && right.Kind == NodeKind.Const)
                        {
                            if (right.Value == 1)
                                return Arg(0, c);
                            if (right.Value == 2)
                                return Local(name, $"{Arg(0, c)} * {Arg(0, c)}");
                        }
                        return Local(name, BinaryText(b.Op, Arg(0, c), Arg(1, c)));
                    }
                    default:
                        throw new NotSupportedException(node.Expr.GetType().Name);
                }
            }

            // softmax / log-softmax over the classes, exact for any finite logits (as the CPU kernel).
            private void Softmax(int id, int argId, bool log)
            {
                var xs = Enumerable.Range(0, _p.C).Select(cc => Value(argId, cc)).ToArray();
                var max = xs[0];
                for (var cc = 1; cc < xs.Length; cc++)
                    max = $"ld_max({max}, {xs[cc]})";
                var m = Local($"max{id}", max);
                var shifted = xs.Select((x, cc) => Local($"d{id}_{cc}", $"{x} - {m}")).ToArray();
                var exps = shifted.Select((d, cc) => Local($"e{id}_{cc}", $"ld_exp({d})")).ToArray();
                var sum = Local($"sum{id}", string.Join(" + ", exps));
                if (log)
                {
                    var logSum = Local($"logsum{id}", $"ld_log({sum})");
                    for (var cc = 0; cc < xs.Length; cc++)
                        _values[(id, cc)] = Local($"v{id}_{cc}", $"{shifted[cc]} - {logSum}");
                }
                else
                {
                    var inv = Local($"inv{id}", $"({R})1 / {sum}");
                    for (var cc = 0; cc < xs.Length; cc++)
                        _values[(id, cc)] = Local($"v{id}_{cc}", $"{exps[cc]} * {inv}");
                }
            }

            // The value checks: every prediction element, every target element or class index of the pixel.
            public void Checks()
            {
                for (var c = 0; c < _p.C; c++)
                    Lines.Add($"if (!isfinite({Input(c)})) ld_flag(check, 1ull, (unsigned long long)(base + {c}LL * S + i));");
                if (_p._key.Index)
                    Lines.Add(
                        $"if ({Index()} < 0 || {Index()} >= LD_C || {Index()} == ignore) ld_flag(check, 4ull, (unsigned long long)(n * S + i));"
                    );
                else
                    for (var c = 0; c < _p.C; c++)
                        Lines.Add(
                            $"if (!({Target(c)} >= ({R})0 && {Target(c)} <= ({R})1)) ld_flag(check, 2ull, (unsigned long long)(base + {c}LL * S + i));"
                        );
            }
        }

        // ------------------------------------------------------------ statistics between passes

        private string StatAt(int id, string n, string c)
        {
            var node = _plan.Nodes[id];
            if (node.Kind == NodeKind.Const)
                return DoubleLiteral(node.Value);
            var offset = $"{_statIndex[id]}LL * NC";
            var at = (node.Batch, node.Classes) switch
            {
                (true, true) => $"{n} * LD_C + {c}",
                (true, false) => n,
                (false, true) => c,
                _ => "0",
            };
            return $"stats[{offset} + {at}]";
        }

        private void StatsKernel(int level)
        {
            var ids = Enumerable.Range(0, _plan.Nodes.Length).Where(i => _statLevel[i] == level).ToList();
            if (ids.Count == 0)
                return;
            Begin(
                $"lossdsl_stats{level}",
                CudaGrid.Single,
                "double* __restrict__ stats, const double* __restrict__ partials, const double* __restrict__ classWeights, "
                    + "const double* __restrict__ valid, long long blocks, long long N, long long S"
            );
            Line("    const long long NC = N * LD_C;");
            Line("    (void)partials; (void)classWeights; (void)valid; (void)blocks; (void)S;");
            foreach (var id in ids)
            {
                var node = _plan.Nodes[id];
                Line($"    // {Printer.Print(node.Expr, 160).Replace("\n", " ", StringComparison.Ordinal)}");
                Line($"    for (long long n = 0; n < {(node.Batch ? "N" : "1")}; ++n)");
                Line($"        for (int c = 0; c < {(node.Classes ? "LD_C" : "1")}; ++c)");
                Line("        {");
                Line($"            double value = {StatExpression(id, node)};");
                Line($"            {StatAt(id, "n", "c")} = value;");
                Line("        }");
            }
            Line("}");
        }

        private string StatExpression(int id, PlanNode node)
        {
            string Arg(int i) =>
                StatAt(node.Args[i], _plan.Nodes[node.Args[i]].Batch ? "n" : "0", _plan.Nodes[node.Args[i]].Classes ? "c" : "0");
            if (node.IsReduction)
            {
                // Σ of the partials in (sample, block) order.
                var cls = node.Classes ? " + c" : "";
                var samples = node.Batch ? "for (long long m = n; m <= n; ++m)" : "for (long long m = 0; m < N; ++m)";
                return $"0.0; {samples} for (long long b = 0; b < blocks; ++b) value += partials[(m * blocks + b) * LD_SLOTS + {_slotOf[id]}{cls}]";
            }
            switch (node.Expr)
            {
                case LossDsl.Input { Kind: InputKind.ClassIndex }:
                    return "(double)c";
                case LossDsl.Input { Kind: InputKind.ClassWeights }:
                    return "classWeights[c]";
                case Count count:
                    return CountExpression(count.Over, count.Valid, "n");
                case Seed seed:
                    return SeedExpression(seed.Index);
                case Unary u:
                    return UnaryText(u.Op, Arg(0));
                case Binary b:
                    return BinaryText(b.Op, Arg(0), Arg(1));
                case PlainSum:
                {
                    var a = _plan.Nodes[node.Args[0]];
                    var ns = a.Batch
                        ? (node.Batch ? "for (long long m = n; m <= n; ++m)" : "for (long long m = 0; m < N; ++m)")
                        : "for (long long m = 0; m < 1; ++m)";
                    var cs = a.Classes
                        ? (node.Classes ? "for (int k = c; k <= c; ++k)" : "for (int k = 0; k < LD_C; ++k)")
                        : "for (int k = 0; k < 1; ++k)";
                    return $"0.0; {ns} {cs} value += {StatAt(node.Args[0], "m", "k")}";
                }
                default:
                    throw new NotSupportedException(node.Expr.GetType().Name);
            }
        }

        // An operation in C, for float registers and double statistics alike (the device functions are overloaded).
        private static string UnaryText(UnaryOp op, string a) =>
            op switch
            {
                UnaryOp.Neg => $"-{a}",
                UnaryOp.Step => $"ld_step({a})",
                _ when Operators.Of(op) is { } function => $"{CudaMath.FunctionName(function)}({a})",
                _ => throw new NotSupportedException(op.ToString()),
            };

        private static string BinaryText(BinaryOp op, string l, string r) =>
            op switch
            {
                BinaryOp.Add => $"{l} + {r}",
                BinaryOp.Sub => $"{l} - {r}",
                BinaryOp.Mul => $"{l} * {r}",
                BinaryOp.Div => $"{l} / {r}",
                BinaryOp.Pow => $"ld_pow({l}, {r})",
                BinaryOp.Min => $"ld_min({l}, {r})",
                BinaryOp.Max => $"ld_max({l}, {r})",
                _ => throw new NotSupportedException(op.ToString()),
            };

        // LossContext.Count: the entries a mean divides by, valid pixels only where asked and masked; at least 1.
        private string CountExpression(Over over, bool valid, string n)
        {
            var classes = (over & Over.Classes) != 0 ? "LD_C" : "1";
            var pixelAxes = over & (Over.Batch | Over.Spatial);
            if (valid && _plan.IsMasked && pixelAxes != Over.None)
            {
                var pixels = (over & Over.Batch) != 0 ? "ld_total(valid, N)" : $"valid[{n}]";
                return MeanRule.CountDenominatorC($"{pixels} * {classes}");
            }
            var count = classes;
            if ((over & Over.Batch) != 0)
                count += " * (double)N";
            if ((over & Over.Spatial) != 0)
                count += " * (double)S";
            return MeanRule.CountDenominatorC($"(double){count}");
        }

        // Σ weight of a pixel-wise weighted mean, broadcast to the value's classes; 1 where it is 0.
        private string WeightTotal()
        {
            var scale = !_plan.Nodes[_plan.Weight].Classes && _plan.Nodes[_plan.Value].Classes ? " * LD_C" : "";
            return MeanRule.WeightDenominatorC($"{StatAt(_plan.WeightSum, "0", "0")}{scale}");
        }

        // Σ value and Σ weight of a region result over its (sample, class) entries.
        private (string Value, string Weight) RegionTotals()
        {
            var v = _plan.Nodes[_plan.Value];
            var ns = v.Batch ? "N" : "1";
            var cs = v.Classes ? "LD_C" : "1";
            string Entry(int id) => StatAt(id, _plan.Nodes[id].Batch ? "m" : "0", _plan.Nodes[id].Classes ? "k" : "0");
            var sv = $"ld_region_sum_{_plan.Value}";
            var sw = _plan.Weighted ? $"ld_region_sum_{_plan.Weight}" : null;
            _regionSums[_plan.Value] = (ns, cs, Entry(_plan.Value));
            if (sw is not null)
                _regionSums[_plan.Weight] = (ns, cs, Entry(_plan.Weight));
            return ($"{sv}(stats, N)", MeanRule.WeightDenominatorC(sw is null ? $"(double){ns} * {cs}" : $"{sw}(stats, N)"));
        }

        private readonly Dictionary<int, (string Samples, string Classes, string Entry)> _regionSums = new();

        private string SeedExpression(int index)
        {
            if (_key.Sum)
                return index == 0 ? "1.0" : "0.0";
            if (_plan.Weighted && !_plan.Pixelwise)
            {
                var (sv, sw) = RegionTotals();
                return index == 0 ? $"1.0 / {sw}" : $"-{sv} / ({sw} * {sw})";
            }
            if (_plan.DeferSeed && index == 0)
                return "1.0";
            if (_plan.Weighted)
                return index == 0 ? $"1.0 / {WeightTotal()}" : $"-{StatAt(_plan.ValueSum, "0", "0")} / ({WeightTotal()} * {WeightTotal()})";
            return index == 0 ? $"1.0 / {CountExpression(_plan.Axes, _plan.Pixelwise, "0")}" : "0.0";
        }

        // ------------------------------------------------------------ the value, and the deferred scale

        private void FinishKernel()
        {
            Begin(
                "lossdsl_finish",
                CudaGrid.Single,
                "const double* __restrict__ stats, const double* __restrict__ valid, float* __restrict__ value, double* __restrict__ scale, long long N, long long S"
            );
            Line("    const long long NC = N * LD_C;");
            Line("    (void)valid; (void)scale; (void)S; (void)NC;");
            string result;
            if (_plan.Pixelwise)
            {
                var sum = StatAt(_plan.ValueSum, "0", "0");
                result =
                    _key.Sum ? sum
                    : _plan.Weighted ? $"{sum} / {WeightTotal()}"
                    : $"{sum} / {CountExpression(_plan.Axes, valid: true, "0")}";
            }
            else
            {
                var (sv, sw) = RegionTotals();
                result = _key.Sum ? sv : $"{sv} / {sw}";
            }
            Line($"    value[0] = (float)({result});");
            if (_plan.DeferSeed && !_key.Sum)
                Line($"    scale[0] = 1.0 / {WeightTotal()};");
            Line("}");
        }

        private void ScaleKernel()
        {
            Begin(
                "lossdsl_scale",
                CudaGrid.Pixels,
                "ld_in_t* __restrict__ grad, const double* __restrict__ scale, long long N, long long S"
            );
            Line("    const long long n = blockIdx.y;");
            Line("    const float k = (float)scale[0];");
            Line(
                "    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < LD_C * S; i += (long long)gridDim.x * blockDim.x)"
            );
            Line("        grad[n * LD_C * S + i] = ld_store(ld_load(grad[n * LD_C * S + i]) * k);");
            Line("    (void)N;");
            Line("}");
        }

        // ------------------------------------------------------------ text

        private void Begin(string name, CudaGrid grid, string parameters)
        {
            _kernels.Add(new CudaLaunch(name, grid));
            Line();
            var bounds = grid == CudaGrid.Single ? "" : $"__launch_bounds__({BlockSize}) ";
            Line($"extern \"C\" __global__ void {bounds}{name}({parameters})");
            Line("{");
            if (grid == CudaGrid.Single)
                Line("    if (blockIdx.x != 0 || threadIdx.x != 0) return;");
        }

        private void Line(string text = "")
        {
            if (text.Contains('\n'))
                foreach (var l in text.Split('\n'))
                    _out.Append(l.TrimEnd('\r')).Append('\n');
            else
                _out.Append(text).Append('\n');
        }

        private string Literal(double v) => _r == "double" ? DoubleLiteral(v) : FloatLiteral(v);

        private static string DoubleLiteral(double v)
        {
            if (double.IsNaN(v))
                return "(0.0 / 0.0)";
            if (double.IsPositiveInfinity(v))
                return "(1.0 / 0.0)";
            if (double.IsNegativeInfinity(v))
                return "(-1.0 / 0.0)";
            var s = v.ToString("R", CultureInfo.InvariantCulture).Replace("E-0", "e-").Replace("E+0", "e+").Replace('E', 'e');
            if (!s.Contains('.') && !s.Contains('e'))
                s += ".0";
            return v < 0 ? $"({s})" : s;
        }

        private static string FloatLiteral(double v)
        {
            var f = (float)v;
            if (float.IsNaN(f))
                return "(0.0f / 0.0f)";
            if (float.IsPositiveInfinity(f))
                return "(1.0f / 0.0f)";
            if (float.IsNegativeInfinity(f))
                return "(-1.0f / 0.0f)";
            var s = f.ToString("R", CultureInfo.InvariantCulture).Replace("E-0", "e-").Replace("E+0", "e+").Replace('E', 'e');
            if (!s.Contains('.') && !s.Contains('e'))
                s += ".0";
            return v < 0 ? $"({s}f)" : s + "f";
        }

        // Helpers the statistics read, emitted once the kernels are known (region sums are named per node).
        private string Helpers()
        {
            var sb = new StringBuilder();
            sb.Append(MeanRule.WeightDenominatorHelperC).Append('\n');
            sb.Append(
                "__device__ __forceinline__ double ld_total(const double* v, long long n) { double s = 0.0; for (long long i = 0; i < n; ++i) s += v[i]; return s; }\n"
            );
            foreach (var (id, (samples, classes, entry)) in _regionSums.OrderBy(p => p.Key))
            {
                sb.Append($"__device__ __forceinline__ double ld_region_sum_{id}(const double* stats, long long N)\n{{\n");
                sb.Append("    const long long NC = N * LD_C;\n    double s = 0.0;\n");
                sb.Append($"    for (long long m = 0; m < {samples}; ++m)\n        for (int k = 0; k < {classes}; ++k) s += {entry};\n");
                sb.Append("    return s;\n}\n");
            }
            return sb.ToString();
        }
    }
}
