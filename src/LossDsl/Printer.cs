using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace LossDsl;

/// <summary>Prints an expression in infix form (the form docs, diagnostics and generated remarks use).</summary>
internal static class Printer
{
    /// <summary>The expression as readable infix text, e.g. <c>1 - (tp + smooth) / (tp + smooth)</c>.</summary>
    public static string Print(Expr e) => Print(e, int.MaxValue);

    /// <summary>
    /// The expression as infix text of at most <paramref name="maxLength"/> characters: longer text is
    /// cut and ends in "...". A shared sub-expression is printed where it is used, so the full text of
    /// a DAG can be exponentially longer than the DAG; with a limit printing takes time proportional to
    /// the limit (and the depth), never to the full text.
    /// </summary>
    public static string Print(Expr e, int maxLength) => Print(e, maxLength, null, specTerms: false);

    /// <summary>
    /// A compiled expression in the terms of its spec, for remarks a user reads: sub-expressions the spec
    /// named are printed by their names (<c>tp</c>, <c>fp</c>), <c>PlainSum(Masked(x), axes)</c> as the spec's
    /// <c>Sum(x, axes)</c> (a sum is over valid pixels in the spec already) and a bare <c>Masked(x)</c> as
    /// <c>x</c> (the module zeroes invalid pixels).
    /// </summary>
    public static string InSpecTerms(Expr e, IReadOnlyDictionary<Expr, string> names, int maxLength) =>
        Print(e, maxLength, names, specTerms: true);

    private static string Print(Expr e, int maxLength, IReadOnlyDictionary<Expr, string>? names, bool specTerms)
    {
        if (maxLength < 4)
            maxLength = 4;
        var sb = new StringBuilder();
        new Writer(sb, maxLength, names, specTerms).Write(e, 0);
        return sb.Length <= maxLength ? sb.ToString() : sb.ToString(0, maxLength - 3) + "...";
    }

    // Precedences: 1 ||, 2 &&, 3 comparisons, 4 + -, 5 * /, 6 unary minus, 7 ^, 8 atoms and calls.
    private static int Precedence(Expr e) =>
        e switch
        {
            Const c => c.Value < 0 ? 6 : 8,
            Unary { Op: UnaryOp.Neg or UnaryOp.Not } => 6,
            Binary b => Infix(b.Op).Prec,
            Cond => 0,
            _ => 8,
        };

    /// <summary>The C# operator of a comparison or logical operation (the infix form printed and emitted).</summary>
    internal static string Symbol(BinaryOp op) => Infix(op).Symbol;

    // Arithmetic from the operator table (a call prints at precedence 8), comparisons and logic here.
    private static (string Symbol, int Prec, bool Associative) Infix(BinaryOp op) =>
        Operators.Of(op) is { } arithmetic
            ? (arithmetic.Infix ?? arithmetic.Name, arithmetic.Precedence, arithmetic.Associative)
            : op switch
            {
                BinaryOp.Eq => ("==", 3, false),
                BinaryOp.Ne => ("!=", 3, false),
                BinaryOp.Lt => ("<", 3, false),
                BinaryOp.Le => ("<=", 3, false),
                BinaryOp.Gt => (">", 3, false),
                BinaryOp.Ge => (">=", 3, false),
                BinaryOp.And => ("&&", 2, true),
                _ => ("||", 1, true),
            };

    private sealed class Writer(StringBuilder sb, int limit, IReadOnlyDictionary<Expr, string>? names = null, bool specTerms = false)
    {
        private bool Full => sb.Length > limit;

