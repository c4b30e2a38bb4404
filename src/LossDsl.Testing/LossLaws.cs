using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Testing;

/// <summary>
/// Laws a loss should obey, each an FsCheck <see cref="Property"/> over generated <see cref="LossCase"/>s,
/// usable in one line on any loss: <c>LossLaws.Bounded(() => new MyLoss(), 0, 1).Verify();</c>.
/// <para>
/// The factory is called once per property; the layout (binary or multiclass) comes from the module's
/// <see cref="LossModule.Task"/>, the inputs from <see cref="LossCaseOptions.For"/> unless options are given
/// (each law then narrows them to what it needs, e.g. hard targets for a perfect prediction). Values are
/// computed in float64. A failure reports the shrunk case and what went wrong.
/// </para>
/// </summary>
public static class LossLaws
{
    /// <summary>Default relative tolerance of equalities between float64 computations of the same value in different orders.</summary>
    public const double Exact = 1e-9;

    /// <summary>Every output value is finite and lies in [<paramref name="lower"/>, <paramref name="upper"/>] (up to <paramref name="tolerance"/>).</summary>
    public static Property Bounded(
        Func<LossFunction> factory,
        double lower,
        double upper,
        LossCaseOptions? options = null,
        double tolerance = Exact
    )
    {
        var (loss, o) = Setup(factory, options);
        return Holds(
            o,
            c =>
            {
                var output = LossEval.Evaluate(loss, c);
                var bad = output.Values.FirstOrDefault(
                    v => !(v >= lower - (tolerance * (1 + Math.Abs(lower))) && v <= upper + (tolerance * (1 + Math.Abs(upper)))),
                    double.NaN
                );
                return output.Values.All(v =>
                    double.IsFinite(v)
                    && v >= lower - (tolerance * (1 + Math.Abs(lower)))
                    && v <= upper + (tolerance * (1 + Math.Abs(upper)))
                )
                    ? null
                    : $"value {Show(bad)} is not finite or lies outside [{Show(lower)}, {Show(upper)}]; output {output}";
            }
        );
    }

    /// <summary>Every output value is finite and at least 0.</summary>
    public static Property NonNegative(Func<LossFunction> factory, LossCaseOptions? options = null) =>
        Bounded(factory, 0, double.PositiveInfinity, options);

    /// <summary>
    /// On a perfect prediction of a hard target (logits ±<paramref name="margin"/>, or the target itself as
    /// probabilities) every output value is within <paramref name="tolerance"/> of 0.
    /// </summary>
    public static Property ZeroAtPerfectPrediction(
        Func<LossFunction> factory,
        LossCaseOptions? options = null,
        double tolerance = 1e-6,
        double margin = 30
    )
    {
        var (loss, o) = Setup(factory, options);
        return Holds(
            HardTargets(o),
            c =>
            {
                var output = LossEval.Evaluate(loss, c.WithPerfectPrediction(margin));
                return output.Values.All(v => Math.Abs(v) <= tolerance)
                    ? null
                    : $"at the perfect prediction the loss is {output}, not 0 (tolerance {Show(tolerance)})";
            }
        );
    }

    /// <summary>
    /// A perfect prediction of a hard target scores no more than the generated prediction (for losses whose
    /// minimum is not 0).
    /// </summary>
    public static Property MinimalAtPerfectPrediction(Func<LossFunction> factory, LossCaseOptions? options = null, double margin = 30)
    {
        var (loss, o) = Setup(factory, options);
        return Holds(
            HardTargets(o),
            c =>
            {
                var best = LossEval.Evaluate(loss, c.WithPerfectPrediction(margin));
                var any = LossEval.Evaluate(loss, c);
                return best.Total <= any.Total + (1e-9 * (1 + Math.Abs(any.Total)))
                    ? null
                    : $"the perfect prediction scores {Show(best.Total)}, more than the generated one's {Show(any.Total)}";
            }
        );
    }

