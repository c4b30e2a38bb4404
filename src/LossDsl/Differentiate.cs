using System.Collections.Generic;
using System.Linq;

namespace LossDsl;

/// <summary>
/// Reverse-mode symbolic differentiation of a compiled (simplified, lowered) spec with respect to its
/// prediction. The result is an expression over the inputs, the forward's own sub-expressions (shared,
/// so the emitter computes each once) and the result's adjoints (<see cref="Seed"/>): the analytic
/// backward pass, which needs no saved intermediates.
/// </summary>
internal static class Differentiate
{
    /// <summary>
    /// d loss / d prediction for a compiled body, or null with the name of the construct that has no
    /// symbolic derivative here (the backward pass then falls back to autograd).
    /// </summary>
    public static (Expr? Gradient, string? Unsupported) Gradient(Expr body)
    {
        var roots = body is WeightedMean wm
            ? new[] { (wm.Value, (Expr)new Seed(0, Axes.Of(wm.Value))), (wm.Weight, new Seed(1, Axes.Of(wm.Weight))) }
            : new[] { (body, (Expr)new Seed(0, Axes.Of(body))) };

        // Nodes in post-order (children first), shared sub-expressions once.
        var order = new List<Expr>();
        var seen = new HashSet<Expr>();
        foreach (var (root, _) in roots)
        foreach (var n in Structure.PostOrder(root))
            if (seen.Add(n))
                order.Add(n);
        var depends = new HashSet<Expr>();
        foreach (var n in order)
            if (n is Input { Kind: InputKind.Prediction } || Structure.Children(n).Any(depends.Contains))
                depends.Add(n);

        var adjoints = new Dictionary<Expr, List<Expr>>();
        foreach (var (root, seed) in roots)
            if (depends.Contains(root))
                Add(adjoints, root, seed);

        for (var i = order.Count - 1; i >= 0; i--)
        {
            var node = order[i];
            if (!depends.Contains(node) || !adjoints.TryGetValue(node, out var parts))
                continue;
            if (node is Input)
                continue;
            var g = Sum(parts);
            var children = Structure.Children(node);
            for (var c = 0; c < children.Length; c++)
            {
                var child = children[c];
                if (!depends.Contains(child))
                    continue;
                var local = Local(node, c, g, children);
                if (local is null)
                    return (null, Describe(node));
                // Broadcasting in the forward pass is a sum in the backward pass.
                var extra = Axes.Of(local) & ~Axes.Of(child);
                if (extra != Over.None)
                    local = new PlainSum(local, extra);
                Add(adjoints, child, local);
            }
        }
        var prediction = order.FirstOrDefault(n => n is Input { Kind: InputKind.Prediction });
        if (prediction is null || !adjoints.TryGetValue(prediction, out var final))
            return (null, "a result that does not depend on the prediction");
        return (LiftChoices(Sum(final)), null);
    }

    // A construction-time choice's adjoint is Cond(test, g, 0) for its first branch (and the mirror for the
    // second); the branch's own derivatives then multiply or divide that adjoint by quantities that may only be
    // finite when the branch is taken (x / h with h = 0 when it is not): 0 · ∞ is NaN even though the branch is
    // never chosen. Moving every product, quotient, negation, sum and mask of a choice inside the choice makes
    // the untaken branch's derivative code unreachable, as its forward code is.
    private static Expr LiftChoices(Expr gradient) => Structure.MapBottomUp(gradient, Lift);

    // g where the construction-time condition holds, 0 elsewhere: one choice with a zero branch, whose
    // condition is the conjunction of every enclosing choice's (nested choices do not nest their adjoints).
    private static Expr Guarded(Expr condition, Expr g) =>
        g switch
        {
            Const { Value: 0 } => g,
            Cond { Else: Const { Value: 0 } } k => new Cond(Conjoin(k.Test, condition), k.Then, k.Else),
            Cond { Then: Const { Value: 0 } } k => new Cond(Conjoin(Negate(k.Test), condition), k.Else, k.Then),
            _ => new Cond(condition, g, new Const(0)),
        };

    // guard ∧ condition. An if-chain on one option (if (k == 0) … if (k == 1) …) reaches branch i under
    // k != 0 ∧ … ∧ k != i-1 ∧ k == i: the equality implies the rest, so the guard stays k == i (short code).
    private static Expr Conjoin(Expr guard, Expr condition)
    {
        if (condition is not Binary { Op: BinaryOp.Eq, Right: Const or EnumValue } eq)
            return new Binary(BinaryOp.And, guard, condition);
        var kept = new List<Expr>();
        var stack = new Stack<Expr>();
        stack.Push(guard);
        while (stack.Count > 0)
        {
            var g = stack.Pop();
            if (g is Binary { Op: BinaryOp.And } and)
            {
                stack.Push(and.Right);
                stack.Push(and.Left);
            }
            else if (!(g is Binary { Op: BinaryOp.Ne or BinaryOp.Eq } other && other.Left.Equals(eq.Left) && Implied(eq, other)))
                kept.Add(g);
        }
        return Enumerable.Reverse(kept).Aggregate(condition, (acc, g) => new Binary(BinaryOp.And, g, acc));
    }