        public void Write(Expr e, int outer)
        {
            if (Full)
                return;
            StackGuard.Ensure();
            if (names is not null && names.TryGetValue(e, out var name))
            {
                sb.Append(name);
                return;
            }
            if (specTerms)
            {
                switch (e)
                {
                    case Masked m:
                        Write(m.Arg, outer);
                        return;
                    case PlainSum p:
                        sb.Append("Sum(");
                        Write(p.Arg is Masked inner ? inner.Arg : p.Arg, 0);
                        sb.Append(", ").Append(OverText(p.Over)).Append(')');
                        return;
                }
            }
            var prec = Precedence(e);
            var parenthesize = prec < outer;
            if (parenthesize)
                sb.Append('(');
            switch (e)
            {
                case Const c:
                    sb.Append(Number(c.Value));
                    break;
                case Input { IsMap: true } map:
                    sb.Append(map.Name);
                    break;
                case Input i:
                    sb.Append(
                        i.Kind switch
                        {
                            InputKind.Prediction => "prediction",
                            InputKind.Target => "target",
                            InputKind.ClassIndex => "classIndex",
                            InputKind.PositiveWeights => "posWeights",
                            _ => "classWeights",
                        }
                    );
                    break;
                case Param p:
                    sb.Append(p.Name);
                    break;
                case EnumValue v:
                    sb.Append(v.TypeName.Substring(v.TypeName.LastIndexOf('.') + 1)).Append('.').Append(v.Member);
                    break;
                case Count c:
                    sb.Append(c.Over == Over.Classes ? "C" : $"Count({OverText(c.Over)})");
                    break;
                case OneHot o:
                    Call("OneHot", o.Target);
                    break;
                case Unary { Op: UnaryOp.Neg } u:
                    sb.Append('-');
                    Write(u.Arg, 7);
                    break;
                case Unary { Op: UnaryOp.Not } u:
                    sb.Append('!');
                    Write(u.Arg, 7);
                    break;
                case Seed s:
                    sb.Append(s.Index == 0 ? "dLoss" : "dWeight");
                    break;
                case Unary u:
                    Call(u.Op.ToString(), u.Arg);
                    break;
                case Binary b when Operators.Of(b.Op) is { Infix: null } call:
                    Call(call.Name, b.Left, b.Right);
                    break;
                case Binary { Op: BinaryOp.Pow } b:
                    // Right-associative and binding tighter than unary minus: both operands as atoms.
                    Write(b.Left, 8);
                    sb.Append(Infix(b.Op).Symbol);
                    Write(b.Right, 8);
                    break;
                case Binary b:
                {
                    // Left-associative: the right operand needs parentheses at equal precedence unless the
                    // operator is associative (a - (b - c) keeps them; a + (b + c) does not need them).
                    var (symbol, p, associative) = Infix(b.Op);
                    Write(b.Left, p);
                    sb.Append(' ').Append(symbol).Append(' ');
                    Write(b.Right, associative ? p : p + 1);
                    break;
                }
                case Reduce r:
                    sb.Append(r.Op).Append('(');
                    Write(r.Arg, 0);
                    sb.Append(", ").Append(OverText(r.Over)).Append(')');
                    break;
                case Cond k:
                    Write(k.Test, 1);
                    sb.Append(" ? ");
                    Write(k.Then, 1);
                    sb.Append(" : ");
                    Write(k.Else, 1);
                    break;
                case WeightedMean w:
                    Call("WeightedMean", w.Value, w.Weight);
                    break;
                case SelectTarget s:
                    Call("SelectTarget", s.Arg);
                    break;
                case Masked m:
                    Call("Masked", m.Arg);
                    break;
                case PlainSum p:
                    sb.Append("PlainSum(");
                    Write(p.Arg, 0);
                    sb.Append(", ").Append(OverText(p.Over)).Append(')');
                    break;
                default:
                    sb.Append(e.GetType().Name);
                    break;
            }
            if (parenthesize)
                sb.Append(')');
        }

        private void Call(string name, params Expr[] args)
        {
            sb.Append(name).Append('(');
            for (var i = 0; i < args.Length; i++)
            {
                if (i > 0)
                    sb.Append(", ");
                Write(args[i], 0);
            }
            sb.Append(')');
        }
    }

    /// <summary>An <see cref="Over"/> value as C# source text, e.g. <c>Over.Batch | Over.Spatial</c>.</summary>
    public static string OverText(Over over) =>
        over switch
        {
            Over.None => "Over.None",
            Over.Batch => "Over.Batch",
            Over.Classes => "Over.Classes",
            Over.Spatial => "Over.Spatial",
            Over.Sample => "Over.Sample",
            Over.All => "Over.All",
            Over.Batch | Over.Spatial => "Over.Batch | Over.Spatial",
            Over.Batch | Over.Classes => "Over.Batch | Over.Classes",
            _ => "(Over)" + ((int)over).ToString(CultureInfo.InvariantCulture),
        };

    /// <summary>
    /// A double as the shortest round-tripping text, written as people write it: <c>1e-5</c>, <c>2.5e20</c>,
    /// <c>0.75</c> (not .NET's <c>1E-05</c>); valid as a C# literal too.
    /// </summary>
    public static string Number(double v)
    {
        var s = v.ToString("R", CultureInfo.InvariantCulture);
        var e = s.IndexOf('E');
        if (e < 0)
            return s;
        var exponent = int.Parse(s.Substring(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return s.Substring(0, e) + "e" + exponent.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A double as a C# <c>double</c> literal: <see cref="Number"/> with <c>.0</c> where it would read as an
    /// integer, and the named constants for NaN and the infinities.
    /// </summary>
    public static string DoubleLiteral(double v)
    {
        if (double.IsNaN(v))
            return "double.NaN";
        if (double.IsPositiveInfinity(v))
            return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(v))
            return "double.NegativeInfinity";
        var s = Number(v);
        return s.IndexOfAny(new[] { '.', 'e' }) >= 0 ? s : s + ".0";
    }
}