    /// <summary>
    /// Moving the prediction toward a hard target (logits up where the target is 1 and down where it is 0, by
    /// a random step; probabilities part of the way) never increases any output value.
    /// </summary>
    public static Property MonotoneTowardTarget(Func<LossFunction> factory, LossCaseOptions? options = null)
    {
        var (loss, o) = Setup(factory, options);
        return Holds(
            HardTargets(o),
            c =>
            {
                var delta = 0.25 + (c.Seed % 100 / 40.0);
                var before = LossEval.Evaluate(loss, c);
                var after = LossEval.Evaluate(loss, c.MovedTowardTarget(delta));
                for (var i = 0; i < before.Values.Length; i++)
                    if (!(after.Values[i] <= before.Values[i] + (Exact * (1 + Math.Abs(before.Values[i])))))
                        return $"moving the prediction toward the target by {Show(delta)} raised value {i} from {Show(before.Values[i])} to {Show(after.Values[i])}";
                return null;
            }
        );
    }

    /// <summary>
    /// Reordering the samples of the batch (input, target and mask together) reorders a per-sample output the
    /// same way and leaves a reduced output unchanged.
    /// </summary>
    public static Property InvariantToSamplePermutation(Func<LossFunction> factory, LossCaseOptions? options = null)
    {
        var (loss, o) = Setup(factory, options);
        return Holds(
            o with
            {
                MinBatch = Math.Max(o.MinBatch, 2),
                MaxBatch = Math.Max(o.MaxBatch, 2),
            },
            c =>
            {
                var perm = Permutation(c.Batch, new Random(c.Seed));
                var original = LossEval.Evaluate(loss, c);
                var permuted = LossEval.Evaluate(loss, c.PermuteSamples(perm));
                var expected =
                    original.Shape.Length > 0 && original.Shape[0] == c.Batch && c.Batch > 1 ? PermuteAxis(original, 0, perm) : original;
                return Compare(expected, permuted, Exact, $"samples permuted by [{string.Join(", ", perm)}]");
            }
        );
    }

    /// <summary>
    /// Relabelling the classes (input channels, target classes and class weights together) leaves a reduced
    /// output unchanged and permutes a per-class output the same way (multiclass only). With
    /// <paramref name="withWeights"/> every case carries random class weights.
    /// </summary>
    public static Property InvariantToClassPermutationWithWeights(
        Func<LossFunction> factory,
        LossCaseOptions? options = null,
        bool withWeights = true
    )
    {
        var (loss, o) = Setup(factory, options);
        RequireMulticlass(o, nameof(InvariantToClassPermutationWithWeights));
        var perClass = LossEval.Modules(loss).FirstOrDefault() is { } m && (Axes.Of(m.BuildSpec()) & Over.Classes) != 0;
        return Holds(
            o with
            {
                ClassWeights = withWeights || o.ClassWeights,
            },
            c =>
            {
                var perm = Permutation(c.Classes, new Random(c.Seed));
                var original = LossEval.Evaluate(loss, c);
                var permuted = LossEval.Evaluate(loss, c.PermuteClasses(perm));
                var expected =
                    perClass && original.Shape.Length >= 2 && original.Shape[1] == c.Classes ? PermuteAxis(original, 1, perm) : original;
                return Compare(expected, permuted, Exact, $"classes permuted by [{string.Join(", ", perm)}]");
            }
        );
    }

    /// <summary>
    /// Masked pixels are cropped pixels: the loss of a case equals the loss of the same case padded with 1 to 3
    /// arbitrary pixels along its last spatial axis that the mask marks invalid (a per-pixel output is compared
    /// on the original pixels).
    /// </summary>
    public static Property MaskEquivalence(Func<LossFunction> factory, LossCaseOptions? options = null)
    {
        var (loss, o) = Setup(factory, options);
        return Holds(
            o,
            c =>
            {
                var extra = 1 + (c.Seed % 3);
                var padded = c.PaddedWithInvalidPixels(extra, new Random(c.Seed));
                var original = LossEval.Evaluate(loss, c);
                var withPadding = LossEval.Evaluate(loss, padded);
                if (
                    withPadding.Shape.Length == original.Shape.Length
                    && withPadding.Shape.Length > 0
                    && withPadding.Shape[^1] == original.Shape[^1] + extra
                )
                    withPadding = CropLastAxis(withPadding, original.Shape[^1]);
                return Compare(original, withPadding, Exact, $"{extra} masked pixels appended along the last axis: {padded.Summary}");
            }
        );
    }

