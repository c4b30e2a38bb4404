using System;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl;

/// <summary>
/// Checks a loss's raw inputs and brings them to the canonical layout. Every failure is an
/// <see cref="ArgumentException"/> that names the loss, the tensor, what it got and what it expected.
/// </summary>
internal static class InputValidation
{
    internal delegate LossContext Factory(
        Tensor input,
        Tensor? denseTarget,
        Tensor? targetIndex,
        Tensor? mask,
        Tensor? classWeights,
        bool inputHadClassAxis,
        long? deferredIgnore
    );

    /// <summary>
    /// Validates and normalises. With <paramref name="checkValues"/> the value checks (finite input, target
    /// in [0, 1], class indices in range, weights finite and >= 0) read the host once for all of them
    /// together, and once more only to describe a failure. With <paramref name="deferToKernel"/> the value
    /// checks are left to the fused kernel's pass, and class indices are used as they are: pixels at the
    /// ignore index are detected by that pass too (the context's <see cref="LossContext.DeferredIgnore"/>).
    /// </summary>
    public static LossContext Normalise(
        string loss,
        LossTask task,
        Tensor input,
        Tensor target,
        Tensor? mask,
        Tensor? classWeights,
        long ignoreIndex,
        bool checkValues,
        Factory make,
        bool deferToKernel = false,
        bool deferIgnore = false
    )
    {
        deferIgnore &= deferToKernel;
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (!input.is_floating_point())
            throw Fail(
                loss,
                "input",
                $"has dtype {input.dtype}; expected a floating-point tensor (float16, bfloat16, float32 or float64) of logits or probabilities"
            );
        SameDevice(loss, input, target, "target");
        if (mask is not null)
            SameDevice(loss, input, mask, "mask");
        if (classWeights is not null)
            SameDevice(loss, input, classWeights, "classWeights");

        // Scalars held in locals until the calls that use them return: a Scalar made implicitly at a call
        // site can be finalised while native code still reads it.
        using var zero = 0.ToScalar();
        using var one = 1.ToScalar();
        // The shape is read once: each read is a native call that allocates.
        var inputShape = input.shape;
        using var classCount = (inputShape.Length >= 2 ? inputShape[1] : 1).ToScalar();
        if (inputShape.Length == 0)
            throw Fail(
                loss,
                "input",
                task == LossTask.Binary
                    ? "is 0-dimensional (a single number); expected N, 1, *spatial or N, *spatial with 0 to 3 spatial axes"
                    : "is 0-dimensional (a single number); expected N, C, *spatial with 0 to 3 spatial axes"
            );
        for (var d = 0; d < inputShape.Length; d++)
            if (inputShape[d] == 0)
            {
                var axis =
                    d == 0 ? "the batch axis (N = 0): an empty batch has no loss"
                    : d == 1 && task == LossTask.Multiclass ? "the class axis (C = 0): expected at least one class"
                    : $"axis {d}: an image with no pixels has no loss";
                throw Fail(loss, "input", $"has shape {Show(inputShape)}, empty along {axis}");
            }
        var dtype = input.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var x = input.dtype == dtype ? input.alias() : input.to(dtype);
        var shape = inputShape;
        var hadClassAxis = true;
        if (task == LossTask.Binary)
        {
            hadClassAxis = inputShape.Length >= 2 && inputShape[1] == 1;
            if (!hadClassAxis)
            {
                x = x.unsqueeze(1);
                shape = inputShape.Take(1).Append(1L).Concat(inputShape.Skip(1)).ToArray();
            }
            if (shape.Length < 2 || shape.Length > 5)
                throw Fail(loss, "input", $"has shape {Show(inputShape)}; expected N, 1, *spatial or N, *spatial with 0 to 3 spatial axes");
        }
        else if (shape.Length < 2 || shape.Length > 5)
        {
            throw Fail(loss, "input", $"has shape {Show(inputShape)}; expected N, C, *spatial with 0 to 3 spatial axes");
        }

        var checks = new System.Collections.Generic.List<(string Tensor, Tensor Flag, Func<string>? Describe)>();
        var pixelShape = shape.Take(1).Concat(shape.Skip(2)).ToArray();
        var pixelShape1 = shape.Take(1).Append(1L).Concat(shape.Skip(2)).ToArray();

        Tensor? dense = null;
        Tensor? index = null;
        Tensor? ignored = null,
            valid = null;
        Tensor? validity = null;
        if (mask is not null)
        {
            var maskShape = mask.shape;
            if (!(Same(maskShape, pixelShape) || Same(maskShape, pixelShape1)))
                throw Fail(
                    loss,
                    "mask",
                    $"has shape {Show(mask.shape)}; expected {Show(pixelShape)} or {Show(pixelShape1)} (N, *spatial, 1 = valid)"
                );
            validity = (mask.dtype == ScalarType.Bool ? mask.alias() : mask.ne(zero)).reshape(pixelShape1).contiguous();
        }

        var targetShape = target.shape;
        var isIndex =
            !target.is_floating_point() && target.dtype != ScalarType.Bool && (task == LossTask.Multiclass) && !Same(targetShape, shape);
        if (isIndex)
        {
            if (!(Same(targetShape, pixelShape) || Same(targetShape, pixelShape1)))
                throw Fail(
                    loss,
                    "target",
                    $"has shape {Show(target.shape)} and dtype {target.dtype}; class indices must have shape {Show(pixelShape)} (N, *spatial)"
                );
            var t = target.to(ScalarType.Int64).reshape(pixelShape1).contiguous();
            if (deferIgnore)
            {
                index = t;
            }
            else
            {
                using var ignore = ignoreIndex.ToScalar();
                ignored = t.eq(ignore);
                valid = ignored.logical_not();
                if (checkValues && !deferToKernel)
                {
                    // Out-of-range indices (not ignored): bad = (t < 0 | t >= C) & valid.
                    var bad = (t.lt(zero).logical_or(t.ge(classCount))).logical_and(valid);
                    var classes = shape[1];
                    checks.Add(("target", bad.any(), () => DescribeIndex(t, bad, classes, ignoreIndex)));
                }
                checks.Add(("ignored", ignored.any(), null));
                index = t;
            }
        }
        else
        {
            var ok = Same(targetShape, shape) || (task == LossTask.Binary && Same(targetShape, pixelShape));
            if (!ok)
            {
                var expected =
                    task == LossTask.Binary
                        ? $"{Show(shape)} or {Show(pixelShape)} (the input's shape, with or without the class axis)"
                        : $"{Show(shape)} (per-class float targets) or class indices {Show(pixelShape)} of an integer dtype";
                throw Fail(loss, "target", $"has shape {Show(target.shape)} and dtype {target.dtype}; expected {expected}");
            }
            dense = target.to(dtype).reshape(shape).contiguous();
            if (checkValues && !deferToKernel)
            {
                // NaN fails both comparisons: outside = !(t >= 0 & t <= 1).
                var outside = dense.ge(zero).logical_and(dense.le(one)).logical_not();
                var d = dense;
                checks.Add(
                    (
                        "target",
                        outside.any(),
                        () =>
                            Describe(d, outside, "has the value {0} at {1}, outside [0, 1]; expected hard (0/1) or soft targets in [0, 1]")
                    )
                );
            }
        }

        Tensor? weights = null;
        if (classWeights is not null)
        {
            if (classWeights.dim() != 1 || classWeights.shape[0] != shape[1])
                throw Fail(
                    loss,
                    "classWeights",
                    $"has shape {Show(classWeights.shape)}; expected [{shape[1]}] (one weight per class, C = {shape[1]})"
                );
            var wshape = Enumerable.Repeat(1L, shape.Length).ToArray();
            wshape[1] = shape[1];
            weights = classWeights.to(dtype).reshape(wshape);
            if (checkValues)
            {
                var w = classWeights;
                Func<string> describe = () =>
                {
                    using var flagged = w.lt(0.0).logical_or(w.isfinite().logical_not());
                    using var first = flagged.nonzero()[0, 0];
                    var c = first.ToInt64();
                    return $"has the entry {Number(w[c].to(ScalarType.Float64).ToDouble())} for class {c}; expected finite weights >= 0";
                };
                // C values on the host are read in place (no tensor operations); elsewhere the flag joins the one host read.
                if (weights.device_type == DeviceType.CPU)
                {
                    if (HasNegativeOrNonFinite(weights))
                        checks.Add(("classWeights", tensor(true), describe));
                }
                else
                {
                    checks.Add(("classWeights", weights.lt(zero).logical_or(weights.isfinite().logical_not()).any(), describe));
                }
            }
        }
        if (checkValues && !deferToKernel)
        {
            var bad = x.isfinite().all().logical_not();
            var xi = x;
            checks.Insert(
                0,
                (
                    "input",
                    bad,
                    () =>
                        Describe(
                            xi,
                            xi.isfinite().logical_not(),
                            "has the value {0} at {1}; a loss of a non-finite input is undefined (check the model's output)"
                        )
                )
            );
        }
        // One host read for every check and for the ignore detection.
        if (ReadOnce(loss, checks).Contains("ignored"))
        {
            // Ignored pixels become masked, with a valid class index (0) in their place.
            index = index!.masked_fill(ignored!, zero);
            validity = validity is null ? valid!.alias() : validity.logical_and(valid!);
        }
        ignored?.Dispose();
        valid?.Dispose();

        return make(x, dense, index, validity, weights, hadClassAxis, deferIgnore && index is not null ? ignoreIndex : null);
    }

