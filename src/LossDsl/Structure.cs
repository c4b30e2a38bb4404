using System;
using System.Collections.Generic;
using System.Collections.Immutable;

namespace LossDsl;

/// <summary>The only generic traversals of <see cref="Expr"/>: children, rebuild, bottom-up map, fold.</summary>
internal static class Structure
{
    /// <summary>The direct sub-expressions of a node, left to right (computed once per node).</summary>
    public static ImmutableArray<Expr> Children(Expr e)
    {
        var cached = e.CachedChildren;
        if (!cached.IsDefault)
            return cached;
        var children = ChildrenOf(e);
        e.CachedChildren = children;
        return children;
    }

    private static ImmutableArray<Expr> ChildrenOf(Expr e) =>
        e switch
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
    public static Expr WithChildren(Expr e, IReadOnlyList<Expr> c) =>
        e switch
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
    /// Shared sub-expressions are visited once (memoised by structural equality). Iterative: the depth
    /// of the expression does not matter.
    /// </summary>
    public static Expr MapBottomUp(Expr e, Func<Expr, Expr> f) => MapBottomUp(e, f, new Dictionary<Expr, Expr>());

    /// <summary>
    /// <see cref="MapBottomUp(Expr, Func{Expr, Expr})"/> with a memo the caller keeps: nodes already in
    /// <paramref name="memo"/> are not visited again, so a pure <paramref name="f"/> applied to many
    /// overlapping expressions costs as much as one pass over their union.
    /// </summary>
    public static Expr MapBottomUp(Expr e, Func<Expr, Expr> f, Dictionary<Expr, Expr> memo)
    {
        if (memo.TryGetValue(e, out var known))
            return known;
        var stack = new Stack<(Expr Node, bool ChildrenDone)>();
        stack.Push((e, false));
        while (stack.Count > 0)
        {
            var (x, childrenDone) = stack.Pop();
            if (memo.ContainsKey(x))
                continue;
            var kids = Children(x);
            if (!childrenDone && kids.Length > 0)
            {
                stack.Push((x, true));
                for (var i = kids.Length - 1; i >= 0; i--)
                    if (!memo.ContainsKey(kids[i]))
                        stack.Push((kids[i], false));
                continue;
            }
            Expr rebuilt = x;
            if (kids.Length > 0)
            {
                var mapped = new Expr[kids.Length];
                var changed = false;
                for (var i = 0; i < kids.Length; i++)
                {
                    mapped[i] = memo[kids[i]];
                    changed |= !ReferenceEquals(mapped[i], kids[i]);
                }
                if (changed)
                    rebuilt = WithChildren(x, mapped);
            }
            memo[x] = f(rebuilt);
        }
        return memo[e];
    }

    /// <summary>Folds over every distinct node, children before parents.</summary>
    public static TAcc Fold<TAcc>(Expr e, TAcc seed, Func<TAcc, Expr, TAcc> f)
    {
        var acc = seed;
        foreach (var node in PostOrder(e))
            acc = f(acc, node);
        return acc;
    }

    /// <summary>Distinct nodes (by structural equality), children before parents. Iterative.</summary>
    public static ImmutableArray<Expr> PostOrder(Expr e)
    {
        var seen = new HashSet<Expr>();
        var order = ImmutableArray.CreateBuilder<Expr>();
        var stack = new Stack<(Expr Node, bool ChildrenDone)>();
        stack.Push((e, false));
        while (stack.Count > 0)
        {
            var (x, childrenDone) = stack.Pop();
            if (childrenDone)
            {
                order.Add(x);
                continue;
            }
            if (!seen.Add(x))
                continue;
            stack.Push((x, true));
            var kids = Children(x);
            for (var i = kids.Length - 1; i >= 0; i--)
                if (!seen.Contains(kids[i]))
                    stack.Push((kids[i], false));
        }
        return order.ToImmutable();
    }

    /// <summary>True when any node satisfies the predicate.</summary>
    public static bool Any(Expr e, Func<Expr, bool> predicate)
    {
        foreach (var n in PostOrder(e))
            if (predicate(n))
                return true;
        return false;
    }
}
