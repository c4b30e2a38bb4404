using System;

namespace LossDsl;

/// <summary>
/// One arithmetic operation of the DSL (<c>+ - * /</c>, <c>Pow</c>, <c>Min</c>, <c>Max</c>) as every phase sees
/// it: its name (an operator symbol or a <c>Dsl</c> function), its double semantics, its interval rule, the
/// adjoints of its operands, and its printed forms — the TorchSharp call, the C# scalar expression, the
/// <c>Simd</c> function of the CPU kernel and the CUDA expression. Comparisons and logic are construction-time
/// conditions, not in this table.
/// </summary>
internal sealed class BinaryFunction
{
    internal BinaryFunction(
        BinaryOp op,
        string name,
        string? infix,
        int precedence,
        bool associative,
        Func<double, double, double> scalar,
        Func<Interval, Interval, Interval> range,
        Func<Expr, Expr, Expr, Expr, Expr> left,
        Func<Expr, Expr, Expr, Expr, Expr> right,
        string torchSharp,
        string cSharp,
        string kernel,
        string cuda
    )
    {
        Op = op;
        Name = name;
        Infix = infix;
        Precedence = precedence;
        Associative = associative;
        Scalar = scalar;
        Range = range;
        Left = left;
        Right = right;
        TorchSharp = torchSharp;
        CSharp = cSharp;
        Kernel = kernel;
        Cuda = cuda;
    }

    /// <summary>The operation.</summary>
    public BinaryOp Op { get; }

    /// <summary>Its C# operator symbol (<c>+</c>), or the <c>Dsl</c> function's name (<c>Pow</c>) when it is a call.</summary>
    public string Name { get; }

    /// <summary>The symbol printed between the operands (<c>+</c>, <c>^</c>), or null when it prints as a call.</summary>
    public string? Infix { get; }

    /// <summary>True when specs write it as a <c>Dsl</c> call, <c>Name(a, b)</c>, rather than an operator.</summary>
    public bool IsCall => char.IsLetter(Name[0]);

    /// <summary>Its precedence in printed infix text (4 for + -, 5 for * /, 7 for ^, 8 for calls).</summary>
    public int Precedence { get; }

    /// <summary>Whether <c>a op (b op c)</c> prints without the parentheses.</summary>
    public bool Associative { get; }

    /// <summary>Its value in double precision.</summary>
    public Func<double, double, double> Scalar { get; }

    /// <summary>The values it takes on intervals of operands (for the checker's range analysis).</summary>
    internal Func<Interval, Interval, Interval> Range { get; }

    /// <summary>The adjoint of the left operand: (g, a, b, f(a, b)) ↦ g · ∂f/∂a.</summary>
    internal Func<Expr, Expr, Expr, Expr, Expr> Left { get; }

    /// <summary>The adjoint of the right operand: (g, a, b, f(a, b)) ↦ g · ∂f/∂b.</summary>
    internal Func<Expr, Expr, Expr, Expr, Expr> Right { get; }

    /// <summary>The TorchSharp expression the emitter prints, <c>{0}</c> and <c>{1}</c> standing for the operands.</summary>
    public string TorchSharp { get; }

    /// <summary>The C# expression for hyperparameter-only operands (doubles).</summary>
    public string CSharp { get; }

    /// <summary>The <c>Simd</c> function (two Vector512&lt;float&gt; → Vector512&lt;float&gt;) the CPU kernel calls.</summary>
    public string Kernel { get; }

    /// <summary>The CUDA C expression (float registers and double statistics alike).</summary>
    public string Cuda { get; }
}