    /// <summary>Changing the input and target at invalid pixels (mask false) changes no output value.</summary>
    public static Property IgnoresMaskedPixels(Func<LossFunction> factory, LossCaseOptions? options = null)
    {
        var (loss, o) = Setup(factory, options);
        return Holds(
            o with
            {
                Masks = MaskKinds.Sparse | MaskKinds.Empty,
            },
            c =>
            {
                var scrambled = c.WithInvalidPixelsScrambled(new Random(c.Seed));
                return Compare(
                    LossEval.Evaluate(loss, c),
                    LossEval.Evaluate(loss, scrambled),
                    Exact,
                    "inputs and targets changed at the invalid pixels:\n" + scrambled
                );
            }
        );
    }

    /// <summary>
    /// (Multiclass, index targets.) Marking pixels void with the module's <c>IgnoreIndex</c> is the same as
    /// masking them out.
    /// </summary>
    public static Property IgnoreIndexEqualsMask(Func<LossFunction> factory, LossCaseOptions? options = null)
    {
        var (loss, o) = Setup(factory, options);
        RequireMulticlass(o, nameof(IgnoreIndexEqualsMask));
        var ignore = LossEval.Modules(loss).FirstOrDefault()?.IgnoreIndex ?? -100;
        return Holds(
            o with
            {
                Targets = TargetKinds.Index,
                Masks = MaskKinds.Sparse | MaskKinds.Empty | MaskKinds.Full,
            },
            c =>
            {
                using var scope = NewDisposeScope();
                var masked = LossEval.Evaluate(loss, c);
                var target = c.TargetTensor().masked_fill(c.MaskTensor()!.logical_not(), ignore);
                var voided = LossEval.Evaluate(loss, c.InputTensor(), target, null, c.ClassWeightsTensor());
                return Compare(masked, voided, Exact, $"invalid pixels given class {ignore} instead of a mask");
            }
        );
    }

    /// <summary>(Multiclass.) Class-index targets and their one-hot float encoding give the same loss.</summary>
    public static Property IndexAndOneHotTargetsAgree(Func<LossFunction> factory, LossCaseOptions? options = null)
    {
        var (loss, o) = Setup(factory, options);
        RequireMulticlass(o, nameof(IndexAndOneHotTargetsAgree));
        return Holds(
            o with
            {
                Targets = TargetKinds.Index,
            },
            c => Compare(LossEval.Evaluate(loss, c), LossEval.Evaluate(loss, c.WithOneHotTarget()), Exact, "index targets one-hot encoded")
        );
    }

    /// <summary>
    /// The gradient of the loss (its sum, for unreduced outputs) with respect to the input, as the module's
    /// backward computes it, equals float64 central finite differences with step <paramref name="step"/> at
    /// <paramref name="coordinates"/> random input entries: |fd - g| ≤ 1e-6 + 1e-4·|g|. Inputs are moderate
    /// (logits in [-3, 3] unless options say otherwise), away from saturation where differences lose accuracy;
    /// probability inputs within 0.02 of 0 or 1 are skipped (clamps have kinks there, and tiny region sums make differences inaccurate).
    /// </summary>
    public static Property GradientMatchesFiniteDifferences(
        Func<LossFunction> factory,
        LossCaseOptions? options = null,
        int coordinates = 4,
        double step = 1e-5
    )
    {
        var (loss, o) = Setup(factory, options ?? new LossCaseOptions { Range = LogitRange.Moderate, Scale = 3 });
        return Holds(
            o,
            c =>
            {
                var (_, gradient) = LossEval.EvaluateWithGradient(loss, c);
                var random = new Random(c.Seed);
                var candidates = Enumerable
                    .Range(0, c.Input.Length)
                    .Where(i => c.InputSpace == InputSpace.Logits || (c.Input[i] >= 0.02 && c.Input[i] <= 0.98))
                    .OrderBy(_ => random.Next())
                    .Take(coordinates);
                foreach (var i in candidates)
                {
                    double At(double x)
                    {
                        var input = c.Input.ToArray();
                        input[i] = x;
                        return LossEval.Evaluate(loss, c with { Input = input }).Total;
                    }
                    var fd = (At(c.Input[i] + step) - At(c.Input[i] - step)) / (2 * step);
                    if (!(Math.Abs(fd - gradient[i]) <= 1e-6 + (1e-4 * Math.Abs(gradient[i]))))
                        return $"d loss / d input[{i}] is {Show(gradient[i])} by backward but {Show(fd)} by central differences (step {Show(step)})";
                }
                return null;
            }
        );
    }