    // One host read for every pending check (0-D bool tensors, true = failed); then, for the first failure,
    // its description (more reads, on the failure path only). Returns the names of the checks that came
    // back true and have no description (facts rather than failures, like "ignored").
    private static System.Collections.Generic.HashSet<string> ReadOnce(
        string loss,
        System.Collections.Generic.List<(string Tensor, Tensor Flag, Func<string>? Describe)> checks
    )
    {
        var facts = new System.Collections.Generic.HashSet<string>();
        if (checks.Count == 0)
            return facts;
        using var stacked = stack(checks.Select(c => c.Flag.reshape(1)).ToArray());
        var values = stacked.to(ScalarType.Bool).cpu().data<bool>().ToArray();
        for (var i = 0; i < checks.Count; i++)
        {
            if (!values[i])
                continue;
            if (checks[i].Describe is { } describe)
                throw Fail(loss, checks[i].Tensor, describe());
            facts.Add(checks[i].Tensor);
        }
        foreach (var c in checks)
            c.Flag.Dispose();
        return facts;
    }

    // Whether a float32 or float64 CPU tensor holds an entry below 0, a NaN or an infinity.
    private static bool HasNegativeOrNonFinite(Tensor t)
    {
        using var flat = t.contiguous();
        if (flat.dtype == ScalarType.Float64)
        {
            using var doubles = flat.data<double>();
            foreach (var v in doubles)
                if (!(double.IsFinite(v) && v >= 0))
                    return true;
            return false;
        }
        using var floats = flat.data<float>();
        foreach (var v in floats)
            if (!(float.IsFinite(v) && v >= 0))
                return true;
        return false;
    }

