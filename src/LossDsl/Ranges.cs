using System;
using System.Collections.Generic;
using System.Globalization;

namespace LossDsl;

/// <summary>
/// A conservative range of values: every element of the value lies in it. Infinite ends are always
/// open. A closed finite end can be reached (in floating point: a sigmoid of a very negative logit is
/// exactly 0), an open one only approached.
/// </summary>
/// <param name="Lo">Lower end (may be negative infinity).</param>
/// <param name="Hi">Upper end (may be positive infinity).</param>
/// <param name="LoOpen">True when <paramref name="Lo"/> itself is not a possible value.</param>
/// <param name="HiOpen">True when <paramref name="Hi"/> itself is not a possible value.</param>
internal sealed record Interval(double Lo, double Hi, bool LoOpen = false, bool HiOpen = false)
{
    /// <summary>Every real value: nothing is known.</summary>
    public static Interval Unknown { get; } = new(double.NegativeInfinity, double.PositiveInfinity, true, true);

    /// <summary>[0, +inf).</summary>
    public static Interval NonNegative { get; } = new(0, double.PositiveInfinity, false, true);

    /// <summary>(-inf, 0].</summary>
    public static Interval NonPositive { get; } = new(double.NegativeInfinity, 0, true, false);

    /// <summary>[0, 1].</summary>
    public static Interval UnitClosed { get; } = new(0, 1);

    /// <summary>The single value <paramref name="v"/> (NaN gives <see cref="Unknown"/>).</summary>
    public static Interval Point(double v) => double.IsNaN(v) ? Unknown : Make(v, v, false, false);

    // An increasing function maps ends to ends. An open finite end stays open; an infinite end is
    // a limit that floating point reaches by saturation (exp(-1000) == 0), so its image is closed.
    internal static Interval Monotone(Interval x, Func<double, double> f) =>
        Make(f(x.Lo), f(x.Hi), x.LoOpen && !double.IsInfinity(x.Lo), x.HiOpen && !double.IsInfinity(x.Hi));

    // The part of x at or above lo (the domain of log, sqrt): values below give NaN, not a number.
    internal static Interval AtLeast(Interval x, double lo) => x.Lo >= lo ? x : Make(lo, x.Hi, false, x.HiOpen);

    internal static Interval Negate(Interval x) => Make(-x.Hi, -x.Lo, x.HiOpen, x.LoOpen);

    internal static Interval AbsOf(Interval x)
    {
        if (x.Lo >= 0)
            return x;
        if (x.Hi <= 0)
            return Negate(x);
        var (hi, hiOpen) =
            -x.Lo > x.Hi ? (-x.Lo, x.LoOpen)
            : x.Hi > -x.Lo ? (x.Hi, x.HiOpen)
            : (x.Hi, x.LoOpen && x.HiOpen);
        return Make(0, hi, false, hiOpen);
    }

    /// <summary>An interval with infinite ends marked open and NaN ends widened to infinity.</summary>
    public static Interval Make(double lo, double hi, bool loOpen, bool hiOpen)
    {
        if (double.IsNaN(lo))
            (lo, loOpen) = (double.NegativeInfinity, true);
        if (double.IsNaN(hi))
            (hi, hiOpen) = (double.PositiveInfinity, true);
        if (lo > hi)
            return Unknown;
        return new Interval(lo, hi, loOpen || double.IsInfinity(lo), hiOpen || double.IsInfinity(hi));
    }

    /// <summary>True when <paramref name="v"/> is a possible value.</summary>
    public bool Contains(double v) => (Lo < v || (Lo == v && !LoOpen)) && (v < Hi || (v == Hi && !HiOpen));

    /// <summary>True when the value can be exactly 0.</summary>
    public bool CanBeZero => Contains(0);

    /// <summary>True when the interval is a single value.</summary>
    public bool IsPoint => Lo == Hi && !LoOpen && !HiOpen;

