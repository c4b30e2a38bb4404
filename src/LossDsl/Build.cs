namespace LossDsl;

/// <summary>Expression constructors that fold the trivial cases (×0, ×1, −−x), shared by the derivative rules.</summary>
internal static class Build
{
    public static Expr Add(Expr a, Expr b) =>
        (a, b) switch
        {
            (Const { Value: 0 }, _) => b,
            (_, Const { Value: 0 }) => a,
            (Const x, Const y) => new Const(x.Value + y.Value),
            _ => new Binary(BinaryOp.Add, a, b),
        };

    public static Expr Sub(Expr a, Expr b) =>
        (a, b) switch
        {
            (_, Const { Value: 0 }) => a,
            (Const { Value: 0 }, _) => Neg(b),
            (Const x, Const y) => new Const(x.Value - y.Value),
            _ => new Binary(BinaryOp.Sub, a, b),
        };

    public static Expr Mul(Expr a, Expr b) =>
        (a, b) switch
        {
            (Const { Value: 0 }, _) or (_, Const { Value: 0 }) => new Const(0),
            (Const { Value: 1 }, _) => b,
            (_, Const { Value: 1 }) => a,
            (Const x, Const y) => new Const(x.Value * y.Value),
            _ => new Binary(BinaryOp.Mul, a, b),
        };

    public static Expr Div(Expr a, Expr b) =>
        (a, b) switch
        {
            (Const { Value: 0 }, _) => new Const(0),
            (_, Const { Value: 1 }) => a,
            _ => new Binary(BinaryOp.Div, a, b),
        };

    public static Expr Neg(Expr a) =>
        a switch
        {
            Const c => new Const(-c.Value),
            Unary { Op: UnaryOp.Neg } n => n.Arg,
            _ => new Unary(UnaryOp.Neg, a),
        };

    public static Expr Step(Expr a) => new Unary(UnaryOp.Step, a);

    public static Expr Pow(Expr a, Expr k) =>
        k switch
        {
            Const { Value: 0 } => new Const(1),
            Const { Value: 1 } => a,
            _ => new Binary(BinaryOp.Pow, a, k),
        };
}