    /// <summary>
    /// With extreme inputs only (logits ±100, ±50, ±30, 0; probabilities 0, 1 and their neighbours), with
    /// every mask kind including empty, the loss and its gradient are finite.
    /// </summary>
    public static Property FiniteAtExtremeLogits(Func<LossFunction> factory, LossCaseOptions? options = null)
    {
        var (loss, o) = Setup(factory, options);
        return Holds(
            o with
            {
                Range = LogitRange.Extreme,
            },
            c =>
            {
                var (output, gradient) = LossEval.EvaluateWithGradient(loss, c);
                if (!output.Values.All(double.IsFinite))
                    return $"the loss is not finite: {output}";
                var bad = Array.FindIndex(gradient, g => !double.IsFinite(g));
                return bad < 0 ? null : $"the gradient is not finite at input[{bad}]: {Show(gradient[bad])} (loss {output})";
            }
        );
    }

    /// <summary>
    /// The reductions agree: Sum equals the sum of the None output; the None output is 0 at invalid pixels;
    /// and Mean equals Sum divided by the count of valid elements (for per-pixel values, the valid pixels
    /// times the kept classes; for a <c>WeightedMean</c> spec, the total weight of its valid elements).
    /// </summary>
    public static Property ReductionConsistency(Func<Reduction, LossFunction> factory, LossCaseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var mean = factory(Reduction.Mean);
        var sum = factory(Reduction.Sum);
        var none = factory(Reduction.None);
        var (_, o) = Setup(() => mean, options);
        var module = LossEval.Modules(none).FirstOrDefault();
        var spec = module?.BuildSpec();
        var axes = spec is null ? Over.None : Axes.Of(spec);
        var pixelwise = spec is not null && Axes.IsPixelwise(axes) && (axes & Over.Batch) != 0;
        return Holds(
            o,
            c =>
            {
                var m = LossEval.Evaluate(mean, c);
                var s = LossEval.Evaluate(sum, c);
                var n = LossEval.Evaluate(none, c);
                if (m.Values.Length != 1 || s.Values.Length != 1)
                    return $"Mean and Sum must give one value each; got Mean {m}, Sum {s}";
                if (!Close(s.Values[0], n.Total, Exact))
                    return $"Sum {Show(s.Values[0])} differs from the sum of None {Show(n.Total)}; None = {n}";
                double count = n.Values.Length;
                if (pixelwise && c.Mask is not null)
                {
                    var perPixel = n.Values.Length / (c.Batch * c.Pixels);
                    var invalid = Enumerable
                        .Range(0, n.Values.Length)
                        .Where(i => !c.Mask[(i / (perPixel * c.Pixels) * c.Pixels) + (i % c.Pixels)])
                        .ToArray();
                    if (invalid.Any(i => n.Values[i] != 0))
                        return $"None is not 0 at invalid pixels: {n}";
                    count = n.Values.Length - invalid.Length;
                }
                if (spec is WeightedMean)
                    count = TotalWeight(module!, spec, c, pixelwise);
                // A mean over nothing is 0 (MeanRule: the denominator is at least 1, a zero total weight counts as 1).
                var expectedMean =
                    s.Values[0] / (spec is WeightedMean ? MeanRule.WeightDenominator(count) : MeanRule.CountDenominator(count));
                return Close(m.Values[0], expectedMean, Exact)
                    ? null
                    : $"Mean {Show(m.Values[0])} ≠ Sum {Show(s.Values[0])} / count {Show(count)} = {Show(expectedMean)}";
            }
        );
    }

