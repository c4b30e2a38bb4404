using System;
using System.Linq;
using LossDsl.Testing;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Properties.Tests.Catalog;

/// <summary>Class-weight estimators: positive, finite, and scaling as documented.</summary>
public class EstimatorLaws
{
    private static readonly LossCaseOptions IndexTargets = LossCaseOptions.For(LossTask.Multiclass) with { Targets = TargetKinds.Index };

    private static readonly (string Name, Func<Tensor, int, Tensor?, Tensor> Estimate)[] Estimators =
    {
        ("Balanced", (t, c, m) => ClassWeightEstimators.Balanced(t, c, m)),
        ("InverseFrequency", (t, c, m) => ClassWeightEstimators.InverseFrequency(t, c, 0.0, m)),
        ("InverseFrequency(blend 0.3)", (t, c, m) => ClassWeightEstimators.InverseFrequency(t, c, 0.3, m)),
        ("MedianFrequency", (t, c, m) => ClassWeightEstimators.MedianFrequency(t, c, m)),
        ("EffectiveNumber", (t, c, m) => ClassWeightEstimators.EffectiveNumber(t, c, 0.99, m)),
    };

    private static double[] Weights(int estimator, LossCase c)
    {
        using var scope = NewDisposeScope();
        return Estimators[estimator].Estimate(c.TargetTensor(), c.Classes, c.MaskTensor()).to(ScalarType.Float64).data<double>().ToArray();
    }

    private static double[] Counts(LossCase c)
    {
        var counts = new double[c.Classes];
        for (var i = 0; i < c.Target.Length; i++)
            if (c.Mask?[i] ?? true)
                counts[(int)c.Target[i]]++;
        return counts;
    }

    [Fact]
    public void Every_estimator_gives_C_positive_finite_weights_even_for_absent_classes_and_empty_masks() =>
        LossLaws
            .Holds(
                IndexTargets,
                c =>
                {
                    for (var e = 0; e < Estimators.Length; e++)
                    {
                        var w = Weights(e, c);
                        if (w.Length != c.Classes || !w.All(v => double.IsFinite(v) && v > 0))
                            return $"{Estimators[e].Name}: weights {LossCase.Format(w)} for counts {LossCase.Format(Counts(c))}";
                    }
                    return null;
                }
            )
            .Verify();

    [Fact]
    public void Rarer_classes_never_weigh_less() =>
        LossLaws
            .Holds(
                IndexTargets,
                c =>
                {
                    var n = Counts(c);
                    for (var e = 0; e < Estimators.Length; e++)
                    {
                        var w = Weights(e, c);
                        for (var a = 0; a < c.Classes; a++)
                        for (var b = 0; b < c.Classes; b++)
                            if (n[a] > 0 && n[b] > 0 && n[a] < n[b] && w[a] < w[b] * (1 - 1e-6))
                                return $"{Estimators[e].Name}: class {a} ({n[a]} pixels) weighs {w[a]} < class {b} ({n[b]} pixels) {w[b]}";
                    }
                    return null;
                }
            )
            .Verify();

    [Fact]
    public void Frequency_estimators_do_not_change_when_the_data_is_repeated() =>
        // Balanced, inverse and median frequency depend on class frequencies only: doubling every count
        // (the batch repeated) leaves them unchanged (float32 results: 1e-6 relative).
        LossLaws
            .Holds(
                IndexTargets,
                c =>
                {
                    var twice = c.PermuteSamples(Enumerable.Range(0, c.Batch).ToArray()) with
                    {
                        Batch = 2 * c.Batch,
                        Input = c.Input.Concat(c.Input).ToArray(),
                        Target = c.Target.Concat(c.Target).ToArray(),
                        Mask = c.Mask?.Concat(c.Mask).ToArray(),
                    };
                    for (var e = 0; e < 4; e++)
                    {
                        var once = Weights(e, c);
                        var repeated = Weights(e, twice);
                        if (!once.Zip(repeated).All(p => LossLaws.Close(p.First, p.Second, 1e-6)))
                            return $"{Estimators[e].Name}: {LossCase.Format(once)} vs {LossCase.Format(repeated)} on the repeated batch";
                    }
                    return null;
                }
            )
            .Verify();

