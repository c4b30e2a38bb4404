using System;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl;

/// <summary>Scalar versions of the DSL's functions, for hyperparameter-only sub-expressions in generated code.</summary>
public static class ScalarMath
{
    /// <summary>1 / (1 + e^-x).</summary>
    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>log sigmoid(x) = -softplus(-x).</summary>
    public static double LogSigmoid(double x) => -Softplus(-x);

    /// <summary>log(1 + e^x) without overflow.</summary>
    public static double Softplus(double x) => Math.Max(x, 0) + Log1p(Math.Exp(-Math.Abs(x)));

    /// <summary>Natural logarithm.</summary>
    public static double Log(double x) => Math.Log(x);

    /// <summary>log(1 + x), accurate near 0.</summary>
    public static double Log1p(double x) => Math.Abs(x) < 1e-4 ? x - x * x / 2 + x * x * x / 3 : Math.Log(1 + x);

    /// <summary>e^x.</summary>
    public static double Exp(double x) => Math.Exp(x);

    /// <summary>Square root.</summary>
    public static double Sqrt(double x) => Math.Sqrt(x);

    /// <summary>|x|.</summary>
    public static double Abs(double x) => Math.Abs(x);

    /// <summary>log(cosh(x)) without overflow.</summary>
    public static double LogCosh(double x) => Math.Abs(x) + Softplus(-2 * Math.Abs(x)) - Math.Log(2);

    /// <summary>Heaviside step: 1 for x &gt; 0, else 0.</summary>
    public static double Step(double x) => x > 0 ? 1.0 : 0.0;
}

/// <summary>Tensor functions the DSL needs beyond TorchSharp's, shared by generated code and the interpreter.</summary>
public static class TensorMath
{
    /// <summary>Heaviside step: 1 where x &gt; 0, else 0, in x's dtype.</summary>
    public static Tensor Step(Tensor x)
    {
        using var zero = 0.0.ToScalar();
        using var positive = x.gt(zero);
        return positive.to(x.dtype);
    }

    /// <summary>log cosh x = |x| + softplus(-2|x|) - log 2, without overflow for large |x|.</summary>
    public static Tensor LogCosh(Tensor x)
    {
        using var a = abs(x);
        using var m2 = a * -2.0;
        using var sp = nn.functional.softplus(m2);
        using var s = a + sp;
        return s - Math.Log(2.0);
    }
}
