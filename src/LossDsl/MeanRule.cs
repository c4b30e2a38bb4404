using System;

namespace LossDsl;

/// <summary>
/// The Mean reduction, stated once. A mean is Σ value / D: D is the number of entries it averages (valid
/// pixels only for per-pixel values), at least 1, or, for a <c>WeightedMean</c>, Σ weight over the value's
/// (valid) entries, counted as 1 where it is 0 — so a mean over nothing is 0, never NaN. Its adjoints are
/// ∂mean/∂value = 1/D and ∂mean/∂weight = -Σ value / D². The tensor path (<c>LossContext.Count</c>,
/// <c>Reductions</c>, the module's backward), the CPU kernel, the CUDA printer and the test kit's laws all
/// read it from here; the tensor forms and the printed C forms are next to the scalar ones.
/// </summary>
internal static class MeanRule
{
    /// <summary>The denominator of an unweighted mean over <paramref name="count"/> entries.</summary>
    public static double CountDenominator(double count) => Math.Max(count, 1.0);

    /// <summary>The denominator of a weighted mean whose weights total <paramref name="totalWeight"/>.</summary>
    public static double WeightDenominator(double totalWeight) => totalWeight == 0 ? 1.0 : totalWeight;

    /// <summary>∂mean/∂value for a mean with this denominator.</summary>
    public static double ValueAdjoint(double denominator) => 1.0 / denominator;

    /// <summary>∂mean/∂weight of a weighted mean: -Σ value / D².</summary>
    public static double WeightAdjoint(double sumValue, double denominator) => -sumValue / (denominator * denominator);

    /// <summary><see cref="CountDenominator"/> as C (device code) of a double expression.</summary>
    public static string CountDenominatorC(string count) => $"fmax({count}, 1.0)";

    /// <summary><see cref="WeightDenominator"/> as C (device code) of a double expression.</summary>
    public static string WeightDenominatorC(string totalWeight) => $"ld_nonzero({totalWeight})";

    /// <summary>The C helper <see cref="WeightDenominatorC"/> calls.</summary>
    public const string WeightDenominatorHelperC = "__device__ __forceinline__ double ld_nonzero(double v) { return v == 0.0 ? 1.0 : v; }";
}
