using System;
using System.Linq;
using static TorchSharp.torch;

namespace LossDsl;

/// <summary>
/// Exact Euclidean distance transforms of binary images and volumes on the CPU (Felzenszwalb and Huttenlocher's
/// lower envelope of parabolas, one pass per axis: linear in the number of pixels), with unit pixel spacing.
/// The distance-based losses compute their maps with it; it is public for users who precompute maps.
/// </summary>
public static class DistanceTransform
{
    /// <summary>
    /// For every pixel of a binary image of the given shape, the squared Euclidean distance to the nearest pixel where
    /// <paramref name="feature"/> is true (0 there); +∞ everywhere when there is no such pixel.
    /// </summary>
    /// <param name="feature">The image, row-major.</param>
    /// <param name="shape">Its dimensions (any number of them).</param>
    public static double[] SquaredDistanceTo(ReadOnlySpan<bool> feature, ReadOnlySpan<long> shape) =>
        SquaredDistanceTo(feature, shape, ReadOnlySpan<double>.Empty);

    /// <summary>
    /// As <see cref="SquaredDistanceTo(ReadOnlySpan{bool}, ReadOnlySpan{long})"/>, with the distance between neighbouring
    /// pixels along each axis given by <paramref name="spacing"/> (scipy's <c>sampling</c>; empty for unit spacing).
    /// </summary>
    /// <param name="feature">The image, row-major.</param>
    /// <param name="shape">Its dimensions.</param>
    /// <param name="spacing">One finite, positive spacing per axis, or empty.</param>
    public static double[] SquaredDistanceTo(ReadOnlySpan<bool> feature, ReadOnlySpan<long> shape, ReadOnlySpan<double> spacing)
    {
        CheckSpacing(spacing, shape.Length);
        var size = 1L;
        foreach (var d in shape)
            size *= d;
        if (size != feature.Length)
            throw new ArgumentException($"the image has {feature.Length} pixels, the shape {size}", nameof(feature));
        var f = new double[feature.Length];
        for (var i = 0; i < f.Length; i++)
            f[i] = feature[i] ? 0 : double.PositiveInfinity;
        var longest = shape.Length == 0 ? 1 : (int)shape.ToArray().Max();
        var line = new double[longest];
        var result = new double[longest];
        var v = new int[longest];
        var z = new double[longest + 1];
        var stride = 1L;
        for (var axis = shape.Length - 1; axis >= 0; axis--)
        {
            var n = (int)shape[axis];
            // Every line along this axis: the index with this axis at 0, walking the others.
            for (long start = 0; start < f.Length; start++)
            {
                if (start / stride % n != 0)
                    continue;
                // With spacing h the line's distances are h²·min_p ((q - p)² + f(p) / h²).
                var h2 = spacing.IsEmpty ? 1.0 : spacing[axis] * spacing[axis];
                for (var q = 0; q < n; q++)
                    line[q] = f[start + q * stride] / h2;
                Envelope(line, n, result, v, z);
                for (var q = 0; q < n; q++)
                    f[start + q * stride] = result[q] * h2;
            }
            stride *= n;
        }
        return f;
    }

    // Where the parabolas rooted at q and p (p < q) intersect.
    private static double Intersection(double[] f, int q, int p) => (f[q] + (double)q * q - (f[p] + (double)p * p)) / (2.0 * (q - p));

    // d(q) = min_p (q - p)² + f(p) for one line, f(p) = +∞ allowed (such p are never minima).
    private static void Envelope(double[] f, int n, double[] d, int[] v, double[] z)
    {
        var k = -1;
        for (var q = 0; q < n; q++)
        {
            if (double.IsPositiveInfinity(f[q]))
                continue;
            if (k < 0)
            {
                k = 0;
                v[0] = q;
                z[0] = double.NegativeInfinity;
                z[1] = double.PositiveInfinity;
                continue;
            }
            // Pop the parabolas the new one hides; z[0] = -∞ stops the loop at the first.
            var s = Intersection(f, q, v[k]);
            while (s <= z[k])
            {
                k--;
                s = Intersection(f, q, v[k]);
            }
            k++;
            v[k] = q;
            z[k] = s;
            z[k + 1] = double.PositiveInfinity;
        }
        if (k < 0)
        {
            Array.Fill(d, double.PositiveInfinity, 0, n);
            return;
        }
        var j = 0;
        for (var q = 0; q < n; q++)
        {
            while (z[j + 1] < q)
                j++;
            var dq = q - v[j];
            d[q] = (double)dq * dq + f[v[j]];
        }
    }

    /// <summary>
    /// scipy's <c>distance_transform_edt</c>: for every true pixel the distance to the nearest false one, 0 at false
    /// pixels; an image without a false pixel gives 0 everywhere (it has no boundary).
    /// </summary>
    public static double[] Euclidean(ReadOnlySpan<bool> inside, ReadOnlySpan<long> shape) =>
        Euclidean(inside, shape, ReadOnlySpan<double>.Empty);

    /// <summary>As <see cref="Euclidean(ReadOnlySpan{bool}, ReadOnlySpan{long})"/> with a spacing per axis (empty for unit spacing).</summary>
    public static double[] Euclidean(ReadOnlySpan<bool> inside, ReadOnlySpan<long> shape, ReadOnlySpan<double> spacing)
    {
        var squared = SquaredDistanceTo(Not(inside), shape, spacing);
        for (var i = 0; i < squared.Length; i++)
            squared[i] = double.IsPositiveInfinity(squared[i]) ? 0 : Math.Sqrt(squared[i]);
        return squared;
    }

