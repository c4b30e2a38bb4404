using System;
using System.Collections.Generic;

namespace LossDsl;

/// <summary>
/// The table of element-wise functions: adding one is an entry here, a <see cref="UnaryOp"/> member, a
/// <see cref="Dsl"/> method, its <c>Simd</c> vector function and its tensor function in the runtime's
/// interpreter (<c>Interpreter.Apply</c>): the table plus four places. Structural operations (negation, softmax over classes, the step of generated
/// gradients, logical not) are not in it: every phase treats them itself.
/// </summary>
internal static class Operators
{
    private const string Torch = "global::TorchSharp.torch.";

    private static readonly ElementFunction[] Table =
    {
        new(
            UnaryOp.Sigmoid,
            "Sigmoid",
            ScalarMath.Sigmoid,
            x => Interval.Monotone(x, ScalarMath.Sigmoid),
            (g, x, f) => Build.Mul(g, Build.Mul(f, new Unary(UnaryOp.Sigmoid, Build.Neg(x)))),
            Torch + "sigmoid({0})",
            "Sigmoid"
        ),
        new(
            UnaryOp.LogSigmoid,
            "LogSigmoid",
            ScalarMath.LogSigmoid,
            x => Interval.Monotone(x, ScalarMath.LogSigmoid),
            (g, x, f) => Build.Mul(g, new Unary(UnaryOp.Sigmoid, Build.Neg(x))),
            Torch + "nn.functional.logsigmoid({0})",
            "LogSigmoid"
        ),
        new(
            UnaryOp.Softplus,
            "Softplus",
            ScalarMath.Softplus,
            x => Interval.Monotone(x, ScalarMath.Softplus),
            (g, x, f) => Build.Mul(g, new Unary(UnaryOp.Sigmoid, x)),
            Torch + "nn.functional.softplus({0})",
            "Softplus"
        ),
        new(
            UnaryOp.Log,
            "Log",
            ScalarMath.Log,
            x => x.Hi < 0 ? Interval.Unknown : Interval.Monotone(Interval.AtLeast(x, 0), Math.Log),
            (g, x, f) => Build.Div(g, x),
            Torch + "log({0})",
            "Log"
        ),
        new(
            UnaryOp.Log1p,
            "Log1p",
            ScalarMath.Log1p,
            x => x.Hi < -1 ? Interval.Unknown : Interval.Monotone(Interval.AtLeast(x, -1), ScalarMath.Log1p),
            (g, x, f) => Build.Div(g, Build.Add(new Const(1), x)),
            Torch + "log1p({0})",
            "Log1p"
        ),
        new(
            UnaryOp.Exp,
            "Exp",
            ScalarMath.Exp,
            x => Interval.Monotone(x, Math.Exp),
            (g, x, f) => Build.Mul(g, f),
            Torch + "exp({0})",
            "Exp"
        ),
        new(
            UnaryOp.Sqrt,
            "Sqrt",
            ScalarMath.Sqrt,
            x => x.Hi < 0 ? Interval.Unknown : Interval.Monotone(Interval.AtLeast(x, 0), Math.Sqrt),
            (g, x, f) => Build.Div(Build.Mul(new Const(0.5), g), f),
            Torch + "sqrt({0})",
            "Sqrt"
        ),
        new(
            UnaryOp.Abs,
            "Abs",
            ScalarMath.Abs,
            Interval.AbsOf,
            (g, x, f) => Build.Mul(g, Build.Sub(Build.Step(x), Build.Step(Build.Neg(x)))),
            Torch + "abs({0})",
            "Abs"
        ),
        // d/dx log cosh x = tanh x = 2 sigmoid(2x) - 1.
        new(
            UnaryOp.LogCosh,
            "LogCosh",
            ScalarMath.LogCosh,
            x => Interval.Monotone(Interval.AbsOf(x), ScalarMath.LogCosh),
            (g, x, f) =>
                Build.Mul(g, Build.Sub(Build.Mul(new Const(2), new Unary(UnaryOp.Sigmoid, Build.Mul(new Const(2), x))), new Const(1))),
            "global::LossDsl.TensorMath.LogCosh({0})",
            "LogCosh"
        ),
        // d/dx tanh x = 1 - tanh² x.
        new(
            UnaryOp.Tanh,
            "Tanh",
            ScalarMath.Tanh,
            x => Interval.Monotone(x, Math.Tanh),
            (g, x, f) => Build.Mul(g, Build.Sub(new Const(1), Build.Mul(f, f))),
            Torch + "tanh({0})",
            "Tanh"
        ),
        // d/dx erf x = 2/√π e^(-x²).
        new(
            UnaryOp.Erf,
            "Erf",
            ScalarMath.Erf,
            x => Interval.Monotone(x, ScalarMath.Erf),
            (g, x, f) => Build.Mul(g, Build.Mul(new Const(2 / Math.Sqrt(Math.PI)), new Unary(UnaryOp.Exp, Build.Neg(Build.Mul(x, x))))),
            Torch + "erf({0})",
            "Erf"
        ),
    };

    private static readonly Dictionary<UnaryOp, ElementFunction> ByOp = Index(f => f.Op);
    private static readonly Dictionary<string, ElementFunction> ByName = Index(f => f.Name);

    private static Dictionary<TKey, ElementFunction> Index<TKey>(Func<ElementFunction, TKey> key)
        where TKey : notnull
    {
        var d = new Dictionary<TKey, ElementFunction>();
        foreach (var f in Table)
            d.Add(key(f), f);
        return d;
    }

    /// <summary>Every element-wise function, in table order.</summary>
    public static IReadOnlyList<ElementFunction> ElementFunctions => Table;

    /// <summary>The entry of an operation, or null for structural operations (Neg, Softmax, Step, Not …).</summary>
    public static ElementFunction? Of(UnaryOp op) => ByOp.TryGetValue(op, out var f) ? f : null;

    /// <summary>The entry with this DSL name, or null.</summary>
    public static ElementFunction? Named(string name) => ByName.TryGetValue(name, out var f) ? f : null;
}
