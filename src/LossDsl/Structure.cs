using System;
using System.Collections.Generic;
using System.Collections.Immutable;

namespace LossDsl;

/// <summary>The only generic traversals of <see cref="Expr"/>: children, rebuild, bottom-up map, fold.</summary>
public static class Structure
{
    /// <summary>The direct sub-expressions of a node, left to right.</summary>
    public static ImmutableArray<Expr> Children(Expr e) => e switch
    {
        Unary u => ImmutableArray.Create(u.Arg),
        Binary b => ImmutableArray.Create(b.Left, b.Right),
        Reduce r => ImmutableArray.Create(r.Arg),
        OneHot o => ImmutableArray.Create(o.Target),
        Cond c => ImmutableArray.Create(c.Test, c.Then, c.Else),
        WeightedMean w => ImmutableArray.Create(w.Value, w.Weight),
        SelectTarget s => ImmutableArray.Create(s.Arg),
        Masked m => ImmutableArray.Create(m.Arg),
        PlainSum p => ImmutableArray.Create(p.Arg),
        Input or Const or Param or EnumValue or Count or Seed => ImmutableArray<Expr>.Empty,
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "unknown expression node"),
    };

    /// <summary>The node with its children replaced (same arity and order as <see cref="Children"/>).</summary>
    public static Expr WithChildren(Expr e, IReadOnlyList<Expr> c) => e switch
    {
        Unary u => u with { Arg = c[0] },
        Binary b => b with { Left = c[0], Right = c[1] },
        Reduce r => r with { Arg = c[0] },
        OneHot o => o with { Target = c[0] },
        Cond k => k with { Test = c[0], Then = c[1], Else = c[2] },
        WeightedMean w => w with { Value = c[0], Weight = c[1] },
        SelectTarget s => s with { Arg = c[0] },
        Masked m => m with { Arg = c[0] },
        PlainSum p => p with { Arg = c[0] },
        _ => e,
    };

    /// <summary>
    /// Rebuilds bottom-up: children first, then <paramref name="f"/> on the node with new children.
    /// Shared sub-expressions are visited once (memoised by structural equality).
    /// </summary>
    public static Expr MapBottomUp(Expr e, Func<Expr, Expr> f)
    {
        var memo = new Dictionary<Expr, Expr>();
        return Go(e);

        Expr Go(Expr x)
        {
            if (memo.TryGetValue(x, out var done)) return done;
            var kids = Children(x);
            Expr rebuilt = x;
            if (kids.Length > 0)
            {
                var mapped = new Expr[kids.Length];
                var changed = false;
                for (var i = 0; i < kids.Length; i++)
                {
                    mapped[i] = Go(kids[i]);
                    changed |= !ReferenceEquals(mapped[i], kids[i]);
                }
                if (changed) rebuilt = WithChildren(x, mapped);
            }
            var result = f(rebuilt);
            memo[x] = result;
            return result;
        }
    }

    /// <summary>Folds over every distinct node, children before parents.</summary>
    public static TAcc Fold<TAcc>(Expr e, TAcc seed, Func<TAcc, Expr, TAcc> f)
    {
        var acc = seed;
        foreach (var node in PostOrder(e)) acc = f(acc, node);
        return acc;
    }

    /// <summary>Distinct nodes (by structural equality), children before parents.</summary>
    public static ImmutableArray<Expr> PostOrder(Expr e)
    {
        var seen = new HashSet<Expr>();
        var order = ImmutableArray.CreateBuilder<Expr>();
        Visit(e);
        return order.ToImmutable();

        void Visit(Expr x)
        {
            if (!seen.Add(x)) return;
            foreach (var k in Children(x)) Visit(k);
            order.Add(x);
        }
    }

    /// <summary>True when any node satisfies the predicate.</summary>
    public static bool Any(Expr e, Func<Expr, bool> predicate)
    {
        foreach (var n in PostOrder(e))
            if (predicate(n)) return true;
        return false;
    }
}
