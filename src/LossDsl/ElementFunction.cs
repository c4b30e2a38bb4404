using System;

namespace LossDsl;

/// <summary>
/// One element-wise function of the DSL (<c>Sigmoid</c>, <c>Log</c>, <c>Tanh</c> …) as every phase sees it:
/// its name in specs, its double semantics, its interval rule, its derivative, the TorchSharp call the
/// emitter prints and the <c>Simd</c> function the CPU kernel lowers it to.
/// </summary>
internal sealed class ElementFunction
{
    internal ElementFunction(
        UnaryOp op,
        string name,
        Func<double, double> scalar,
        Func<Interval, Interval> range,
        Func<Expr, Expr, Expr, Expr> derivative,
        string torchSharp,
        string kernel
    )
    {
        Op = op;
        Name = name;
        Scalar = scalar;
        Range = range;
        Derivative = derivative;
        TorchSharp = torchSharp;
        Kernel = kernel;
    }

    /// <summary>The operation.</summary>
    public UnaryOp Op { get; }

    /// <summary>The function's name in specs (<c>Dsl.Name</c>) and in printed expressions.</summary>
    public string Name { get; }

    /// <summary>Its value in double precision (the reference semantics, <see cref="ScalarMath"/>).</summary>
    public Func<double, double> Scalar { get; }

    /// <summary>The values it takes on an interval of arguments (for the checker's range analysis).</summary>
    internal Func<Interval, Interval> Range { get; }

    /// <summary>
    /// The adjoint of the argument: (g, x, f(x)) ↦ g · f′(x), built from <see cref="Build"/>'s
    /// simplifying constructors.
    /// </summary>
    internal Func<Expr, Expr, Expr, Expr> Derivative { get; }

    /// <summary>The TorchSharp call the emitter prints, <c>{0}</c> standing for the argument.</summary>
    public string TorchSharp { get; }

    /// <summary>The name of the <c>Simd</c> function (Vector512&lt;float&gt; → Vector512&lt;float&gt;) the CPU kernel calls.</summary>
    public string Kernel { get; }
}
