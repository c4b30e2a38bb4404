using System;
using System.Linq;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// Independent float64 computations of the catalog's formulas with plain loops over arrays laid out
/// [n][c][s] (s = flattened spatial index). Nothing here touches LossDsl.
/// </summary>
internal static class Hand
{
    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    // log(1 + e^x) without overflow.
    public static double Softplus(double x) => Math.Max(x, 0) + Math.Log(1 + Math.Exp(-Math.Abs(x)));

    public static int K(int n, int c, int s, int C, int S) => (n * C + c) * S + s;

    public static double[] Softmax(double[] x, int N, int C, int S)
    {
        var p = new double[x.Length];
        for (var n = 0; n < N; n++)
        for (var s = 0; s < S; s++)
        {
            var max = double.NegativeInfinity;
            for (var c = 0; c < C; c++)
                max = Math.Max(max, x[K(n, c, s, C, S)]);
            double z = 0;
            for (var c = 0; c < C; c++)
                z += Math.Exp(x[K(n, c, s, C, S)] - max);
            for (var c = 0; c < C; c++)
                p[K(n, c, s, C, S)] = Math.Exp(x[K(n, c, s, C, S)] - max) / z;
        }
        return p;
    }

    public static double[] OneHot(long[] index, int N, int C, int S)
    {
        var t = new double[N * C * S];
        for (var n = 0; n < N; n++)
        for (var s = 0; s < S; s++)
        {
            var y = index[n * S + s];
            if (y >= 0 && y < C)
                t[K(n, (int)y, s, C, S)] = 1;
        }
        return t;
    }

    /// <summary>Per (n, c) Dice loss, or per (0, c) when <paramref name="batch"/>; valid is per (n, s).</summary>
    public static double[,] Dice(
        double[] p,
        double[] t,
        int N,
        int C,
        int S,
        bool squared = false,
        bool jaccard = false,
        bool batch = false,
        double nr = 1e-5,
        double dr = 1e-5,
        bool[]? valid = null,
        bool softLabel = false
    )
    {
        var rows = batch ? 1 : N;
        var tp = new double[rows, C];
        var ps = new double[rows, C];
        var ts = new double[rows, C];
        for (var n = 0; n < N; n++)
        for (var c = 0; c < C; c++)
        for (var s = 0; s < S; s++)
        {
            if (valid is not null && !valid[n * S + s])
                continue;
            var r = batch ? 0 : n;
            var k = K(n, c, s, C, S);
            // MONAI's soft_label (ord 1): (Σ|p| + Σ|t| - Σ|p - t|) / 2, term by term.
            tp[r, c] += softLabel && !squared ? (Math.Abs(p[k]) + Math.Abs(t[k]) - Math.Abs(p[k] - t[k])) / 2 : p[k] * t[k];
            ps[r, c] += squared ? p[k] * p[k] : p[k];
            ts[r, c] += squared ? t[k] * t[k] : t[k];
        }
        var loss = new double[rows, C];
        for (var r = 0; r < rows; r++)
        for (var c = 0; c < C; c++)
        {
            var den = ps[r, c] + ts[r, c];
            if (jaccard)
                den = 2 * (den - tp[r, c]);
            loss[r, c] = 1 - (2 * tp[r, c] + nr) / (den + dr);
        }
        return loss;
    }

    /// <summary>Per (n, c) Tversky index (per (0, c) with batch).</summary>
    public static double[,] TverskyIndex(
        double[] p,
        double[] t,
        int N,
        int C,
        int S,
        double alpha,
        double beta,
        bool batch = false,
        double nr = 1e-5,
        double dr = 1e-5,
        bool[]? valid = null
    )
    {
        var rows = batch ? 1 : N;
        var result = new double[rows, C];
        for (var r = 0; r < rows; r++)
        for (var c = 0; c < C; c++)
        {
            double tp = 0,
                fp = 0,
                fn = 0;
            for (var n = 0; n < N; n++)
            {
                if (!batch && n != r)
                    continue;
                for (var s = 0; s < S; s++)
                {
                    if (valid is not null && !valid[n * S + s])
                        continue;
                    var k = K(n, c, s, C, S);
                    tp += p[k] * t[k];
                    fp += p[k] * (1 - t[k]);
                    fn += (1 - p[k]) * t[k];
                }
            }
            result[r, c] = (tp + nr) / (tp + alpha * fp + beta * fn + dr);
        }
        return result;
    }

