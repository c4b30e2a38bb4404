using System;
using System.Collections.Generic;

namespace LossDsl;

/// <summary>
/// Semantics-preserving rewrites of a spec body: constant folding, identities, numerically stable
/// forms and gathers instead of one-hot products. The result evaluates to the same values as the
/// input under the interpreter's semantics, up to floating-point rounding; where the input would give
/// an overflow or a 0·inf NaN the stable form may give the finite mathematical value instead.
/// </summary>
internal static class Simplifier
{
    // Every rewrite shrinks the tree or moves it towards a stable form, so a fixpoint is reached in a
    // few passes; the caps only guard against a rule pair that would undo each other.
    private const int MaxPasses = 32;
    private const int MaxLocalSteps = 16;

    /// <summary>
    /// Simplifies <paramref name="e"/> to a fixpoint. A bare <see cref="InputKind.Target"/> factor
    /// counts as <c>OneHot(target)</c> in class sums, which is exact for every task. Never throws:
    /// an expression it cannot handle comes back unchanged.
    /// </summary>
    public static Expr Simplify(Expr e) => Simplify(e, LossTask.Multiclass);

    /// <summary>
    /// Simplifies <paramref name="e"/> for a spec of the given task. For
    /// <see cref="LossTask.Binary"/> a bare target factor is left as a product (the binary target is
    /// always a float tensor with one class, so a gather gains nothing); <c>OneHot</c> factors are
    /// still rewritten.
    /// </summary>
    public static Expr Simplify(Expr e, LossTask task) => new Session(task).Simplify(e);

    /// <summary>
    /// Simplification for one task with a memo kept across calls: one rewrite pass is a pure function
    /// of a node's structure, so every node is rewritten once however many expressions (a spec body
    /// and each of its locals, or every logarithm the checker judges) share it.
    /// </summary>
    internal sealed class Session
    {
        private readonly bool _targetIsOneHot;
        private readonly Dictionary<Expr, Expr> _pass = new();
        private readonly Func<Expr, Expr> _step;

        public Session(LossTask task)
        {
            _targetIsOneHot = task == LossTask.Multiclass;
            _step = x => ToLocalFixpoint(x, _targetIsOneHot);
        }

        /// <summary>Simplifies <paramref name="e"/> to a fixpoint; an expression it cannot handle comes back unchanged.</summary>
        public Expr Simplify(Expr e)
        {
            if (e is null)
                return e!;
            try
            {
                var current = e;
                for (var i = 0; i < MaxPasses; i++)
                {
                    var next = Structure.MapBottomUp(current, _step, _pass);
                    if (next.Equals(current))
                        return next;
                    current = next;
                }
                return current;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !StackGuard.IsTooDeep(ex))
            {
                // An unknown node kind or a malformed tree: leave it for the checker to report.
                return e;
            }
        }
    }

    private static Expr ToLocalFixpoint(Expr e, bool targetIsOneHot)
    {
        for (var i = 0; i < MaxLocalSteps; i++)
        {
            var next = Step(e, targetIsOneHot);
            if (ReferenceEquals(next, e))
                return e;
            e = next;
        }
        return e;
    }

