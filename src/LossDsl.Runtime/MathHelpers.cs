using System;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl;

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
