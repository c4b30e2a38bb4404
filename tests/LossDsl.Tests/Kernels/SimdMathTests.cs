using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using LossDsl.Kernels;
using Xunit;

namespace LossDsl.Tests.Kernels;

/// <summary>
/// The compiled passes' float32 vector math against float64 references over the whole float range,
/// special values included. Tolerances: a few float32 ulps (1 ulp ≈ 6e-8 relative) for exp and log,
/// which are polynomial approximations with truncation below 1e-8; composites add one rounding per
/// operation.
/// </summary>
public class SimdMathTests
{
    // Log-spaced magnitudes from 1e-40 (subnormal) to 1e38, both signs, plus the special values.
    private static float[] Sweep()
    {
        var values = new List<float>
        {
            0f,
            -0f,
            1f,
            -1f,
            float.Epsilon,
            float.MaxValue,
            -float.MaxValue,
            float.PositiveInfinity,
            float.NegativeInfinity,
            float.NaN,
            88.7f,
            88.72f,
            88.73f,
            -87.3f,
            -87.29f,
            -103f,
            -104f,
            0.5f,
            2f,
        };
        for (var e = -40.0; e <= 38; e += 0.0137)
        {
            values.Add((float)Math.Pow(10, e));
            values.Add(-(float)Math.Pow(10, e));
        }
        for (var x = -120.0; x <= 120; x += 0.0173)
            values.Add((float)x);
        while (values.Count % Vector512<float>.Count != 0)
            values.Add(0.25f);
        return values.ToArray();
    }

