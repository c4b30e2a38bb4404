using System;
using System.Collections.Generic;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;

namespace LossDsl.Testing;

/// <summary>
/// FsCheck generators and shrinkers for loss inputs. <see cref="Arbitrary"/> is what the laws use; the
/// pieces (<see cref="Spatial"/>, <see cref="Logit"/>, <see cref="ClassWeights"/>, …) compose into
/// generators of one's own with FsCheck's LINQ syntax.
/// </summary>
public static class LossGen
{
    private static readonly double[] Extremes = { 100, -100, 30, -30, 15, -15, 0 };
    private static readonly double[] OnlyExtremes = { 100, -100, 50, -50, 30, -30, 0 };

    /// <summary>Spatial extents: 1-D up to <see cref="LossCaseOptions.MaxLength"/>, 2-D up to 4×4, 3-D up to 3×3×3.</summary>
    public static Gen<int[]> Spatial(LossCaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Gen.Elements(options.SpatialRanks)
            .SelectMany(rank =>
                Gen.ArrayOf(
                    Gen.Choose(
                        1,
                        Math.Min(
                            options.MaxLength,
                            rank switch
                            {
                                1 => 8,
                                2 => 4,
                                _ => 3,
                            }
                        )
                    ),
                    rank
                )
            );
    }

    /// <summary>One input value per <see cref="LossCaseOptions.Range"/> (logits; see <see cref="Cases"/> for probabilities).</summary>
    public static Gen<double> Logit(LossCaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var bound = (int)Math.Round(options.Scale * 100);
        var moderate = Gen.Choose(-bound, bound).Select(i => i / 100.0);
        return options.Range switch
        {
            LogitRange.Moderate => moderate,
            LogitRange.Extreme => Gen.Elements(OnlyExtremes),
            _ => Gen.Frequency((5, moderate), (1, Gen.Elements(Extremes))),
        };
    }

    /// <summary>Positive class weights, 0.1 to 5, one per class.</summary>
    public static Gen<double[]> ClassWeights(int classes) => Gen.ArrayOf(Gen.Choose(10, 500).Select(i => i / 100.0), classes);

    /// <summary>A validity mask of <paramref name="pixels"/> entries of one of the allowed kinds (null for <see cref="MaskKinds.None"/>).</summary>
    public static Gen<bool[]?> Mask(MaskKinds kinds, int pixels)
    {
        var choices = new List<Gen<bool[]?>>();
        if (kinds.HasFlag(MaskKinds.None))
            choices.Add(Gen.Constant<bool[]?>(null));
        if (kinds.HasFlag(MaskKinds.Full))
            choices.Add(Gen.Constant<bool[]?>(Enumerable.Repeat(true, pixels).ToArray()));
        if (kinds.HasFlag(MaskKinds.Empty))
            choices.Add(Gen.Constant<bool[]?>(new bool[pixels]));
        if (kinds.HasFlag(MaskKinds.Sparse))
            choices.Add(
                Gen.Elements(10, 50, 80)
                    .SelectMany(density =>
                        Gen.ArrayOf(Gen.Choose(0, 99), pixels).Select(r => (bool[]?)r.Select(v => v < density).ToArray())
                    )
            );
        return Gen.OneOf(choices);
    }

    /// <summary>Loss inputs as the options describe (see <see cref="LossCaseOptions"/>).</summary>
    public static Gen<LossCase> Cases(LossCaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var o = options;
        var binary = o.Task == LossTask.Binary;
        var kinds = new[] { TargetKind.Hard, TargetKind.Soft, TargetKind.Index }
            .Where(k => o.Targets.HasFlag(Flag(k)) && !(binary && k == TargetKind.Index))
            .ToArray();
        var classesGen = binary ? Gen.Constant(1) : Gen.Choose(o.MinClasses, o.MaxClasses);
        return from batch in Gen.Choose(o.MinBatch, o.MaxBatch)
            from classes in classesGen
            from spatial in Spatial(o)
            let pixels = spatial.Aggregate(1, (a, b) => a * b)
            from input in Inputs(o, batch, classes, pixels)
            from kind in Gen.Elements(kinds)
            from target in Targets(o.Task, kind, batch, classes, pixels)
            from mask in Mask(o.Masks, batch * pixels)
            from weights in o.ClassWeights ? ClassWeights(classes).Select(w => (double[]?)w) : Gen.Constant<double[]?>(null)
            select new LossCase(o.Task, batch, classes, spatial, o.Input, input, kind, target, mask, weights);
    }

    /// <summary>
    /// The arbitrary the laws draw from: <see cref="Cases"/> with a shrinker that removes samples, pixels and
    /// classes, drops the mask and the weights (where the options allow), and simplifies values, so a failure
    /// is reported on a small case.
    /// </summary>
    public static Arbitrary<LossCase> Arbitrary(LossCaseOptions options) => Arb.From(Cases(options), c => Shrink(c, options));