    public static double Mean(double[,] v, bool includeBackground = true)
    {
        double sum = 0;
        var count = 0;
        for (var r = 0; r < v.GetLength(0); r++)
        for (var c = includeBackground || v.GetLength(1) == 1 ? 0 : 1; c < v.GetLength(1); c++)
        {
            sum += v[r, c];
            count++;
        }
        return sum / count;
    }

    public static double[] Flat(Tensor t)
    {
        using var d = t.detach().to(float64).contiguous();
        return d.data<double>().ToArray();
    }

    public static Tensor T(double[] data, params long[] shape) => tensor(data, shape, float64);

    public static Tensor L(long[] data, params long[] shape) => tensor(data, shape, int64);

    /// <summary>Deterministic values in [-scale, scale] (or 0/1 with probability 0.4 of a one).</summary>
    public static double[] Random(int count, int seed, double scale = 3, bool binary = false)
    {
        var rng = new Random(seed);
        return Enumerable
            .Range(0, count)
            .Select(_ => binary ? (rng.NextDouble() < 0.4 ? 1.0 : 0.0) : (rng.NextDouble() * 2 - 1) * scale)
            .ToArray();
    }

    public static long[] Labels(int count, int classes, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (long)rng.Next(classes)).ToArray();
    }

    // float64 on both sides: 1e-10 allows for summation-order differences only.
    /// <summary>
    /// The gradient at the given entries against central differences of a float64 reference (step 1e-6:
    /// truncation ~1e-12, rounding ~1e-10 for O(1) losses, so 1e-7 holds with a wide margin).
    /// </summary>
    public static void CloseToCentralDifferences(
        Func<double[], double> reference,
        double[] x,
        double[] grad,
        int[] entries,
        double tol = 1e-7
    )
    {
        foreach (var k in entries)
        {
            var plus = (double[])x.Clone();
            var minus = (double[])x.Clone();
            plus[k] += 1e-6;
            minus[k] -= 1e-6;
            Close((reference(plus) - reference(minus)) / 2e-6, grad[k], tol);
        }
    }

    public static void Close(double expected, double actual, double tol = 1e-10) =>
        Assert.True(
            Math.Abs(expected - actual) <= tol * Math.Max(1, Math.Abs(expected)),
            $"expected {expected:R}, got {actual:R} (tolerance {tol})"
        );

    public static void Close(double[] expected, Tensor actual, double tol = 1e-10)
    {
        var a = Flat(actual);
        Assert.Equal(expected.Length, a.Length);
        for (var i = 0; i < a.Length; i++)
            Close(expected[i], a[i], tol);
    }

    public static double[] Rows(double[,] v)
    {
        var r = new double[v.Length];
        var i = 0;
        foreach (var x in v)
            r[i++] = x;
        return r;
    }

    /// <summary>
    /// The Lovász extension of the Jaccard loss at the given errors (Berman et al., eq. 9 and Alg. 1): the errors
    /// sorted in decreasing order (negative ones count as 0), weighted by the increments of the Jaccard loss of the
    /// ground truth in that order.
    /// </summary>
    public static double LovaszExtension(double[] errors, double[] truth)
    {
        var order = Enumerable.Range(0, errors.Length).OrderByDescending(i => errors[i]).ToArray();
        var total = truth.Sum();
        double fg = 0,
            bg = 0,
            previous = 0,
            loss = 0;
        foreach (var i in order)
        {
            fg += truth[i];
            bg += 1 - truth[i];
            var jaccard = 1 - (total - fg) / (total + bg);
            loss += Math.Max(errors[i], 0) * (jaccard - previous);
            previous = jaccard;
        }
        return loss;
    }
}