    /// <summary>Interval notation, e.g. <c>[0, inf)</c>.</summary>
    public override string ToString() => (LoOpen ? "(" : "[") + End(Lo) + ", " + End(Hi) + (HiOpen ? ")" : "]");

    private static string End(double v) =>
        double.IsPositiveInfinity(v) ? "inf"
        : double.IsNegativeInfinity(v) ? "-inf"
        : v == 0 ? "0" // -0 prints as 0
        : v.ToString("G6", CultureInfo.InvariantCulture).Replace("E", "e");
}

/// <summary>
/// Interval analysis of expressions: a conservative range for every value, used by the checker's
/// numerical lints (a log whose argument can reach 0, a denominator that is 0 on an empty mask).
/// Ranges are those floating point can produce, so saturating functions reach their limits.
/// </summary>
internal static class Ranges
{
    /// <summary>
    /// The range of <paramref name="e"/>. Hyperparameters take the value <paramref name="paramValue"/>
    /// gives for their name (their default), or are unknown when it gives null. Never throws.
    /// </summary>
    public static Interval Of(Expr e, Func<string, double?> paramValue) => new Analysis(paramValue).Of(e);

    /// <summary>
    /// Range analysis with one set of hyperparameter values, remembering every node's range, so that
    /// many queries over one spec (the checker asks for every log and every denominator) and shared
    /// sub-expressions cost one visit each.
    /// </summary>
    internal sealed class Analysis
    {
        private readonly Func<string, double?> _pv;
        private readonly Dictionary<Expr, Interval> _memo = new();

        public Analysis(Func<string, double?>? paramValue) => _pv = paramValue ?? (_ => null);

        /// <summary>The range of <paramref name="e"/>; never throws, except when nested too deeply.</summary>
        public Interval Of(Expr e)
        {
            try
            {
                return Go(e);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !StackGuard.IsTooDeep(ex))
            {
                return Interval.Unknown;
            }
        }

        private Interval Go(Expr e)
        {
            if (_memo.TryGetValue(e, out var known))
                return known;
            StackGuard.Ensure();
            var range = e switch
            {
                Input { Kind: InputKind.Prediction } => Interval.Unknown,
                Input { Kind: InputKind.Target } => Interval.UnitClosed,
                // A map holds any finite value (checked at the call when CheckValues is on).
                Input { IsMap: true } => Interval.Unknown,
                Input => Interval.NonNegative,
                OneHot => Interval.UnitClosed,
                Const c => Interval.Point(c.Value),
                Param p => _pv(p.Name) is { } v ? Interval.Point(v) : Interval.Unknown,
                EnumValue v => Interval.Point(v.Value),
                // The runtime clamps every count at 1, so a mean over no valid pixel is 0, not NaN.
                Count => Interval.Make(1, double.PositiveInfinity, false, true),
                Unary u => Unary(u.Op, Go(u.Arg)),
                Binary b => Binary(b.Op, Go(b.Left), Go(b.Right)),
                Reduce r => Reduce(r, Go(r.Arg)),
                // Σ_c x·t: a gather of x for class indices, but an all-zero soft target row gives 0.
                SelectTarget s => SumLike(Go(s.Arg), canBeEmpty: true),
                Masked m => Hull(Go(m.Arg), Interval.Point(0)),
                PlainSum p => SumLike(Go(p.Arg), canBeEmpty: true),
                Cond k => Cond(Go(k.Test), () => Go(k.Then), () => Go(k.Else)),
                WeightedMean w => Go(w.Value),
                _ => Interval.Unknown,
            };
            _memo[e] = range;
            return range;
        }
    }

    private static Interval Cond(Interval test, Func<Interval> then, Func<Interval> otherwise)
    {
        if (!test.CanBeZero)
            return then();
        if (test.IsPoint)
            return otherwise();
        return Hull(then(), otherwise());
    }

