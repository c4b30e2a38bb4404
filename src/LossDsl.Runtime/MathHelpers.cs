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
    // TorchSharp's `a + b` passes an alpha Scalar of 1 that nothing keeps alive during the native
    // call, so a finalizer can free it mid-call (a rare "toDouble" failure under GC pressure); the same
    // holds for any Scalar made implicitly from a number. These helpers keep their Scalars alive.
    private static readonly Scalar One = 1.0.ToScalar();

    /// <summary>a + b (broadcasting), with an alpha that outlives the call.</summary>
    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a · s for a number s, with the Scalar held until the call returns.</summary>
    public static Tensor Mul(Tensor a, double s)
    {
        using var scalar = s.ToScalar();
        return a.mul(scalar);
    }

    /// <summary>a + s for a number s, with the Scalar held until the call returns.</summary>
    public static Tensor Add(Tensor a, double s)
    {
        using var scalar = s.ToScalar();
        return a.add(scalar, One);
    }

    /// <summary>s - a for a number s, with the Scalars held until the call returns.</summary>
    public static Tensor RSub(double s, Tensor a)
    {
        using var scalar = s.ToScalar();
        using var negative = a.neg();
        return negative.add(scalar, One);
    }

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
        using var m2 = Mul(a, -2.0);
        using var sp = nn.functional.softplus(m2);
        using var s = Add(a, sp);
        return Add(s, -Math.Log(2.0));
    }
}