    private static TargetKinds Flag(TargetKind k) =>
        k switch
        {
            TargetKind.Hard => TargetKinds.Hard,
            TargetKind.Soft => TargetKinds.Soft,
            _ => TargetKinds.Index,
        };

    private static Gen<double[]> Inputs(LossCaseOptions o, int batch, int classes, int pixels)
    {
        var n = batch * classes * pixels;
        if (o.Input == InputSpace.Logits)
            return Gen.ArrayOf(Logit(o), n);
        if (o.Task == LossTask.Multiclass)
            return Gen.ArrayOf(Logit(o with { Scale = Math.Min(o.Scale, 4) }), n).Select(x => SoftmaxRows(x, batch, classes, pixels));
        var p = Gen.Choose(0, 100).Select(i => i / 100.0);
        var values = o.Range switch
        {
            LogitRange.Moderate => p,
            LogitRange.Extreme => Gen.Elements(0.0, 1.0, 1e-12, 1 - 1e-12),
            _ => Gen.Frequency((5, p), (1, Gen.Elements(0.0, 1.0, 1e-12, 1 - 1e-12))),
        };
        return Gen.ArrayOf(values, n);
    }

    private static Gen<double[]> Targets(LossTask task, TargetKind kind, int batch, int classes, int pixels)
    {
        if (task == LossTask.Binary)
        {
            if (kind == TargetKind.Soft)
                return Gen.ArrayOf(Gen.Choose(0, 100).Select(i => i / 100.0), batch * pixels);
            // Densities 0 and 1 give all-background and all-foreground targets.
            return Gen.Frequency(
                    (1, Gen.Constant(0)),
                    (2, Gen.Constant(30)),
                    (2, Gen.Constant(50)),
                    (2, Gen.Constant(70)),
                    (1, Gen.Constant(100))
                )
                .SelectMany(density =>
                    Gen.ArrayOf(Gen.Choose(0, 99), batch * pixels).Select(r => r.Select(v => v < density ? 1.0 : 0.0).ToArray())
                );
        }
        if (kind == TargetKind.Soft)
            return Gen.ArrayOf(Gen.Choose(-300, 300).Select(i => i / 100.0), batch * classes * pixels)
                .Select(x => SoftmaxRows(x, batch, classes, pixels));
        // Mostly uniform class indices; sometimes a single class everywhere.
        var indices = Gen.Frequency(
            (4, Gen.ArrayOf(Gen.Choose(0, classes - 1), batch * pixels)),
            (1, Gen.Choose(0, classes - 1).Select(c => Enumerable.Repeat(c, batch * pixels).ToArray()))
        );
        var asDoubles = indices.Select(a => a.Select(i => (double)i).ToArray());
        return kind == TargetKind.Index
            ? asDoubles
            : asDoubles.Select(t =>
                new LossCase(
                    task,
                    batch,
                    classes,
                    new[] { pixels },
                    InputSpace.Logits,
                    new double[batch * classes * pixels],
                    TargetKind.Index,
                    t,
                    null,
                    null
                ).PerClassTarget()
            );
    }

    /// <summary>Softmax over the class axis of a row-major <c>N, C, P</c> array.</summary>
    internal static double[] SoftmaxRows(double[] x, int batch, int classes, int pixels)
    {
        var r = new double[x.Length];
        for (var n = 0; n < batch; n++)
        for (var s = 0; s < pixels; s++)
        {
            var max = double.NegativeInfinity;
            for (var c = 0; c < classes; c++)
                max = Math.Max(max, x[((n * classes) + c) * pixels + s]);
            var total = 0.0;
            for (var c = 0; c < classes; c++)
                total += Math.Exp(x[((n * classes) + c) * pixels + s] - max);
            for (var c = 0; c < classes; c++)
            {
                var i = ((n * classes) + c) * pixels + s;
                r[i] = Math.Exp(x[i] - max) / total;
            }
        }
        return r;
    }

