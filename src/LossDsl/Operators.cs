using System;
using System.Collections.Generic;
using System.Linq;

namespace LossDsl;

/// <summary>
/// The operator table: the element-wise functions and the arithmetic operations (<see cref="BinaryFunction"/>).
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

    private static readonly BinaryFunction[] Arithmetic =
    {
        new(
            BinaryOp.Add,
            "+",
            "+",
            4,
            true,
            (a, b) => a + b,
            Ranges.Add,
            (g, a, b, f) => g,
            (g, a, b, f) => g,
            "global::LossDsl.TensorMath.Add({0}, {1})",
            "({0} + {1})",
            "Add",
            "{0} + {1}"
        ),
        new(
            BinaryOp.Sub,
            "-",
            "-",
            4,
            false,
            (a, b) => a - b,
            (a, b) => Ranges.Add(a, Interval.Negate(b)),
            (g, a, b, f) => g,
            (g, a, b, f) => Build.Neg(g),
            "{0} - {1}",
            "({0} - {1})",
            "Subtract",
            "{0} - {1}"
        ),
        new(
            BinaryOp.Mul,
            "*",
            "*",
            5,
            true,
            (a, b) => a * b,
            Ranges.Mul,
            (g, a, b, f) => Build.Mul(g, b),
            (g, a, b, f) => Build.Mul(g, a),
            "{0} * {1}",
            "({0} * {1})",
            "Multiply",
            "{0} * {1}"
        ),
        new(
            BinaryOp.Div,
            "/",
            "/",
            5,
            false,
            (a, b) => a / b,
            Ranges.Div,
            (g, a, b, f) => Build.Div(g, b),
            (g, a, b, f) => Build.Neg(Build.Div(Build.Mul(g, f), b)),
            "{0} / {1}",
            "({0} / {1})",
            "Divide",
            "{0} / {1}"
        ),
        // d/da a^b = b a^(b-1); d/db a^b = a^b log a, taken as 0 where a = 0 (as torch's pow backward does).
        new(
            BinaryOp.Pow,
            "Pow",
            "^",
            7,
            false,
            Math.Pow,
            Ranges.Pow,
            (g, a, b, f) => Build.Mul(g, Build.Mul(b, Build.Pow(a, Build.Sub(b, new Const(1))))),
            (g, a, b, f) => Build.Mul(g, Build.Mul(f, new Unary(UnaryOp.Log, Build.Add(a, Build.Sub(new Const(1), Build.Step(a)))))),
            "global::TorchSharp.torch.pow({0}, {1})",
            "global::System.Math.Pow({0}, {1})",
            "Pow",
            "ld_pow({0}, {1})"
        ),
        // Min and Max propagate NaN (as torch.minimum/maximum); ties send the gradient to the right operand.
        new(
            BinaryOp.Min,
            "Min",
            null,
            8,
            false,
            (a, b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b),
            Ranges.Min,
            (g, a, b, f) => Build.Mul(g, Build.Step(Build.Sub(b, a))),
            (g, a, b, f) => Build.Mul(g, Build.Sub(new Const(1), Build.Step(Build.Sub(b, a)))),
            "global::TorchSharp.torch.minimum({0}, {1})",
            "global::System.Math.Min({0}, {1})",
            "Min",
            "ld_min({0}, {1})"
        ),
        new(
            BinaryOp.Max,
            "Max",
            null,
            8,
            false,
            (a, b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b),
            Ranges.Max,
            (g, a, b, f) => Build.Mul(g, Build.Step(Build.Sub(a, b))),
            (g, a, b, f) => Build.Mul(g, Build.Sub(new Const(1), Build.Step(Build.Sub(a, b)))),
            "global::TorchSharp.torch.maximum({0}, {1})",
            "global::System.Math.Max({0}, {1})",
            "Max",
            "ld_max({0}, {1})"
        ),
    };

    private static readonly Dictionary<BinaryOp, BinaryFunction> ByBinaryOp = Arithmetic.ToDictionary(f => f.Op);

    /// <summary>Every arithmetic operation, in table order.</summary>
    public static IReadOnlyList<BinaryFunction> BinaryFunctions => Arithmetic;

    /// <summary>The entry of an arithmetic operation, or null for comparisons and logic.</summary>
    public static BinaryFunction? Of(BinaryOp op) => ByBinaryOp.TryGetValue(op, out var f) ? f : null;

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