    // One rewrite at the root of e (children are already simplified), or e itself when none applies.
    private static Expr Step(Expr e, bool targetIsOneHot) =>
        e switch
        {
            Unary { Arg: Const c } u when FoldUnary(u.Op, c.Value) is { } v => new Const(v),
            Binary { Left: Const a, Right: Const b } x when FoldBinary(x.Op, a.Value, b.Value) is { } v => new Const(v),
            Binary { Left: EnumValue a, Right: EnumValue b } x
                when a.TypeName == b.TypeName && FoldBinary(x.Op, a.Value, b.Value) is { } v && IsComparison(x.Op) => new Const(v),

            // Identities: each removes a full pass over a tensor.
            Binary { Op: BinaryOp.Add, Right: Const { Value: 0 } } b => b.Left,
            Binary { Op: BinaryOp.Add, Left: Const { Value: 0 } } b => b.Right,
            Binary { Op: BinaryOp.Sub, Right: Const { Value: 0 } } b => b.Left,
            Binary { Op: BinaryOp.Sub, Left: Const { Value: 0 } } b => new Unary(UnaryOp.Neg, b.Right),
            Binary { Op: BinaryOp.Mul, Right: Const { Value: 1 } } b => b.Left,
            Binary { Op: BinaryOp.Mul, Left: Const { Value: 1 } } b => b.Right,
            Binary { Op: BinaryOp.Div, Right: Const { Value: 1 } } b => b.Left,
            Binary { Op: BinaryOp.Pow, Right: Const { Value: 1 } } b => b.Left,
            Unary { Op: UnaryOp.Neg, Arg: Unary { Op: UnaryOp.Neg } inner } => inner.Arg,

            // Stable forms. 1 - sigmoid(x) cancels catastrophically for large x; sigmoid(-x) does not.
            Binary { Op: BinaryOp.Sub, Left: Const { Value: 1 }, Right: Unary { Op: UnaryOp.Sigmoid } s } => new Unary(
                UnaryOp.Sigmoid,
                new Unary(UnaryOp.Neg, s.Arg)
            ),
            // log(sigmoid(x)) is -inf once sigmoid underflows (x < -745); logsigmoid is finite everywhere.
            // With the rule above this also turns log(1 - sigmoid(x)) into logsigmoid(-x).
            Unary { Op: UnaryOp.Log, Arg: Unary { Op: UnaryOp.Sigmoid } s } => new Unary(UnaryOp.LogSigmoid, s.Arg),
            // log(softmax(x)) is -inf for a class whose probability underflows; log-softmax is not.
            Unary { Op: UnaryOp.Log, Arg: Unary { Op: UnaryOp.Softmax } s } => new Unary(UnaryOp.LogSoftmax, s.Arg),
            // log(1 + e^x) overflows for x > 709 and loses the small values for x << 0; softplus does neither.
            Unary { Op: UnaryOp.Log, Arg: Binary { Op: BinaryOp.Add, Left: Const { Value: 1 }, Right: Unary { Op: UnaryOp.Exp } x } } =>
                new Unary(UnaryOp.Softplus, x.Arg),
            Unary { Op: UnaryOp.Log, Arg: Binary { Op: BinaryOp.Add, Left: Unary { Op: UnaryOp.Exp } x, Right: Const { Value: 1 } } } =>
                new Unary(UnaryOp.Softplus, x.Arg),
            Unary { Op: UnaryOp.Log1p, Arg: Unary { Op: UnaryOp.Exp } x } => new Unary(UnaryOp.Softplus, x.Arg),
            // log(e^x) overflows for x > 709; x is exact and costs nothing.
            Unary { Op: UnaryOp.Log, Arg: Unary { Op: UnaryOp.Exp } x } => x.Arg,
            // One pass instead of two, and no round trip through a log.
            Unary { Op: UnaryOp.Exp, Arg: Unary { Op: UnaryOp.LogSigmoid } x } => new Unary(UnaryOp.Sigmoid, x.Arg),
            Unary { Op: UnaryOp.Exp, Arg: Unary { Op: UnaryOp.LogSoftmax } x } => new Unary(UnaryOp.Softmax, x.Arg),

            // Conditions with a known part (a helper called with a literal flag: softLabel && !squaredPred with
            // softLabel = false) reduce to the rest, so generated code does not test `false && ...`.
            Binary { Op: BinaryOp.And, Left: Const c } b => c.Value != 0 ? b.Right : c,
            Binary { Op: BinaryOp.And, Right: Const c } b => c.Value != 0 ? b.Left : c,
            Binary { Op: BinaryOp.Or, Left: Const c } b => c.Value != 0 ? new Const(1) : b.Right,
            Binary { Op: BinaryOp.Or, Right: Const c } b => c.Value != 0 ? new Const(1) : b.Left,

            // Construction-time choices with a known outcome disappear (no code for the dead branch).
            Cond { Test: Const t } k => t.Value != 0 ? k.Then : k.Else,
            Cond k when k.Then.Equals(k.Else) => k.Then,

            // A reduction over axes its operand does not have is the operand itself (no pass at all).
            Reduce r when (r.Over & Axes.Of(r.Arg)) == Over.None => r.Arg,
            // Σ_c x·onehot(t) is a gather of x at the target class: no one-hot tensor, one pass less.
            Reduce r when SelectTargetForm(r, targetIsOneHot) is { } gathered => gathered,
            _ => e,
        };

    private static bool IsComparison(BinaryOp op) =>
        op is BinaryOp.Eq or BinaryOp.Ne or BinaryOp.Lt or BinaryOp.Le or BinaryOp.Gt or BinaryOp.Ge;