    /// <summary>
    /// Smaller versions of a case, simplest first: fewer samples, a shorter last spatial axis, fewer classes,
    /// no mask (or a full one), unit class weights, integer-rounded and zeroed inputs.
    /// </summary>
    public static IEnumerable<LossCase> Shrink(LossCase c, LossCaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(options);
        if (c.Batch > options.MinBatch)
        {
            yield return KeepSamples(c, Enumerable.Range(0, c.Batch - 1).ToArray());
            yield return KeepSamples(c, Enumerable.Range(1, c.Batch - 1).ToArray());
        }
        if (c.Spatial[^1] > 1)
            yield return CropLast(c);
        if (c.Task == LossTask.Multiclass && c.Classes > Math.Max(options.MinClasses, 1))
            yield return DropLastClass(c);
        if (c.Mask is not null && options.Masks.HasFlag(MaskKinds.None))
            yield return c with
            {
                Mask = null,
            };
        if (c.Mask is not null && c.Mask.Any(m => !m) && c.Mask.Any(m => m) && options.Masks.HasFlag(MaskKinds.Full))
            yield return c with
            {
                Mask = Enumerable.Repeat(true, c.Mask.Length).ToArray(),
            };
        if (c.ClassWeights is not null && c.ClassWeights.Any(w => w != 1))
            yield return c with
            {
                ClassWeights = Enumerable.Repeat(1.0, c.ClassWeights.Length).ToArray(),
            };
        if (c.InputSpace == InputSpace.Logits)
        {
            if (c.Input.Any(x => x != Math.Round(x)))
                yield return c with
                {
                    Input = c.Input.Select(x => Math.Round(x)).ToArray(),
                };
            var nonZero = Enumerable.Range(0, c.Input.Length).Where(i => c.Input[i] != 0).Take(4);
            foreach (var i in nonZero)
            {
                var input = c.Input.ToArray();
                input[i] = 0;
                yield return c with
                {
                    Input = input,
                };
            }
        }
        else if (c.Task == LossTask.Binary && c.Input.Any(p => p != Math.Round(p * 2) / 2))
        {
            yield return c with
            {
                Input = c.Input.Select(p => Math.Round(p * 2) / 2).ToArray(),
            };
        }
        if (c.TargetKind == TargetKind.Soft && c.Task == LossTask.Binary && c.Target.Any(t => t != Math.Round(t)))
            yield return c with
            {
                Target = c.Target.Select(t => Math.Round(t)).ToArray(),
            };
    }

    private static LossCase KeepSamples(LossCase c, int[] samples)
    {
        var perSample = c.Classes * c.Pixels;
        var targetBlock = c.TargetKind == TargetKind.Index ? c.Pixels : perSample;
        return c with
        {
            Batch = samples.Length,
            Input = samples.SelectMany(s => c.Input.Skip(s * perSample).Take(perSample)).ToArray(),
            Target = samples.SelectMany(s => c.Target.Skip(s * targetBlock).Take(targetBlock)).ToArray(),
            Mask = c.Mask is null ? null : samples.SelectMany(s => c.Mask.Skip(s * c.Pixels).Take(c.Pixels)).ToArray(),
        };
    }

    // Drops the last position of the last spatial axis.
    private static LossCase CropLast(LossCase c)
    {
        var last = c.Spatial[^1];
        T[] Crop<T>(T[] a) => a.Where((_, i) => i % last != last - 1).ToArray();
        var spatial = c.Spatial.ToArray();
        spatial[^1] = last - 1;
        var cropped = c with
        {
            Spatial = spatial,
            Input = Crop(c.Input),
            Target = Crop(c.Target),
            Mask = c.Mask is null ? null : Crop(c.Mask),
        };
        return Renormalised(cropped);
    }

    // Drops class C-1: index targets of that class become class 0, one-hot pixels of it become class 0.
    private static LossCase DropLastClass(LossCase c)
    {
        var classes = c.Classes - 1;
        var p = c.Pixels;
        double[] Drop(double[] a) => Enumerable.Range(0, c.Batch).SelectMany(n => a.Skip(n * c.Classes * p).Take(classes * p)).ToArray();
        var target = c.TargetKind switch
        {
            TargetKind.Index => c.Target.Select(t => t == classes ? 0.0 : t).ToArray(),
            _ => Drop(c.Target),
        };
        if (c.TargetKind == TargetKind.Hard)
            for (var n = 0; n < c.Batch; n++)
            for (var s = 0; s < p; s++)
            {
                var any = false;
                for (var k = 0; k < classes; k++)
                    any |= target[((n * classes) + k) * p + s] > 0.5;
                if (!any)
                    target[(n * classes * p) + s] = 1;
            }
        var dropped = c with
        {
            Classes = classes,
            Input = Drop(c.Input),
            Target = target,
            ClassWeights = c.ClassWeights?.Take(classes).ToArray(),
        };
        return Renormalised(dropped);
    }

    // Per-class distributions (soft multiclass targets, multiclass probabilities) summed to 1 again.
    private static LossCase Renormalised(LossCase c)
    {
        if (c.Task != LossTask.Multiclass)
            return c;
        double[] Norm(double[] a)
        {
            var r = a.ToArray();
            for (var n = 0; n < c.Batch; n++)
            for (var s = 0; s < c.Pixels; s++)
            {
                var total = 0.0;
                for (var k = 0; k < c.Classes; k++)
                    total += r[((n * c.Classes) + k) * c.Pixels + s];
                for (var k = 0; k < c.Classes; k++)
                {
                    var i = ((n * c.Classes) + k) * c.Pixels + s;
                    r[i] = total > 0 ? r[i] / total : 1.0 / c.Classes;
                }
            }
            return r;
        }
        return c with
        {
            Input = c.InputSpace == InputSpace.Probabilities ? Norm(c.Input) : c.Input,
            Target = c.TargetKind == TargetKind.Soft ? Norm(c.Target) : c.Target,
        };
    }
}
