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
        return (Sum(final), null);
    }

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
                return i == 1 ? new Cond(k.Test, g, new Const(0)) : new Cond(k.Test, new Const(0), g);
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
