using System.Globalization;

namespace LossDsl;

/// <summary>Prints an expression in infix form (the form docs, diagnostics and generated remarks use).</summary>
public static class Printer
{
    /// <summary>The expression as readable infix text, e.g. <c>1 - (tp + smooth) / (tp + smooth)</c>.</summary>
    public static string Print(Expr e) => Go(e, 0);

    // Precedences: 1 ||, 2 &&, 3 comparisons, 4 + -, 5 * /, 6 unary minus, 7 ^, 8 atoms and calls.
    private static string Go(Expr e, int outer)
    {
        var (text, prec) = e switch
        {
            Const c => (Number(c.Value), c.Value < 0 ? 6 : 8),
            Input i => (i.Kind switch
            {
                InputKind.Prediction => "prediction",
                InputKind.Target => "target",
                InputKind.ClassIndex => "classIndex",
                _ => "classWeights",
            }, 8),
            Param p => (p.Name, 8),
            EnumValue v => (v.TypeName.Substring(v.TypeName.LastIndexOf('.') + 1) + "." + v.Member, 8),
            Count c => (c.Over == Over.Classes ? "C" : $"Count({OverText(c.Over)})", 8),
            OneHot o => ($"OneHot({Go(o.Target, 0)})", 8),
            Unary { Op: UnaryOp.Neg } u => ("-" + Go(u.Arg, 7), 6),
            Unary { Op: UnaryOp.Not } u => ("!" + Go(u.Arg, 7), 6),
            Seed s => (s.Index == 0 ? "dLoss" : "dWeight", 8),
            Unary u => ($"{u.Op}({Go(u.Arg, 0)})", 8),
            Binary { Op: BinaryOp.Min or BinaryOp.Max } b => ($"{b.Op}({Go(b.Left, 0)}, {Go(b.Right, 0)})", 8),
            Binary { Op: BinaryOp.Pow } b => ($"{Go(b.Left, 8)}^{Go(b.Right, 8)}", 7),
            Binary b => Infix(b),
            Reduce r => ($"{r.Op}({Go(r.Arg, 0)}, {OverText(r.Over)})", 8),
            Cond k => ($"{Go(k.Test, 1)} ? {Go(k.Then, 1)} : {Go(k.Else, 1)}", 0),
            WeightedMean w => ($"WeightedMean({Go(w.Value, 0)}, {Go(w.Weight, 0)})", 8),
            SelectTarget s => ($"SelectTarget({Go(s.Arg, 0)})", 8),
            Masked m => ($"Masked({Go(m.Arg, 0)})", 8),
            PlainSum p => ($"PlainSum({Go(p.Arg, 0)}, {OverText(p.Over)})", 8),
            _ => (e.GetType().Name, 8),
        };
        return prec < outer ? "(" + text + ")" : text;
    }

    private static (string, int) Infix(Binary b)
    {
        var (sym, prec, rightAssocSafe) = b.Op switch
        {
            BinaryOp.Add => ("+", 4, true),
            BinaryOp.Sub => ("-", 4, false),
            BinaryOp.Mul => ("*", 5, true),
            BinaryOp.Div => ("/", 5, false),
            BinaryOp.Eq => ("==", 3, false),
            BinaryOp.Ne => ("!=", 3, false),
            BinaryOp.Lt => ("<", 3, false),
            BinaryOp.Le => ("<=", 3, false),
            BinaryOp.Gt => (">", 3, false),
            BinaryOp.Ge => (">=", 3, false),
            BinaryOp.And => ("&&", 2, true),
            _ => ("||", 1, true),
        };
        // Left-associative: the right operand needs parentheses at equal precedence unless the
        // operator is associative (a - (b - c) keeps them; a + (b + c) does not need them).
        var right = Go(b.Right, rightAssocSafe ? prec : prec + 1);
        return ($"{Go(b.Left, prec)} {sym} {right}", prec);
    }

    /// <summary>An <see cref="Over"/> value as C# source text, e.g. <c>Over.Batch | Over.Spatial</c>.</summary>
    public static string OverText(Over over) => over switch
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

    /// <summary>A double as the shortest round-tripping C#-style literal text.</summary>
    public static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