    // Whether x == a implies the comparison (x != b for b ≠ a, or x == a itself).
    private static bool Implied(Binary eq, Binary other) =>
        other.Right is Const or EnumValue && (other.Op == BinaryOp.Eq ? other.Right.Equals(eq.Right) : !other.Right.Equals(eq.Right));

    // The opposite condition, in the form the generated code reads best (a != b rather than !(a == b)).
    private static Expr Negate(Expr test) =>
        test switch
        {
            Unary { Op: UnaryOp.Not } u => u.Arg,
            Binary { Op: BinaryOp.Eq } b => b with { Op = BinaryOp.Ne },
            Binary { Op: BinaryOp.Ne } b => b with { Op = BinaryOp.Eq },
            _ => new Unary(UnaryOp.Not, test),
        };

    private static Expr Lift(Expr e) =>
        e switch
        {
            Binary { Op: BinaryOp.Mul, Left: Cond k } b when IsGuard(k) => Inside(k, Mul(k.Then, b.Right)),
            Binary { Op: BinaryOp.Mul, Right: Cond k } b when IsGuard(k) => Inside(k, Mul(b.Left, k.Then)),
            Binary { Op: BinaryOp.Div, Left: Cond k } b when IsGuard(k) => Inside(k, Div(k.Then, b.Right)),
            Binary { Op: BinaryOp.Add, Left: Cond l, Right: Cond r } when IsGuard(l) && IsGuard(r) && l.Test.Equals(r.Test) => Inside(
                l,
                Add(l.Then, r.Then)
            ),
            Unary { Op: UnaryOp.Neg, Arg: Cond k } when IsGuard(k) => Inside(k, Neg(k.Then)),
            PlainSum { Arg: Cond k } s when IsGuard(k) => Inside(k, new PlainSum(k.Then, s.Over)),
            Masked { Arg: Cond k } when IsGuard(k) => Inside(k, new Masked(k.Then)),
            _ => e,
        };

    // A choice of the form Guarded builds: the value where the condition holds, else 0.
    private static bool IsGuard(Cond k) => k.Else is Const { Value: 0 };

    // The guard around a new inner value (itself lifted once more: a product of two guarded values).
    private static Expr Inside(Cond k, Expr inner) => Guarded(k.Test, Lift(inner));

    private static void Add(Dictionary<Expr, List<Expr>> adjoints, Expr node, Expr part)
    {
        if (part is Const { Value: 0 })
            return;
        if (!adjoints.TryGetValue(node, out var list))
            adjoints[node] = list = new List<Expr>();
        list.Add(part);
    }

    private static string Describe(Expr node) =>
        node switch
        {
            Unary u => u.Op.ToString(),
            Binary b => b.Op.ToString(),
            _ => node.GetType().Name,
        };

    // The contribution of node's adjoint g to its child number i; null when there is no rule.
    private static Expr? Local(Expr node, int i, Expr g, IReadOnlyList<Expr> kids)
    {
        switch (node)
        {
            case Unary u when Operators.Of(u.Op) is { } function:
                return function.Derivative(g, u.Arg, node);
            case Unary u:
            {
                var x = u.Arg;
                return u.Op switch
                {
                    UnaryOp.Neg => Neg(g),
                    // y (g - Σ_c g y)
                    UnaryOp.Softmax => Mul(node, Sub(g, new PlainSum(Mul(g, node), Over.Classes))),
                    // g - softmax(x) Σ_c g
                    UnaryOp.LogSoftmax => Sub(g, Mul(new Unary(UnaryOp.Exp, node), new PlainSum(g, Over.Classes))),
                    UnaryOp.Step => new Const(0),
                    _ => null,
                };
            }
            case Binary b when Operators.Of(b.Op) is { } function:
                return i == 0 ? function.Left(g, b.Left, b.Right, node) : function.Right(g, b.Left, b.Right, node);
            case PlainSum:
                return g;
            case Masked:
                return new Masked(g);
            case SelectTarget:
                return Mul(g, new Input(InputKind.Target));
            case Cond k when i > 0:
                return Guarded(i == 1 ? k.Test : Negate(k.Test), g);
            default:
                return null;
        }
    }

    // Small smart constructors: enough folding to keep gradients readable.
    private static Expr Sum(List<Expr> parts) => parts.Skip(1).Aggregate(parts[0], Add);

    private static Expr Add(Expr a, Expr b) => Build.Add(a, b);

    private static Expr Sub(Expr a, Expr b) => Build.Sub(a, b);

    private static Expr Mul(Expr a, Expr b) => Build.Mul(a, b);

    private static Expr Div(Expr a, Expr b) => Build.Div(a, b);

    private static Expr Neg(Expr a) => Build.Neg(a);

    private static Expr Step(Expr a) => Build.Step(a);
}