    private static Interval Reduce(Reduce r, Interval x)
    {
        var over = r.Over & Axes.Of(r.Arg);
        if (over == Over.None)
            return x;
        // A reduction across pixels sees no element at all when the mask (or ignore-index) removes
        // every pixel: the sum is then 0 and the mean 0 / 1 = 0.
        var canBeEmpty = (over & (Over.Batch | Over.Spatial)) != 0;
        if (r.Op == ReduceOp.Mean)
            return canBeEmpty ? Hull(x, Interval.Point(0)) : x;
        return SumLike(x, canBeEmpty);
    }

    // A sum of one or more (or, when it can be empty, zero or more) elements of x.
    private static Interval SumLike(Interval x, bool canBeEmpty)
    {
        if (x.Lo >= 0)
        {
            var hi = x.Hi > 0 ? double.PositiveInfinity : 0;
            return canBeEmpty ? Interval.Make(0, hi, false, true) : Interval.Make(x.Lo, hi, x.LoOpen, true);
        }
        if (x.Hi <= 0)
        {
            var lo = x.Lo < 0 ? double.NegativeInfinity : 0;
            return canBeEmpty ? Interval.Make(lo, 0, true, false) : Interval.Make(lo, x.Hi, true, x.HiOpen);
        }
        return Interval.Unknown;
    }

    /// <summary>The smallest interval holding both.</summary>
    public static Interval Hull(Interval a, Interval b)
    {
        var (lo, loOpen) =
            a.Lo < b.Lo ? (a.Lo, a.LoOpen)
            : b.Lo < a.Lo ? (b.Lo, b.LoOpen)
            : (a.Lo, a.LoOpen && b.LoOpen);
        var (hi, hiOpen) =
            a.Hi > b.Hi ? (a.Hi, a.HiOpen)
            : b.Hi > a.Hi ? (b.Hi, b.HiOpen)
            : (a.Hi, a.HiOpen && b.HiOpen);
        return Interval.Make(lo, hi, loOpen, hiOpen);
    }

    private static Interval Unary(UnaryOp op, Interval x) =>
        Operators.Of(op) is { } function
            ? function.Range(x)
            : op switch
            {
                UnaryOp.Neg => Negate(x),
                UnaryOp.Step => Interval.UnitClosed,
                // Probabilities over the class axis underflow to exactly 0 (and reach 1) in floating point.
                UnaryOp.Softmax => Interval.UnitClosed,
                UnaryOp.LogSoftmax => Interval.NonPositive,
                UnaryOp.Not => Interval.UnitClosed,
                _ => Interval.Unknown,
            };

    // log1p, which netstandard2.0 lacks: accurate enough for ranges.
    private static Interval Negate(Interval x) => Interval.Negate(x);

    private static Interval Abs(Interval x) => Interval.AbsOf(x);

    private static Interval Binary(BinaryOp op, Interval a, Interval b) =>
        // Comparisons and logic are construction-time conditions: 0 or 1.
        Operators.Of(op)
            is { } function
            ? function.Range(a, b)
            : Interval.UnitClosed;

    internal static Interval Add(Interval a, Interval b) =>
        Interval.Make(a.Lo + b.Lo, a.Hi + b.Hi, a.LoOpen || b.LoOpen, a.HiOpen || b.HiOpen);

    internal static Interval Min(Interval a, Interval b) =>
        Interval.Make(
            Math.Min(a.Lo, b.Lo),
            Math.Min(a.Hi, b.Hi),
            Pick(a.Lo, b.Lo, a.LoOpen, b.LoOpen, lower: true),
            Pick(a.Hi, b.Hi, a.HiOpen, b.HiOpen, lower: true)
        );

    internal static Interval Max(Interval a, Interval b) =>
        Interval.Make(
            Math.Max(a.Lo, b.Lo),
            Math.Max(a.Hi, b.Hi),
            Pick(a.Lo, b.Lo, a.LoOpen, b.LoOpen, lower: false),
            Pick(a.Hi, b.Hi, a.HiOpen, b.HiOpen, lower: false)
        );

