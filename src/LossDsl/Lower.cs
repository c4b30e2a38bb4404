using System;
using System.Collections.Generic;

namespace LossDsl;

/// <summary>
/// Makes the implicit semantics explicit for the emitter: masks, counts and the target's form.
/// After lowering there is no <see cref="Reduce"/> or <see cref="OneHot"/>: a sum is
/// <c>PlainSum(Masked(x), axes)</c> (masking only where x is per-pixel and the sum crosses pixels), a
/// mean divides by <see cref="Count"/> of the same axes, and axes x does not have are dropped.
/// The result evaluates exactly like the input under <c>Interpreter</c> semantics.
/// </summary>
internal static class Lower
{
    /// <summary>Lowers a (simplified) spec body.</summary>
    public static Expr Apply(Expr body) => new Session().Apply(body);

    /// <summary>
    /// Lowering with memos kept across calls (both passes are pure functions of a node's structure), so
    /// a body and its locals cost one visit of each distinct node.
    /// </summary>
    internal sealed class Session
    {
        private readonly Dictionary<Expr, Expr> _hoisted = new();
        private readonly Dictionary<Expr, Expr> _lowered = new();
        private readonly Func<Expr, Expr> _hoist;

        public Session()
        {
            // A reduction's meaning depends on its operand's axes. When a construction-time choice picks
            // operands with different axes, push the reduction into each branch so each is lowered with
            // its own axes: Sum(c ? a : b) = c ? Sum(a) : Sum(b).
            _hoist = e =>
                e switch
                {
                    Reduce { Arg: Cond k } r when Axes.Of(k.Then) != Axes.Of(k.Else) => new Cond(
                        k.Test,
                        HoistConds(r with { Arg = k.Then }),
                        HoistConds(r with { Arg = k.Else })
                    ),
                    _ => e,
                };
        }

        /// <summary>Lowers a (simplified) spec body.</summary>
        public Expr Apply(Expr body) => Structure.MapBottomUp(HoistConds(body), Step, _lowered);

        private Expr HoistConds(Expr body)
        {
            StackGuard.Ensure();
            return Structure.MapBottomUp(body, _hoist, _hoisted);
        }
    }

    private static Expr Step(Expr e) =>
        e switch
        {
            OneHot => new Input(InputKind.Target),
            Reduce r => LowerReduce(r),
            _ => e,
        };

    private static Expr LowerReduce(Reduce r)
    {
        var axes = Axes.Of(r.Arg);
        var over = r.Over & axes;
        if (over == Over.None)
            return r.Arg;
        var pixelwise = Axes.IsPixelwise(axes);
        var crossesPixels = (over & (Over.Batch | Over.Spatial)) != 0;
        var sum = new PlainSum(pixelwise && crossesPixels ? new Masked(r.Arg) : r.Arg, over);
        return r.Op == ReduceOp.Sum ? sum : new Binary(BinaryOp.Div, sum, new Count(over, pixelwise));
    }
}