    [Fact]
    public void Balanced_weights_give_every_present_class_the_same_total() =>
        // w_c = n / (C·n_c): each present class's pixels weigh n / C in total.
        LossLaws
            .Holds(
                IndexTargets,
                c =>
                {
                    var n = Counts(c);
                    var total = n.Sum();
                    var w = Weights(0, c);
                    for (var k = 0; k < c.Classes; k++)
                        if (n[k] > 0 && !LossLaws.Close(n[k] * w[k], total / c.Classes, 1e-6))
                            return $"class {k}: {n[k]} pixels × {w[k]} ≠ {total} / {c.Classes}";
                    return null;
                }
            )
            .Verify();

    [Fact]
    public void Effective_number_weights_of_present_classes_sum_to_their_number() =>
        LossLaws
            .Holds(
                IndexTargets,
                c =>
                {
                    var n = Counts(c);
                    var w = Weights(4, c);
                    var present = Enumerable.Range(0, c.Classes).Where(k => n[k] > 0).ToArray();
                    var sum = present.Sum(k => w[k]);
                    return present.Length == 0 || LossLaws.Close(sum, present.Length, 1e-5)
                        ? null
                        : $"present weights sum to {sum}, expected {present.Length}";
                }
            )
            .Verify();

    [Fact]
    public void Pos_weight_is_negatives_over_positives_and_the_balanced_ratio() =>
        LossLaws
            .Holds(
                LossCaseOptions.For(LossTask.Binary) with
                {
                    Targets = TargetKinds.Hard,
                },
                c =>
                {
                    using var scope = NewDisposeScope();
                    var valid = c.Target.Where((_, i) => c.Mask?[i] ?? true).ToArray();
                    var positives = valid.Sum();
                    var negatives = valid.Length - positives;
                    var pw = ClassWeightEstimators.PosWeight(c.TargetTensor(), c.MaskTensor());
                    var expected = valid.Length == 0 ? 1.0 : negatives / Math.Max(positives, 1.0);
                    if (!LossLaws.Close(pw, expected, 1e-12))
                        return $"PosWeight {pw}, expected {negatives} / max({positives}, 1)";
                    if (positives > 0 && negatives > 0)
                    {
                        var index = c with { Task = LossTask.Multiclass, Classes = 2, TargetKind = TargetKind.Index };
                        var b = Weights(0, index);
                        if (!LossLaws.Close(pw, b[1] / b[0], 1e-6))
                            return $"PosWeight {pw} vs balanced ratio {b[1] / b[0]}";
                    }
                    return null;
                }
            )
            .Verify();

    [Fact]
    public void Index_and_one_hot_targets_and_ignore_index_and_mask_give_the_same_weights() =>
        LossLaws
            .Holds(
                IndexTargets with
                {
                    Masks = MaskKinds.Sparse | MaskKinds.Full,
                },
                c =>
                {
                    using var scope = NewDisposeScope();
                    var byIndex = ClassWeightEstimators.Balanced(c.TargetTensor(), c.Classes, c.MaskTensor()).data<float>().ToArray();
                    var byOneHot = ClassWeightEstimators
                        .Balanced(c.WithOneHotTarget().TargetTensor(), c.Classes, c.MaskTensor())
                        .data<float>()
                        .ToArray();
                    var voided = c.TargetTensor().masked_fill(c.MaskTensor()!.logical_not(), -100);
                    var byIgnore = ClassWeightEstimators.Balanced(voided, c.Classes).data<float>().ToArray();
                    return byIndex.SequenceEqual(byOneHot) && byIndex.SequenceEqual(byIgnore)
                        ? null
                        : $"index {LossCase.Format(byIndex.Select(v => (double)v))}, one-hot {LossCase.Format(byOneHot.Select(v => (double)v))}, ignore index {LossCase.Format(byIgnore.Select(v => (double)v))}";
                }
            )
            .Verify();
}