    // Openness of min(x, y) (lower) or max(x, y): the chosen end's, both must be open on a tie.
    private static bool Pick(double x, double y, bool xOpen, bool yOpen, bool lower) =>
        x == y ? xOpen && yOpen
        : (x < y) == lower ? xOpen
        : yOpen;

    internal static Interval Mul(Interval a, Interval b)
    {
        // The extremes of a product lie at products of ends. 0 · inf counts as 0 here: a closed 0
        // times anything is 0, and an open 0 times a bounded-away value only approaches 0.
        var lo = double.PositiveInfinity;
        var hi = double.NegativeInfinity;
        bool loOpen = true,
            hiOpen = true;
        foreach (var (x, xo) in new[] { (a.Lo, a.LoOpen), (a.Hi, a.HiOpen) })
        foreach (var (y, yo) in new[] { (b.Lo, b.LoOpen), (b.Hi, b.HiOpen) })
        {
            var p = x == 0 || y == 0 ? 0 : x * y;
            var open = (x == 0 && !xo) || (y == 0 && !yo) ? false : xo || yo;
            if (p < lo)
                (lo, loOpen) = (p, open);
            else if (p == lo)
                loOpen &= open;
            if (p > hi)
                (hi, hiOpen) = (p, open);
            else if (p == hi)
                hiOpen &= open;
        }
        return Interval.Make(lo, hi, loOpen, hiOpen);
    }

    internal static Interval Div(Interval a, Interval b)
    {
        if (b.CanBeZero)
            // x / 0 is ±inf (or NaN): only the sign survives when both sides have one.
            return a.Lo >= 0 && b.Lo >= 0 ? Interval.NonNegative : Interval.Unknown;
        // b lies on one side of 0, where 1/b is decreasing: [1/hi, 1/lo]. An open 0 end maps to an
        // infinite end; an infinite end maps to an open 0.
        var negative = b.Hi <= 0;
        var inv = Interval.Make(
            Reciprocal(b.Hi, negative),
            Reciprocal(b.Lo, negative),
            b.HiOpen || double.IsInfinity(b.Hi),
            b.LoOpen || double.IsInfinity(b.Lo)
        );
        return Mul(a, inv);
    }

    private static double Reciprocal(double v, bool negative) =>
        v == 0 ? (negative ? double.NegativeInfinity : double.PositiveInfinity) : 1 / v;

    internal static Interval Pow(Interval x, Interval k)
    {
        if (!k.IsPoint)
        {
            // An unknown exponent: only the sign of a non-negative base survives.
            if (x.Lo > 0 || (x.Lo == 0 && x.LoOpen))
                return Interval.Make(0, double.PositiveInfinity, true, true);
            return x.Lo >= 0 ? Interval.NonNegative : Interval.Unknown;
        }
        var e = k.Lo;
        if (e == 0)
            return Interval.Point(1);
        var integer = Math.Floor(e) == e && !double.IsInfinity(e);
        if (x.Lo >= 0 || (integer && Math.Abs(e % 2) == 1))
        {
            // Monotone on the base's range: increasing for e > 0, decreasing for e < 0.
            return e > 0
                ? Interval.Monotone(x, v => Math.Pow(v, e))
                : Interval.Make(Math.Pow(x.Hi, e), Math.Pow(x.Lo, e), x.HiOpen && !double.IsInfinity(x.Hi), x.LoOpen);
        }
        if (integer)
        {
            // An even power: the range of |x| raised to it.
            var m = Abs(x);
            return e > 0
                ? Interval.Monotone(m, v => Math.Pow(v, e))
                : Interval.Make(Math.Pow(m.Hi, e), Math.Pow(m.Lo, e), m.HiOpen && !double.IsInfinity(m.Hi), m.LoOpen);
        }
        // A fractional power of a possibly negative base is NaN there.
        return Interval.Unknown;
    }
}