    /// <summary>
    /// The generated module equals the reference interpreter in float64: values and gradients (relative
    /// <paramref name="tolerance"/>). The reference interprets the spec in the stable form the generator
    /// compiles (<see cref="LossModule.StableReference"/>), so a correct spec written as <c>Log(1 - p)</c> is
    /// not failed where the literal formula cancels; the rewrites themselves are tested in the core.
    /// </summary>
    public static Property MatchesReference(Func<LossModule> factory, LossCaseOptions? options = null, double tolerance = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var (loss, o) = Setup(factory, options);
        var module = (LossModule)loss;
        return Holds(
            o,
            c =>
            {
                var (value, grad) = LossEval.EvaluateWithGradient(module, c);
                var (refValue, refGrad) = LossEval.StableReferenceWithGradient(module, c);
                return Compare(refValue, value, tolerance, "generated vs reference value")
                    ?? Compare(
                        new LossOutput(new long[] { refGrad.Length }, refGrad),
                        new LossOutput(new long[] { grad.Length }, grad),
                        tolerance,
                        "generated vs reference gradient"
                    );
            }
        );
    }

    /// <summary>
    /// float32 inputs (the fast kernels' path) give the float64 value and gradient within
    /// <paramref name="tolerance"/>, relative to 1 + the largest magnitude.
    /// </summary>
    public static Property Float32AgreesWithFloat64(Func<LossFunction> factory, LossCaseOptions? options = null, double tolerance = 1e-4)
    {
        var (loss, o) = Setup(factory, options);
        return Holds(
            o,
            c =>
            {
                var (v64, g64) = LossEval.EvaluateWithGradient(loss, c);
                var (v32, g32) = LossEval.EvaluateWithGradient(loss, c, ScalarType.Float32);
                var scale = 1 + v64.Values.Select(Math.Abs).DefaultIfEmpty(0).Max();
                for (var i = 0; i < v64.Values.Length; i++)
                    if (!(Math.Abs(v64.Values[i] - v32.Values[i]) <= tolerance * scale))
                        return $"float32 value {Show(v32.Values[i])} vs float64 {Show(v64.Values[i])} at output[{i}]";
                var gscale = 1 + g64.Select(Math.Abs).DefaultIfEmpty(0).Max();
                for (var i = 0; i < g64.Length; i++)
                    if (!(Math.Abs(g64[i] - g32[i]) <= tolerance * gscale))
                        return $"float32 gradient {Show(g32[i])} vs float64 {Show(g64[i])} at input[{i}]";
                return null;
            }
        );
    }

    /// <summary>Two losses give the same output (same shape, values within relative <paramref name="tolerance"/>) on every case.</summary>
    public static Property Agree(
        Func<LossFunction> left,
        Func<LossFunction> right,
        LossCaseOptions? options = null,
        double tolerance = Exact
    )
    {
        ArgumentNullException.ThrowIfNull(right);
        var (a, o) = Setup(left, options);
        var b = right();
        return Holds(o, c => Compare(LossEval.Evaluate(a, c), LossEval.Evaluate(b, c), tolerance, "left vs right loss"));
    }

    /// <summary>
    /// The loss's output equals an independent computation (an oracle, e.g. written with TorchSharp's own
    /// functions) on every case: values in row-major order, within relative <paramref name="tolerance"/>.
    /// </summary>
    public static Property MatchesOracle(
        Func<LossFunction> factory,
        Func<LossCase, double[]> oracle,
        LossCaseOptions? options = null,
        double tolerance = Exact
    )
    {
        ArgumentNullException.ThrowIfNull(oracle);
        var (loss, o) = Setup(factory, options);
        return Holds(
            o,
            c =>
            {
                var output = LossEval.Evaluate(loss, c);
                var expected = oracle(c);
                return Compare(new LossOutput(output.Shape, expected), output, tolerance, "oracle vs loss");
            }
        );
    }

