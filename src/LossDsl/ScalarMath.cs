using System;

namespace LossDsl;

/// <summary>
/// The double-precision semantics of the DSL's element-wise functions: what the interpreter's TorchSharp ops
/// compute, in one place. Constant folding, interval bounds, the kernel's per-sample statistics and generated
/// code for hyperparameter-only sub-expressions all use these.
/// </summary>
public static class ScalarMath
{
    /// <summary>1 / (1 + e^-x).</summary>
    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>log sigmoid(x) = min(x, 0) - log(1 + e^-|x|).</summary>
    public static double LogSigmoid(double x) => Math.Min(x, 0) - Log1p(Math.Exp(-Math.Abs(x)));

    /// <summary>log(1 + e^x) as PyTorch's softplus computes it: x itself above 20.</summary>
    public static double Softplus(double x) => x > 20 ? x : Math.Max(x, 0) + Log1p(Math.Exp(-Math.Abs(x)));

    /// <summary>Natural logarithm.</summary>
    public static double Log(double x) => Math.Log(x);

    /// <summary>
    /// log(1 + x) without the cancellation of Math.Log(1 + x) for small x (netstandard2.0 has no
    /// Math.Log1P): the rounding of 1 + x is divided back out.
    /// </summary>
    public static double Log1p(double x)
    {
        var u = 1.0 + x;
        if (u == 1.0)
            return x;
        if (double.IsInfinity(u))
            return Math.Log(u);
        return Math.Log(u) * x / (u - 1.0);
    }

    /// <summary>e^x.</summary>
    public static double Exp(double x) => Math.Exp(x);

    /// <summary>Square root.</summary>
    public static double Sqrt(double x) => Math.Sqrt(x);

    /// <summary>|x|.</summary>
    public static double Abs(double x) => Math.Abs(x);

    /// <summary>log(cosh(x)) = |x| + log(1 + e^-2|x|) - log 2, without overflow.</summary>
    public static double LogCosh(double x) => Math.Abs(x) + Log1p(Math.Exp(-2 * Math.Abs(x))) - Math.Log(2.0);

    /// <summary>Hyperbolic tangent.</summary>
    public static double Tanh(double x) => Math.Tanh(x);

    /// <summary>
    /// The error function 2/√π ∫₀ˣ e^(-t²) dt, to about 1e-15: its Taylor series below |x| = 2 (where it
    /// loses no digits), 1 - erfc(x) from erfc's continued fraction (60 terms) above.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x))
            return double.NaN;
        var a = Math.Abs(x);
        double r;
        if (a < 2)
        {
            // Σ (-1)^n x^(2n+1) / (n! (2n+1)), times 2/√π.
            double term = a,
                sum = a,
                x2 = a * a;
            for (var n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                var add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum))
                    break;
            }
            r = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // erfc(a) = e^(-a²) / √π · 1 / (a + (1/2) / (a + 1 / (a + (3/2) / (a + …)))).
            var k = a;
            for (var n = 60; n >= 1; n--)
                k = a + n / 2.0 / k;
            r = 1 - Math.Exp(-a * a) / (Math.Sqrt(Math.PI) * k);
        }
        return x < 0 ? -r : r;
    }

    /// <summary>Heaviside step: 1 for x &gt; 0, else 0.</summary>
    public static double Step(double x) => x > 0 ? 1.0 : 0.0;
}
