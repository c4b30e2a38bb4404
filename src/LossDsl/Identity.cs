using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;

namespace LossDsl;

/// <summary>
/// Structural hashing and equality of <see cref="Expr"/> DAGs. Hashes are cached in the nodes and
/// computed from the children's cached hashes; equality compares each pair of shared sub-expressions
/// once. Both walk the DAG with an explicit stack, so neither depends on its depth nor on how often
/// its values are shared.
/// </summary>
internal static class ExprIdentity
{
    /// <summary>The structural hash of <paramref name="root"/> (never 0 once computed).</summary>
    public static int Hash(Expr root)
    {
        var cached = root.CachedHash;
        if (cached != 0)
            return cached;
        var stack = new Stack<(Expr Node, bool ChildrenDone)>();
        stack.Push((root, false));
        while (stack.Count > 0)
        {
            var (node, childrenDone) = stack.Pop();
            if (node.CachedHash != 0)
                continue;
            var count = ChildCount(node);
            if (!childrenDone && count > 0)
            {
                stack.Push((node, true));
                for (var i = 0; i < count; i++)
                {
                    var child = Child(node, i);
                    if (child.CachedHash == 0)
                        stack.Push((child, false));
                }
                continue;
            }
            var h = Shallow(node);
            for (var i = 0; i < count; i++)
                h = Mix(h, Child(node, i).CachedHash);
            node.CachedHash = h == 0 ? 1 : h;
        }
        return root.CachedHash;
    }

    /// <summary>True when <paramref name="a"/> and <paramref name="b"/> have the same structure.</summary>
    public static bool Equal(Expr a, Expr? b)
    {
        if (ReferenceEquals(a, b))
            return true;
        if (b is null || !SameNode(a, b))
            return false;
        var count = ChildCount(a);
        if (count == 0)
            return true;

        // Most comparisons end here: the children are the same objects, or differ at the top.
        var same = true;
        for (var i = 0; i < count; i++)
        {
            var (x, y) = (Child(a, i), Child(b, i));
            if (ReferenceEquals(x, y))
                continue;
            if (!SameNode(x, y))
                return false;
            same = false;
        }
        if (same)
            return true;

        // Distinct objects of equal shape: compare every pair of sub-expressions once.
        var seen = new HashSet<Pair>();
        var stack = new Stack<Pair>();
        for (var i = 0; i < count; i++)
            stack.Push(new Pair(Child(a, i), Child(b, i)));
        while (stack.Count > 0)
        {
            var pair = stack.Pop();
            if (ReferenceEquals(pair.X, pair.Y) || !seen.Add(pair))
                continue;
            if (!SameNode(pair.X, pair.Y))
                return false;
            if (!IsKnown(pair.X))
            {
                // A node type this core does not know (tests declare some): its own equality decides.
                if (!pair.X.Equals(pair.Y))
                    return false;
                continue;
            }
            var n = ChildCount(pair.X);
            for (var i = 0; i < n; i++)
                stack.Push(new Pair(Child(pair.X, i), Child(pair.Y, i)));
        }
        return true;
    }

    // Same node type, hash and non-child fields.
    private static bool SameNode(Expr a, Expr b) => a.GetType() == b.GetType() && Hash(a) == Hash(b) && ShallowEquals(a, b);

    private static bool IsKnown(Expr e) =>
        e
            is Input
                or Const
                or Param
                or EnumValue
                or Count
                or Seed
                or Unary
                or Binary
                or Reduce
                or OneHot
                or Cond
                or WeightedMean
                or SelectTarget
                or Masked
                or PlainSum;

    /// <summary>The number of children of a node of a known kind (0 for unknown kinds).</summary>
    public static int ChildCount(Expr e) =>
        e switch
        {
            Binary or WeightedMean => 2,
            Cond => 3,
            Unary or Reduce or OneHot or SelectTarget or Masked or PlainSum => 1,
            _ => 0,
        };

