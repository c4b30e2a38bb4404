using System;
using System.Collections.Generic;
using System.Linq;
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
        return values.ToArray();
    }

    /// <summary>Every vector width (the kernels use the widest native one; the others run here emulated or narrower).</summary>
    public static TheoryData<int> Widths() => new(Simd.All.Select(w => w.Bits));

    private static ISimd Width(int bits) => Simd.OfBits(bits)!;

    // The width's function over the whole sweep (span form: whole vectors and a padded tail).
    private static float[] Apply(ISimd simd, string function, float[] xs)
    {
        var dst = new float[xs.Length];
        simd.Apply(function, xs, dst);
        return dst;
    }

    private static void Check(
        Func<float[], float[]> f,
        Func<double, double> reference,
        double relative,
        double absolute,
        Func<float, bool>? domain = null
    )
    {
        var xs = Sweep().Where(x => domain?.Invoke(x) ?? true).ToArray();
        var values = f(xs);
        var failures = new List<string>();
        for (var i = 0; i < xs.Length; i++)
        {
            var x = xs[i];
            var expected = reference(x);
            double actual = values[i];
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
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static void Check(
        ISimd simd,
        string function,
        Func<double, double> reference,
        double relative,
        double absolute,
        Func<float, bool>? domain = null
    ) => Check(xs => Apply(simd, function, xs), reference, relative, absolute, domain);

    [Theory]
    [MemberData(nameof(Widths))]
    public void ExpIsWithinAFewUlps(int bits)
    {
        // Subnormal results (x < -87.3) carry fewer bits: an absolute error of one subnormal step.
        Check(Width(bits), "Exp", Math.Exp, 3e-7, 1.5e-45);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ExpGivesTheSameBitsOnItsNormalRangePathAndItsGeneralOne(int bits)
    {
        // A vector whose lanes are all in the normal range takes Exp's short path; one lane beyond it (here
        // 100, or a NaN) sends the whole vector through the general path. The other lanes must come out
        // the same bits either way, so where a value sits in its vector never changes its result.
        var simd = Width(bits);
        var lanes = simd.Lanes;
        var xs = new List<float>();
        for (var x = -86.5; x <= 86.5; x += 0.0731)
            xs.Add((float)x);
        xs.AddRange(new[] { 0f, -0f, 1e-30f, -1e-30f, 86.6f, -86.6f });
        while (xs.Count % lanes != 0)
            xs.Add(0.25f);
        var normal = xs.ToArray();
        var fast = Apply(simd, "Exp", normal);
        foreach (var outlier in new[] { 100f, -100f, float.NaN })
        {
            var mixed = (float[])normal.Clone();
            for (var v = 0; v < mixed.Length; v += lanes)
                mixed[v] = outlier;
            var general = Apply(simd, "Exp", mixed);
            for (var i = 0; i < normal.Length; i++)
                if (i % lanes != 0)
                    Assert.True(
                        BitConverter.SingleToInt32Bits(fast[i]) == BitConverter.SingleToInt32Bits(general[i]),
                        $"x = {normal[i]:R}: {fast[i]:R} alone, {general[i]:R} next to {outlier}"
                    );
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ExpNegAbsGivesTheBitsOfExpOfMinusAbs(int bits)
    {
        // e^-|x| has a branch-free form where 2^n scales in one instruction (AVX-512): clamped below only,
        // a NaN handed through by the hardware's max. It must be Exp's bits everywhere, NaN and the
        // underflow to 0 below -103.97 included.
        var simd = Width(bits);
        var xs = Sweep().Concat(new[] { 103.97f, -103.97f, 103.98f, 103.99f, -150f, 1e30f, float.NaN, -float.NaN }).ToArray();
        var viaExp = Apply(simd, "Exp", xs.Select(x => -Math.Abs(x)).ToArray());
        var direct = Apply(simd, "ExpNegAbs", xs);
        for (var i = 0; i < xs.Length; i++)
            Assert.True(
                float.IsNaN(viaExp[i])
                    ? float.IsNaN(direct[i])
                    : BitConverter.SingleToInt32Bits(viaExp[i]) == BitConverter.SingleToInt32Bits(direct[i]),
                $"x = {xs[i]:R}: ExpNegAbs {direct[i]:R}, Exp(-|x|) {viaExp[i]:R}"
            );
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void TheSoftplusTailIsWithinAFewUlpsDownToSubnormals(int bits)
    {
        // log(1 + e) for e = e^-|x| in [0, 1], by 2·atanh(e/(2 + e)): a few ulps relative, and exact to the last
        // subnormal step where e is subnormal (log(1 + e) = e there).
        Check(
            Width(bits),
            "SoftTail",
            e => double.IsNaN(e) ? double.NaN : LogOnePlus(e),
            3e-7,
            1.5e-45,
            e => float.IsNaN(e) || (e >= 0 && e <= 1)
        );
        var tiny = Apply(Width(bits), "SoftTail", new[] { 0f, float.Epsilon, 3 * float.Epsilon, 1e-40f, 1.17549435e-38f, 1f, float.NaN });
        Assert.Equal(new[] { 0f, float.Epsilon, 3 * float.Epsilon, 1e-40f, 1.17549435e-38f }, tiny[..5]);
        Assert.Equal(Math.Log(2), tiny[5], 1e-7);
        Assert.True(float.IsNaN(tiny[6]));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void LogIsWithinAFewUlps(int bits)
    {
        Check(Width(bits), "Log", x => x < 0 ? double.NaN : Math.Log(x), 3e-7, 1e-7, x => !float.IsNaN(x));
        var special = Apply(
            Width(bits),
            "Log",
            new[] { 0f, -1f, float.NaN, float.PositiveInfinity, float.Epsilon, 1f, 2f, 0.5f, 1e-30f, 3f, 4f, 5f, 6f, 7f, 8f, 9f }
        );
        Assert.Equal(float.NegativeInfinity, special[0]);
        Assert.True(float.IsNaN(special[1]));
        Assert.True(float.IsNaN(special[2]));
        Assert.Equal(float.PositiveInfinity, special[3]);
        Assert.Equal(Math.Log(float.Epsilon), special[4], 1e-5);
        Assert.Equal(0f, special[5]);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Log1pIsAccurateNearZero(int bits)
    {
        Check(
            Width(bits),
            "Log1p",
            x =>
                x < -1 ? double.NaN
                : x == -1 ? double.NegativeInfinity
                : LogOnePlus(x),
            4e-7,
            0,
            x => x >= -1
        );
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void TheSigmoidFamilyIsStableEverywhere(int bits)
    {
        var simd = Width(bits);
        static double Softplus(double x) => Math.Max(x, 0) + LogOnePlus(Math.Exp(-Math.Abs(x)));
        Check(simd, "Sigmoid", x => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x)), 5e-7, 1.5e-45);
        Check(simd, "Softplus", Softplus, 5e-7, 1.5e-45);
        Check(simd, "LogSigmoid", x => -Softplus(-x), 5e-7, 1.5e-45);
        Check(simd, "LogCosh", x => Math.Abs(x) + LogOnePlus(Math.Exp(-2 * Math.Abs(x))) - Math.Log(2), 5e-7, 1e-7);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ASignMarkOnAProbabilityIsReadBackExactlyZerosIncluded(int bits)
    {
        // The kept softmax carries the target class in its sign bit: +0 marked is -0, and -0 must read as marked.
        var simd = Width(bits);
        var ps = new[] { 0f, float.Epsilon, 1e-30f, 0.25f, 1f, 0f, 0.5f, 1e-8f, 0f, 0.75f, 1f, float.Epsilon, 0.1f, 0f, 0.9f, 0.3f, 0f };
        var marks = ps.Select((_, i) => i % 3 == 0 ? BitConverter.Int32BitsToSingle(-1) : 0f).ToArray();
        var marked = new float[ps.Length];
        simd.Apply("SignWhere", marks, 0f, false, ps, 0f, false, marked);
        var back = Apply(simd, "Abs", marked);
        var read = Apply(simd, "SignBits", marked);
        for (var i = 0; i < ps.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(ps[i]), BitConverter.SingleToInt32Bits(back[i]));
            Assert.Equal(BitConverter.SingleToInt32Bits(marks[i]), BitConverter.SingleToInt32Bits(read[i]));
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void PowMatchesForEveryBaseSign(int bits)
    {
        foreach (var b in new[] { 0f, 0.5f, 1f, 1.5f, 2f, 3f, -1f })
            Check(
                xs =>
                {
                    var dst = new float[xs.Length];
                    Width(bits).Apply("Pow", xs, 0f, false, default, b, true, dst);
                    return dst;
                },
                x => Math.Pow(x, b),
                2e-6,
                1e-37,
                x => Math.Abs(x) < 1e15 && Math.Abs(x) > 1e-15 || x == 0
            );
    }

    // log(1 + x) in float64, accurate for small x.
    private static double LogOnePlus(double x) => Math.Abs(x) < 1e-4 ? x - x * x / 2 + x * x * x / 3 : Math.Log(1 + x);

    [Theory]
    [MemberData(nameof(Widths))]
    public void TanhIsWithinAFewUlps(int bits)
    {
        // Relative below |x| = 0.625 (the polynomial, no cancellation near 0), absolute against 1 above.
        Check(Width(bits), "Tanh", Math.Tanh, relative: 4e-7, absolute: 1e-38);
        Check(Width(bits), "Tanh", Math.Tanh, relative: 0, absolute: 2.5e-7, domain: x => Math.Abs(x) >= 0.625f);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ErfIsWithinItsApproximationError(int bits)
    {
        // The series below |x| = 0.5: relative; Abramowitz and Stegun 7.1.26 above: |error| <= 1.5e-7, plus
        // float32 rounding of the final 1 - q·t·e^(-x²).
        Check(Width(bits), "Erf", ScalarMath.Erf, relative: 3e-7, absolute: 1e-38, domain: x => Math.Abs(x) < 0.5f);
        Check(Width(bits), "Erf", ScalarMath.Erf, relative: 0, absolute: 3e-7);
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

    [Theory]
    [MemberData(nameof(Widths))]
    public void TheBufferedPathUsesTheVectorFormulaForEveryElement(int bits)
    {
        // 37 elements: whole vectors and a tail of 5 lanes (16 or 8 per vector) or 1 (4 per vector), all
        // through the vector tanh: the same values as the first 37 of 48 elements (whole vectors only).
        var simd = Width(bits);
        var xs = Enumerable.Range(0, 37).Select(i => (float)(i * 0.37 - 6)).ToArray();
        var dst = new float[xs.Length];
        simd.Apply(Operators.Of(UnaryOp.Tanh)!.Kernel, xs, dst);
        var padded = xs.Concat(Enumerable.Repeat(0f, 11)).ToArray();
        var whole = new float[padded.Length];
        simd.Apply(Operators.Of(UnaryOp.Tanh)!.Kernel, padded, whole);
        for (var i = 0; i < xs.Length; i++)
            Assert.Equal(whole[i], dst[i]);
    }

    [Fact]
    public void TheWidthFollowsTheHardwareUnlessTheEnvironmentNamesOne()
    {
        var native = Simd.Choose(null);
        Assert.True(native.IsHardwareAccelerated);
        Assert.Equal(Simd.All.First(w => w.IsHardwareAccelerated), native);
        Assert.Equal(256, Simd.Choose(" 256 ").Bits);
        Assert.Equal(128, Simd.Choose("128").Bits);
        var e = Assert.Throws<InvalidOperationException>(() => Simd.Choose("300"));
        Assert.Contains(Simd.WidthVariable + "=300", e.Message);
        Assert.Contains("512, 256 or 128", e.Message);
    }
}