    // Reduce(Sum, a·OneHot(t), over ∋ Classes) = Reduce(Sum, SelectTarget(a), over \ Classes): the
    // mask only removes pixels, so summing the classes first changes nothing. A Mean divides the
    // same sum by the count the interpreter would use.
    private static Expr? SelectTargetForm(Reduce r, bool targetIsOneHot)
    {
        var axes = Axes.Of(r.Arg);
        var over = r.Over & axes;
        if ((over & Over.Classes) == 0)
            return null;

        var numerator = new List<Expr>();
        var denominator = new List<Expr>();
        var negative = Factors(r.Arg, numerator, denominator, false, new Picks(targetIsOneHot));
        var pick = numerator.FindIndex(f => f is OneHot);
        if (pick < 0 && targetIsOneHot)
            pick = numerator.FindIndex(f => f is Input { Kind: InputKind.Target });
        if (pick < 0 || numerator.Count + denominator.Count < 2)
            return null;

        Expr? rest = null;
        for (var i = 0; i < numerator.Count; i++)
            if (i != pick)
                rest = rest is null ? numerator[i] : new Binary(BinaryOp.Mul, rest, numerator[i]);
        rest ??= new Const(1);
        foreach (var d in denominator)
            rest = new Binary(BinaryOp.Div, rest, d);
        if (negative)
            rest = new Unary(UnaryOp.Neg, rest);

        var remaining = over & ~Over.Classes;
        Expr sum = remaining == Over.None ? new SelectTarget(rest) : new Reduce(ReduceOp.Sum, new SelectTarget(rest), remaining);
        return r.Op == ReduceOp.Sum ? sum : new Binary(BinaryOp.Div, sum, new Count(over, Axes.IsPixelwise(axes)));
    }

    // Splits a product/quotient tree into numerator and denominator factors; returns the sign. Only
    // products that contain a factor to gather at are split: a product without one stays one factor,
    // so a product shared many times over (x = y * y; z = x * x; ...) is not expanded into a tree.
    private static bool Factors(Expr e, List<Expr> numerator, List<Expr> denominator, bool negative, Picks picks)
    {
        StackGuard.Ensure();
        switch (e)
        {
            case Binary { Op: BinaryOp.Mul } m when picks.Contains(m):
                negative = Factors(m.Left, numerator, denominator, negative, picks);
                return Factors(m.Right, numerator, denominator, negative, picks);
            case Binary { Op: BinaryOp.Div } d when picks.Contains(d):
                negative = Factors(d.Left, numerator, denominator, negative, picks);
                denominator.Add(d.Right);
                return negative;
            case Unary { Op: UnaryOp.Neg } n:
                return Factors(n.Arg, numerator, denominator, !negative, picks);
            default:
                numerator.Add(e);
                return negative;
        }
    }

    // Which products have a one-hot (or, for multiclass specs, bare target) factor somewhere in their
    // numerator, through products, quotients and negations.
    private sealed class Picks(bool targetIsOneHot)
    {
        private readonly Dictionary<Expr, bool> _memo = new();

        public bool Contains(Expr e)
        {
            if (_memo.TryGetValue(e, out var known))
                return known;
            StackGuard.Ensure();
            var found = e switch
            {
                OneHot => true,
                Input { Kind: InputKind.Target } => targetIsOneHot,
                Binary { Op: BinaryOp.Mul } m => Contains(m.Left) || Contains(m.Right),
                Binary { Op: BinaryOp.Div } d => Contains(d.Left),
                Unary { Op: UnaryOp.Neg } n => Contains(n.Arg),
                _ => false,
            };
            _memo[e] = found;
            return found;
        }
    }

    // Folded values must be finite: a folded NaN or infinity has no C# literal for the emitter and
    // hides the mistake the checker should report.
    private static double? Finite(double v) => double.IsNaN(v) || double.IsInfinity(v) ? null : v;

    // The same formulas as the TorchSharp ops the interpreter calls (softplus included: PyTorch's
    // softplus returns x itself above its threshold of 20).
    private static double? FoldUnary(UnaryOp op, double v) =>
        Operators.Of(op) is { } function
            ? Finite(function.Scalar(v))
            : op switch
            {
                UnaryOp.Neg => Finite(-v),
                UnaryOp.Step => v > 0 ? 1.0 : 0.0,
                UnaryOp.Not => v == 0 ? 1 : 0,
                // Softmax and LogSoftmax need a class axis, which a constant does not have.
                _ => null,
            };

    private static double? FoldBinary(BinaryOp op, double a, double b) =>
        op switch
        {
            _ when Operators.Of(op) is { } function => Finite(function.Scalar(a, b)),
            BinaryOp.Eq => Truth(a == b),
            BinaryOp.Ne => Truth(a != b),
            BinaryOp.Lt => Truth(a < b),
            BinaryOp.Le => Truth(a <= b),
            BinaryOp.Gt => Truth(a > b),
            BinaryOp.Ge => Truth(a >= b),
            BinaryOp.And => Truth(a != 0 && b != 0),
            BinaryOp.Or => Truth(a != 0 || b != 0),
            _ => null,
        };

    private static double Truth(bool b) => b ? 1 : 0;

    internal static double Log1p(double x) => ScalarMath.Log1p(x);
}