    /// <summary>Child <paramref name="i"/> of a node, in the order of <see cref="Structure.Children"/>.</summary>
    public static Expr Child(Expr e, int i) =>
        e switch
        {
            Unary u => u.Arg,
            Binary b => i == 0 ? b.Left : b.Right,
            Reduce r => r.Arg,
            OneHot o => o.Target,
            Cond c => i == 0 ? c.Test
            : i == 1 ? c.Then
            : c.Else,
            WeightedMean w => i == 0 ? w.Value : w.Weight,
            SelectTarget s => s.Arg,
            Masked m => m.Arg,
            PlainSum p => p.Arg,
            _ => throw new ArgumentOutOfRangeException(nameof(i)),
        };

    // The hash of a node's own fields (not its children).
    private static int Shallow(Expr e) =>
        e switch
        {
            Input i => i.Name is null ? Mix(1, (int)i.Kind) : Mix(Mix(1, (int)i.Kind), StringHash(i.Name)),
            Const c => Mix(2, Number(c.Value)),
            Param p => Mix(Mix(3, StringHash(p.Name)), (int)p.Kind),
            EnumValue v => Mix(Mix(Mix(4, StringHash(v.TypeName)), StringHash(v.Member)), v.Value.GetHashCode()),
            Unary u => Mix(5, (int)u.Op),
            Binary b => Mix(6, (int)b.Op),
            Reduce r => Mix(Mix(7, (int)r.Op), (int)r.Over),
            OneHot => 8,
            Count c => Mix(Mix(9, (int)c.Over), c.Valid ? 1 : 0),
            WeightedMean => 10,
            Cond => 11,
            SelectTarget => 12,
            Masked => 13,
            PlainSum p => Mix(14, (int)p.Over),
            Seed s => Mix(Mix(15, s.Index), (int)s.Axes),
            _ => e.GetType().GetHashCode(),
        };

    private static bool ShallowEquals(Expr a, Expr b) =>
        (a, b) switch
        {
            (Input x, Input y) => x.Kind == y.Kind && x.Name == y.Name,
            (Const x, Const y) => x.Value.Equals(y.Value),
            (Param x, Param y) => x.Name == y.Name && x.Kind == y.Kind,
            (EnumValue x, EnumValue y) => x.TypeName == y.TypeName && x.Member == y.Member && x.Value == y.Value,
            (Unary x, Unary y) => x.Op == y.Op,
            (Binary x, Binary y) => x.Op == y.Op,
            (Reduce x, Reduce y) => x.Op == y.Op && x.Over == y.Over,
            (Count x, Count y) => x.Over == y.Over && x.Valid == y.Valid,
            (PlainSum x, PlainSum y) => x.Over == y.Over,
            (Seed x, Seed y) => x.Index == y.Index && x.Axes == y.Axes,
            _ => true,
        };

    // double.Equals treats NaN as equal to NaN and -0 as equal to 0: hash them alike.
    private static int Number(double v) =>
        double.IsNaN(v) ? 0x7ff80000
        : v == 0 ? 0
        : v.GetHashCode();

    private static int StringHash(string? s) => s is null ? 0 : StringComparer.Ordinal.GetHashCode(s);

    private static int Mix(int h, int v)
    {
        unchecked
        {
            var x = (uint)h * 0x9E3779B1u + (uint)v;
            x ^= x >> 15;
            x *= 0x85EBCA77u;
            x ^= x >> 13;
            return (int)x;
        }
    }

    // A pair of nodes compared by reference.
    private readonly struct Pair : IEquatable<Pair>
    {
        public Pair(Expr x, Expr y)
        {
            X = x;
            Y = y;
        }

        public Expr X { get; }

        public Expr Y { get; }

        public bool Equals(Pair other) => ReferenceEquals(X, other.X) && ReferenceEquals(Y, other.Y);

        public override bool Equals(object? obj) => obj is Pair p && Equals(p);

        public override int GetHashCode() => unchecked(RuntimeHelpers.GetHashCode(X) * 31 + RuntimeHelpers.GetHashCode(Y));
    }
}
