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
    internal delegate LossContext Factory(Tensor input, Tensor? denseTarget, Tensor? targetIndex, Tensor? mask,
                                          Tensor? classWeights, bool inputHadClassAxis);

    public static LossContext Normalise(string loss, LossTask task, Tensor input, Tensor target, Tensor? mask,
                                        Tensor? classWeights, long ignoreIndex, bool checkValues, Factory make)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (!input.is_floating_point())
            throw Fail(loss, "input", $"has dtype {input.dtype}; expected a floating-point tensor (float16, bfloat16, float32 or float64) of logits or probabilities");
        SameDevice(loss, input, target, "target");
        if (mask is not null) SameDevice(loss, input, mask, "mask");
        if (classWeights is not null) SameDevice(loss, input, classWeights, "classWeights");

        // Scalars held in locals until the calls that use them return: a Scalar made implicitly at a call
        // site can be finalised while native code still reads it.
        using var zero = 0.ToScalar();
        using var one = 1.ToScalar();
        using var classCount = (input.dim() >= 2 ? input.shape[1] : 1).ToScalar();
        if (input.dim() == 0)
            throw Fail(loss, "input", task == LossTask.Binary
                ? "is 0-dimensional (a single number); expected N, 1, *spatial or N, *spatial with 0 to 3 spatial axes"
                : "is 0-dimensional (a single number); expected N, C, *spatial with 0 to 3 spatial axes");
        for (var d = 0; d < input.dim(); d++)
            if (input.shape[d] == 0)
            {
                var axis = d == 0 ? "the batch axis (N = 0): an empty batch has no loss"
                    : d == 1 && task == LossTask.Multiclass ? "the class axis (C = 0): expected at least one class"
                    : $"axis {d}: an image with no pixels has no loss";
                throw Fail(loss, "input", $"has shape {Show(input.shape)}, empty along {axis}");
            }
        var dtype = input.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var x = input.dtype == dtype ? input.alias() : input.to(dtype);
        var hadClassAxis = true;
        if (task == LossTask.Binary)
        {
            hadClassAxis = input.dim() >= 2 && input.shape[1] == 1;
            if (!hadClassAxis) x = x.unsqueeze(1);
            if (x.dim() < 2 || x.dim() > 5)
                throw Fail(loss, "input", $"has shape {Show(input.shape)}; expected N, 1, *spatial or N, *spatial with 0 to 3 spatial axes");
        }
        else if (x.dim() < 2 || x.dim() > 5)
        {
            throw Fail(loss, "input", $"has shape {Show(input.shape)}; expected N, C, *spatial with 0 to 3 spatial axes");
        }

        var shape = x.shape;
        var pixelShape = shape.Take(1).Concat(shape.Skip(2)).ToArray();
        var pixelShape1 = shape.Take(1).Append(1L).Concat(shape.Skip(2)).ToArray();

        if (checkValues)
        {
            using var finite = x.isfinite().all();
            if (!finite.item<bool>())
                throw Fail(loss, "input", "contains NaN or infinite values; a loss of such an input is undefined (check the model's output)");
        }

        Tensor? dense = null;
        Tensor? index = null;
        Tensor? validity = null;
        if (mask is not null)
        {
            if (!(Same(mask.shape, pixelShape) || Same(mask.shape, pixelShape1)))
                throw Fail(loss, "mask", $"has shape {Show(mask.shape)}; expected {Show(pixelShape)} or {Show(pixelShape1)} (N, *spatial, 1 = valid)");
            validity = (mask.dtype == ScalarType.Bool ? mask.alias() : mask.ne(zero)).reshape(pixelShape1);
        }

        var isIndex = !target.is_floating_point() && target.dtype != ScalarType.Bool
                      && (task == LossTask.Multiclass) && !Same(target.shape, shape);
        if (isIndex)
        {
            if (!(Same(target.shape, pixelShape) || Same(target.shape, pixelShape1)))
                throw Fail(loss, "target", $"has shape {Show(target.shape)} and dtype {target.dtype}; class indices must have shape {Show(pixelShape)} (N, *spatial)");
            var t = target.to(ScalarType.Int64).reshape(pixelShape1);
            using var ignore = ignoreIndex.ToScalar();
            using var ignored = t.eq(ignore);
            using var anyIgnored = ignored.any();
            var hasIgnored = anyIgnored.item<bool>();
            using var valid = ignored.logical_not();
            if (checkValues)
            {
                using var bad = (t.lt(zero).logical_or(t.ge(classCount))).logical_and(valid);
                if (bad.any().item<bool>())
                {
                    using var badValues = t.masked_select(bad);
                    throw Fail(loss, "target", $"holds class index {badValues[0].item<long>()}, outside [0, {x.shape[1] - 1}] for C = {x.shape[1]} (and not ignoreIndex = {ignoreIndex})");
                }
            }
            // Without ignored pixels the indices are used as they are (no input-sized copy).
            index = hasIgnored ? t.masked_fill(ignored, zero) : t;
            if (hasIgnored)
                validity = validity is null ? valid.alias() : validity.logical_and(valid);
        }
        else
        {
            var ok = Same(target.shape, shape) || (task == LossTask.Binary && Same(target.shape, pixelShape));
            if (!ok)
            {
                var expected = task == LossTask.Binary
                    ? $"{Show(shape)} or {Show(pixelShape)} (the input's shape, with or without the class axis)"
                    : $"{Show(shape)} (per-class float targets) or class indices {Show(pixelShape)} of an integer dtype";
                throw Fail(loss, "target", $"has shape {Show(target.shape)} and dtype {target.dtype}; expected {expected}");
            }
            dense = target.to(dtype).reshape(shape);
            if (checkValues)
            {
                using var outside = dense.lt(zero).logical_or(dense.gt(one)).logical_or(dense.isnan());
                if (outside.any().item<bool>())
                    throw Fail(loss, "target", "has values outside [0, 1]; expected hard (0/1) or soft targets in [0, 1]");
            }
        }

        Tensor? weights = null;
        if (classWeights is not null)
        {
            if (classWeights.dim() != 1 || classWeights.shape[0] != x.shape[1])
                throw Fail(loss, "classWeights", $"has shape {Show(classWeights.shape)}; expected [{x.shape[1]}] (one weight per class, C = {x.shape[1]})");
            var wshape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
            wshape[1] = x.shape[1];
            weights = classWeights.to(dtype).reshape(wshape);
            if (checkValues)
            {
                using var bad = weights.lt(zero).logical_or(weights.isfinite().logical_not());
                if (bad.any().item<bool>())
                    throw Fail(loss, "classWeights", "has negative, NaN or infinite entries; expected finite weights >= 0");
            }
        }

        return make(x, dense, index, validity, weights, hadClassAxis);
    }

    private static void SameDevice(string loss, Tensor input, Tensor other, string name)
    {
        if (other.device_type != input.device_type || other.device_index != input.device_index)
            throw Fail(loss, name, $"is on {other.device}; expected the input's device {input.device}");
    }

    private static bool Same(long[] a, long[] b) => a.SequenceEqual(b);

    internal static string Show(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static ArgumentException Fail(string loss, string tensor, string what) =>
        new($"{loss}: {tensor} {what}.", tensor);
}