    /// <summary>
    /// Kervadec et al.'s signed distance map of a region: outside it the distance to the region, inside it minus
    /// (the distance to the outside - 1), so the boundary's own pixels are 0; 0 everywhere for an empty region.
    /// </summary>
    public static double[] Signed(ReadOnlySpan<bool> region, ReadOnlySpan<long> shape) => Signed(region, shape, ReadOnlySpan<double>.Empty);

    /// <summary>
    /// As <see cref="Signed(ReadOnlySpan{bool}, ReadOnlySpan{long})"/> with distances in the units of a spacing per axis
    /// (Kervadec et al.'s <c>one_hot2dist</c> with a <c>resolution</c>: the inside offset stays 1).
    /// </summary>
    public static double[] Signed(ReadOnlySpan<bool> region, ReadOnlySpan<long> shape, ReadOnlySpan<double> spacing) =>
        Combine(region, shape, spacing, (isInside, inside, outside) => isInside ? -(inside - 1) : outside);

    /// <summary>
    /// The signed distance map (<see cref="Signed(ReadOnlySpan{bool}, ReadOnlySpan{long})"/>) of every (sample, class) of a
    /// per-class target <c>N, C, *spatial</c> thresholded at 0.5, as a float64 CPU tensor of the same shape: the map a
    /// boundary loss declared with <c>ClassMap("distance")</c> reads (compute it once per target, e.g. in the data loader).
    /// </summary>
    /// <param name="target">Per-class target values <c>N, C, *spatial</c>.</param>
    /// <param name="spacing">The pixel spacing along each spatial axis (e.g. millimetres per voxel), or null for unit spacing.</param>
    public static Tensor Signed(Tensor target, double[]? spacing = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.dim() < 3)
            throw new ArgumentException(
                $"target has shape [{string.Join(", ", target.shape)}]; expected N, C, *spatial with at least one spatial axis.",
                nameof(target)
            );
        CheckSpacing(spacing, (int)target.dim() - 2);
        return PerChannel(target, (r, s) => Signed(r, s, spacing));
    }

    /// <summary>
    /// Checks a spacing: null or empty (unit spacing), or one finite, positive value per spatial axis.
    /// </summary>
    /// <param name="spacing">The spacing.</param>
    /// <param name="axes">The number of spatial axes.</param>
    public static void CheckSpacing(ReadOnlySpan<double> spacing, int axes)
    {
        if (spacing.IsEmpty)
            return;
        if (spacing.Length != axes)
            throw new ArgumentException(
                $"spacing has {spacing.Length} values, the image {axes} spatial axes; give one spacing per spatial axis.",
                nameof(spacing)
            );
        foreach (var h in spacing)
            if (!(double.IsFinite(h) && h > 0))
                throw new ArgumentOutOfRangeException(nameof(spacing), h, "every spacing must be finite and > 0");
    }

    /// <summary>
    /// MONAI's distance field of a binary image (HausdorffDTLoss): distance to the boundary both inside and outside
    /// (the EDT of the region plus the EDT of its complement); 0 everywhere for an empty region.
    /// </summary>
    public static double[] ToBoundary(ReadOnlySpan<bool> region, ReadOnlySpan<long> shape) =>
        ToBoundary(region, shape, ReadOnlySpan<double>.Empty);

    /// <summary>As <see cref="ToBoundary(ReadOnlySpan{bool}, ReadOnlySpan{long})"/> with a spacing per axis.</summary>
    public static double[] ToBoundary(ReadOnlySpan<bool> region, ReadOnlySpan<long> shape, ReadOnlySpan<double> spacing) =>
        Combine(region, shape, spacing, (_, inside, outside) => inside + outside);

    // A map from each pixel's membership and its distances to the outside (inside the region) and to the region
    // (outside it); 0 everywhere for an empty region.
    private static double[] Combine(
        ReadOnlySpan<bool> region,
        ReadOnlySpan<long> shape,
        ReadOnlySpan<double> spacing,
        Func<bool, double, double, double> map
    )
    {
        var result = new double[region.Length];
        if (!region.Contains(true))
            return result;
        var inside = Euclidean(region, shape, spacing);
        var outside = Euclidean(Not(region), shape, spacing);
        for (var i = 0; i < result.Length; i++)
            result[i] = map(region[i], inside[i], outside[i]);
        return result;
    }

    private static bool[] Not(ReadOnlySpan<bool> x)
    {
        var r = new bool[x.Length];
        for (var i = 0; i < x.Length; i++)
            r[i] = !x[i];
        return r;
    }

    /// <summary>
    /// A map per (sample, class) of a <c>N, C, *spatial</c> tensor thresholded at 0.5, as a float64 CPU tensor of the
    /// same shape (no gradient).
    /// </summary>
    internal static Tensor PerChannel(Tensor values, Func<bool[], long[], double[]> map)
    {
        using var scope = NewDisposeScope();
        var shape = values.shape;
        var spatial = shape.Skip(2).ToArray();
        var pixels = (int)spatial.Aggregate(1L, (a, b) => a * b);
        var flat = values.detach().to(float64).cpu().contiguous().data<double>().ToArray();
        var result = new double[flat.Length];
        var channels = (int)(shape[0] * shape[1]);
        System.Threading.Tasks.Parallel.For(
            0,
            channels,
            ch =>
            {
                var region = new bool[pixels];
                for (var i = 0; i < pixels; i++)
                    region[i] = flat[ch * pixels + i] > 0.5;
                Array.Copy(map(region, spatial), 0, result, ch * pixels, pixels);
            }
        );
        return tensor(result, shape, float64).MoveToOuterDisposeScope();
    }
}