    private static void Check(
        Func<Vector512<float>, Vector512<float>> f,
        Func<double, double> reference,
        double relative,
        double absolute,
        Func<float, bool>? domain = null
    )
    {
        var xs = Sweep().Where(x => domain?.Invoke(x) ?? true).ToArray();
        var padded = xs.Concat(Enumerable.Repeat(0.5f, (16 - xs.Length % 16) % 16)).ToArray();
        var failures = new List<string>();
        for (var i = 0; i < xs.Length; i += 16)
        {
            var v = f(Vector512.Create(padded, i));
            for (var k = 0; k < 16 && i + k < xs.Length; k++)
            {
                var x = xs[i + k];
                var expected = reference(x);
                double actual = v.GetElement(k);
                bool ok;
                if (double.IsNaN(expected))
                    ok = double.IsNaN(actual);
                else if (double.IsInfinity(expected) || Math.Abs(expected) > float.MaxValue)
                    ok = double.IsInfinity(actual) && Math.Sign(actual) == Math.Sign(expected);
                else
                    ok = Math.Abs(actual - expected) <= relative * Math.Abs(expected) + absolute;
                if (!ok && failures.Count < 10)
                    failures.Add($"x = {x:R}: {actual:R} vs {expected:R}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void ExpIsWithinAFewUlps()
    {
        // Subnormal results (x < -87.3) carry fewer bits: an absolute error of one subnormal step.
        Check(Simd.Exp, Math.Exp, 3e-7, 1.5e-45);
    }

    [Fact]
    public void LogIsWithinAFewUlps()
    {
        Check(Simd.Log, x => x < 0 ? double.NaN : Math.Log(x), 3e-7, 1e-7, x => !float.IsNaN(x));
        var special = Simd.Log(
            Vector512.Create(
                new[] { 0f, -1f, float.NaN, float.PositiveInfinity, float.Epsilon, 1f, 2f, 0.5f, 1e-30f, 3f, 4f, 5f, 6f, 7f, 8f, 9f }
            )
        );
        Assert.Equal(float.NegativeInfinity, special.GetElement(0));
        Assert.True(float.IsNaN(special.GetElement(1)));
        Assert.True(float.IsNaN(special.GetElement(2)));
        Assert.Equal(float.PositiveInfinity, special.GetElement(3));
        Assert.Equal(Math.Log(float.Epsilon), special.GetElement(4), 1e-5);
        Assert.Equal(0f, special.GetElement(5));
    }

    [Fact]
    public void Log1pIsAccurateNearZero()
    {
        Check(
            Simd.Log1p,
            x =>
                x < -1 ? double.NaN
                : x == -1 ? double.NegativeInfinity
                : LogOnePlus(x),
            4e-7,
            0,
            x => x >= -1
        );
    }

    [Fact]
    public void TheSigmoidFamilyIsStableEverywhere()
    {
        static double Softplus(double x) => Math.Max(x, 0) + LogOnePlus(Math.Exp(-Math.Abs(x)));
        Check(Simd.Sigmoid, x => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x)), 5e-7, 1.5e-45);
        Check(Simd.Softplus, Softplus, 5e-7, 1.5e-45);
        Check(Simd.LogSigmoid, x => -Softplus(-x), 5e-7, 1.5e-45);
        Check(Simd.LogCosh, x => Math.Abs(x) + LogOnePlus(Math.Exp(-2 * Math.Abs(x))) - Math.Log(2), 5e-7, 1e-7);
    }

    [Fact]
    public void PowMatchesForEveryBaseSign()
    {
        foreach (var b in new[] { 0f, 0.5f, 1f, 1.5f, 2f, 3f, -1f })
            Check(
                x => Simd.Pow(x, Vector512.Create(b)),
                x => Math.Pow(x, b),
                2e-6,
                1e-37,
                x => Math.Abs(x) < 1e15 && Math.Abs(x) > 1e-15 || x == 0
            );
    }

    // log(1 + x) in float64, accurate for small x.
    private static double LogOnePlus(double x) => Math.Abs(x) < 1e-4 ? x - x * x / 2 + x * x * x / 3 : Math.Log(1 + x);

    [Fact]
    public void TanhIsWithinAFewUlps()
    {
        // Relative below |x| = 0.625 (the polynomial, no cancellation near 0), absolute against 1 above.
        Check(Simd.Tanh, Math.Tanh, relative: 4e-7, absolute: 1e-38);
        Check(Simd.Tanh, Math.Tanh, relative: 0, absolute: 2.5e-7, domain: x => Math.Abs(x) >= 0.625f);
    }

    [Fact]
    public void ErfIsWithinItsApproximationError()
    {
        // The series below |x| = 0.5: relative; Abramowitz and Stegun 7.1.26 above: |error| <= 1.5e-7, plus
        // float32 rounding of the final 1 - q·t·e^(-x²).
        Check(Simd.Erf, ScalarMath.Erf, relative: 3e-7, absolute: 1e-38, domain: x => Math.Abs(x) < 0.5f);
        Check(Simd.Erf, ScalarMath.Erf, relative: 0, absolute: 3e-7);
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.1, 0.1124629160182849)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(-1.5, -0.9661051464753108)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(2.9, 0.9999589021219005)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(4.0, 0.9999999845827421)]
    [InlineData(6.0, 1.0)]
    public void ScalarErfMatchesPublishedValues(double x, double expected)
    {
        // Published erf values (Abramowitz and Stegun table 7.1 / any CAS), to 15 digits.
        Assert.Equal(expected, ScalarMath.Erf(x), 1e-14);
    }

    [Fact]
    public void TheBufferedPathUsesTheVectorFormulaForEveryElement()
    {
        // 37 elements: two whole vectors and a 5-lane tail, all through Simd.Tanh.
        var xs = Enumerable.Range(0, 37).Select(i => (float)(i * 0.37 - 6)).ToArray();
        var dst = new float[xs.Length];
        SimdFunctions.Apply(Operators.Of(UnaryOp.Tanh)!, xs, dst);
        var padded = xs.Concat(Enumerable.Repeat(0f, 11)).ToArray();
        for (var i = 0; i < xs.Length; i++)
            Assert.Equal(Simd.Tanh(Vector512.Create(padded, i / 16 * 16)).GetElement(i % 16), dst[i]);
    }
}