    /// <summary>
    /// A law of one's own: <paramref name="check"/> returns null when the case passes, or an explanation; the
    /// explanation and the shrunk case are reported on failure.
    /// </summary>
    public static Property Holds(LossCaseOptions options, Func<LossCase, string?> check)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(check);
        return Prop.ForAll(
            LossGen.Arbitrary(options),
            c =>
            {
                var failure = check(c);
                return Prop.Label(failure is null, failure ?? "ok");
            }
        );
    }

    /// <summary>
    /// Whether two values agree to a relative tolerance: |a - b| ≤ tolerance·(1 + max(|a|, |b|)); equal
    /// infinities agree, NaN never does.
    /// </summary>
    public static bool Close(double a, double b, double tolerance) =>
        a.Equals(b) || Math.Abs(a - b) <= tolerance * (1 + Math.Max(Math.Abs(a), Math.Abs(b)));

    /// <summary>Null when two outputs have the same shape and close values, otherwise an explanation.</summary>
    public static string? Compare(LossOutput expected, LossOutput actual, double tolerance, string what)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        if (
            expected.Values.Length != actual.Values.Length
            || (expected.Shape.Length > 0 && actual.Shape.Length > 0 && !expected.Shape.SequenceEqual(actual.Shape))
        )
            return $"{what}: shapes differ, {expected} vs {actual}";
        for (var i = 0; i < expected.Values.Length; i++)
            if (!Close(expected.Values[i], actual.Values[i], tolerance))
                return $"{what}: value {i} is {Show(actual.Values[i])}, expected {Show(expected.Values[i])}\n  expected {expected}\n  actual   {actual}";
        return null;
    }

    private static (LossFunction Loss, LossCaseOptions Options) Setup(Func<LossFunction> factory, LossCaseOptions? options)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var loss = factory() ?? throw new ArgumentException("the loss factory returned null", nameof(factory));
        var module = LossEval.Modules(loss).FirstOrDefault();
        if (module is null && options is null)
            throw new ArgumentException(
                $"{loss.GetType().Name} contains no LossModule, so its layout is unknown: pass LossCaseOptions with the Task.",
                nameof(options)
            );
        var o = options ?? LossCaseOptions.For(module!.Task);
        if (module is not null)
            o = o with { Task = module.Task };
        o.Validate();
        return (loss, o);
    }

    private static LossCaseOptions HardTargets(LossCaseOptions o)
    {
        var hard = o.Targets & TargetKinds.HardOrIndex;
        if (o.Task == LossTask.Binary)
            hard &= ~TargetKinds.Index;
        return o with { Targets = hard == 0 ? TargetKinds.HardOrIndex : hard };
    }

    private static void RequireMulticlass(LossCaseOptions o, string law)
    {
        if (o.Task != LossTask.Multiclass)
            throw new ArgumentException($"{law} applies to multiclass losses only; this loss is {o.Task}.");
    }

    private static int[] Permutation(int size, Random random)
    {
        var perm = Enumerable.Range(0, size).ToArray();
        for (var i = size - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }
        return perm;
    }

    // out[.., i, ..] = in[.., perm[i], ..] along one axis.
    private static LossOutput PermuteAxis(LossOutput o, int axis, int[] perm)
    {
        var outer = o.Shape.Take(axis).Aggregate(1L, (a, b) => a * b);
        var inner = o.Shape.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        var size = o.Shape[axis];
        var r = new double[o.Values.Length];
        for (long a = 0; a < outer; a++)
        for (long i = 0; i < size; i++)
            Array.Copy(o.Values, ((a * size) + perm[i]) * inner, r, ((a * size) + i) * inner, inner);
        return o with { Values = r };
    }

    private static LossOutput CropLastAxis(LossOutput o, long keep)
    {
        var last = o.Shape[^1];
        var shape = o.Shape.ToArray();
        shape[^1] = keep;
        return new LossOutput(shape, o.Values.Where((_, i) => i % last < keep).ToArray());
    }

    // Σ of a WeightedMean spec's weight over the valid elements of its value, as the interpreter computes the weight.
    private static double TotalWeight(LossModule module, Expr spec, LossCase c, bool pixelwise)
    {
        using var scope = NewDisposeScope();
        using var ctx = LossContext.Create(
            module.GetName(),
            module.Task,
            c.InputTensor(),
            c.TargetTensor(),
            c.MaskTensor(),
            c.ClassWeightsTensor() ?? module.ClassWeights,
            module.IgnoreIndex,
            checkValues: false
        );
        var (value, weight) = Interpreter.EvaluateResult(spec, ctx);
        var expanded = weight!.expand_as(value);
        var valid = pixelwise ? ctx.Masked(expanded) : expanded;
        return valid.sum().item<double>();
    }

    private static string Show(double v) => v.ToString("G9", CultureInfo.InvariantCulture);
}