    // The first flagged element of t: its value and its position (N, C, *spatial).
    private static string Describe(Tensor t, Tensor flagged, string format)
    {
        using var first = flagged.flatten().nonzero()[0, 0];
        var flat = first.ToInt64();
        var position = Unravel(flat, t.shape);
        using var all = t.flatten();
        var value = all[flat].to(ScalarType.Float64).ToDouble();
        return string.Format(
            System.Globalization.CultureInfo.InvariantCulture,
            format,
            Number(value),
            "[" + string.Join(", ", position) + "] (N, C, *spatial)"
        );
    }

    private static string DescribeIndex(Tensor t, Tensor bad, long classes, long ignoreIndex)
    {
        using var first = bad.flatten().nonzero()[0, 0];
        var flat = first.ToInt64();
        var position = Unravel(flat, t.shape).Where((_, i) => i != 1); // N, 1, *spatial: drop the class axis
        using var all = t.flatten();
        var value = all[flat].ToInt64();
        return $"holds class index {value} at [{string.Join(", ", position)}] (N, *spatial), outside [0, {classes - 1}] for C = {classes} (and not ignoreIndex = {ignoreIndex})";
    }

    internal static long[] Unravel(long flat, long[] shape)
    {
        var position = new long[shape.Length];
        for (var d = shape.Length - 1; d >= 0; d--)
        {
            position[d] = flat % shape[d];
            flat /= shape[d];
        }
        return position;
    }

    private static string Number(double v) =>
        double.IsNaN(v) ? "NaN"
        : double.IsPositiveInfinity(v) ? "+infinity"
        : double.IsNegativeInfinity(v) ? "-infinity"
        : v.ToString("G9", System.Globalization.CultureInfo.InvariantCulture);

    private static void SameDevice(string loss, Tensor input, Tensor other, string name)
    {
        if (other.device_type != input.device_type || other.device_index != input.device_index)
            throw Fail(loss, name, $"is on {other.device}; expected the input's device {input.device}");
    }

    private static bool Same(long[] a, long[] b) => a.SequenceEqual(b);

    internal static string Show(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static ArgumentException Fail(string loss, string tensor, string what) => new($"{loss}: {tensor} {what}.", tensor);
}
