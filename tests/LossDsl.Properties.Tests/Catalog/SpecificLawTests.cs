using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using LossDsl.Testing;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Properties.Tests.Catalog;

/// <summary>Shared options and helpers of the loss-specific laws.</summary>
internal static class Specific
{
    public static readonly LossCaseOptions Binary = LossCaseOptions.For(LossTask.Binary);
    public static readonly LossCaseOptions Multiclass = LossCaseOptions.For(LossTask.Multiclass);
    public static readonly LossCaseOptions Probabilities = Multiclass with { Input = InputSpace.Probabilities };

    public static double[] Values(LossFunction loss, LossCase c) => LossEval.Evaluate(loss, c).Values;

    /// <summary>A per-case constant in [lo, hi] derived from the case (so shrinking keeps it).</summary>
    public static double Param(LossCase c, double lo, double hi) => lo + ((hi - lo) * (c.Seed % 1000) / 999.0);

    /// <summary>Null when every left value is at most the right one (plus a float64 rounding allowance).</summary>
    public static string? AtMost(double[] left, double[] right, string what)
    {
        for (var i = 0; i < left.Length; i++)
            if (!(left[i] <= right[i] + (1e-12 * (1 + Math.Abs(right[i])))))
                return $"{what}: value {i} is {left[i]:G9} > {right[i]:G9}";
        return null;
    }

    public static string? Equal(double[] expected, double[] actual, string what, double tolerance = LossLaws.Exact) =>
        LossLaws.Compare(
            new LossOutput(new long[] { expected.Length }, expected),
            new LossOutput(new long[] { actual.Length }, actual),
            tolerance,
            what
        );
}

/// <summary>Dice, Jaccard, Tversky, generalized and log-cosh Dice.</summary>
public class DiceFamilyLaws
{
    [Fact]
    public void Jaccard_of_probabilities_lies_in_0_1() =>
        LossLaws
            .Bounded(
                () => new DiceLoss(activation: Activation.None, jaccard: true, reduction: Reduction.None),
                0,
                1,
                Specific.Probabilities
            )
            .Verify();

    private static string? ZeroIffEqual(LossCase c, bool jaccard)
    {
        // Hard predictions: the target itself for half the cases, the arg-max of the generated probabilities otherwise.
        var y = c.PerClassTarget();
        var q = c.Seed % 2 == 0 ? y : ArgmaxOneHot(c);
        var predicted = c with { Input = q };
        var equal = true;
        for (var n = 0; n < c.Batch; n++)
        for (var s = 0; s < c.Pixels; s++)
            if (c.Mask?[(n * c.Pixels) + s] ?? true)
                for (var k = 0; k < c.Classes; k++)
                    equal &= q[((n * c.Classes) + k) * c.Pixels + s] == y[((n * c.Classes) + k) * c.Pixels + s];
        var loss = Specific.Values(new DiceLoss(activation: Activation.None, jaccard: jaccard, reduction: Reduction.None), predicted);
        var zero = loss.All(v => Math.Abs(v) <= 1e-9);
        return zero == equal
            ? null
            : $"1 - {(jaccard ? "Jaccard" : "Dice")} is {LossCase.Format(loss)} but the prediction {(equal ? "equals" : "differs from")} the target on the valid pixels";
    }

    private static double[] ArgmaxOneHot(LossCase c)
    {
        var r = new double[c.Input.Length];
        for (var n = 0; n < c.Batch; n++)
        for (var s = 0; s < c.Pixels; s++)
        {
            var best = 0;
            for (var k = 1; k < c.Classes; k++)
                if (c.Input[((n * c.Classes) + k) * c.Pixels + s] > c.Input[((n * c.Classes) + best) * c.Pixels + s])
                    best = k;
            r[((n * c.Classes) + best) * c.Pixels + s] = 1;
        }
        return r;
    }

    [Fact]
    public void One_minus_Dice_is_zero_iff_the_hard_prediction_equals_the_target() =>
        LossLaws.Holds(Specific.Probabilities with { Targets = TargetKinds.HardOrIndex }, c => ZeroIffEqual(c, jaccard: false)).Verify();

    [Fact]
    public void One_minus_Jaccard_is_zero_iff_the_hard_prediction_equals_the_target() =>
        LossLaws.Holds(Specific.Probabilities with { Targets = TargetKinds.HardOrIndex }, c => ZeroIffEqual(c, jaccard: true)).Verify();

    [Fact]
    public void Jaccard_loss_is_at_least_the_Dice_loss() =>
        LossLaws
            .Holds(
                Specific.Multiclass,
                c =>
                    Specific.AtMost(
                        Specific.Values(new DiceLoss(activation: Activation.Softmax, reduction: Reduction.None), c),
                        Specific.Values(new DiceLoss(activation: Activation.Softmax, jaccard: true, reduction: Reduction.None), c),
                        "Dice loss vs Jaccard loss"
                    )
            )
            .Verify();

    [Fact]
    public void Dice_is_symmetric_in_prediction_and_target() =>
        LossLaws
            .Holds(
                Specific.Probabilities with
                {
                    Targets = TargetKinds.Soft,
                },
                c =>
                {
                    var loss = new DiceLoss(activation: Activation.None, reduction: Reduction.None);
                    return Specific.Equal(
                        Specific.Values(loss, c),
                        Specific.Values(loss, c with { Input = c.Target, Target = c.Input }),
                        "prediction and target swapped"
                    );
                }
            )
            .Verify();

    [Fact]
    public void Dice_with_equal_class_weights_is_the_scaled_Dice() =>
        LossLaws
            .Holds(
                Specific.Multiclass,
                c =>
                {
                    var k = Specific.Param(c, 0.1, 5);
                    var weighted = Specific.Values(
                        new DiceLoss(activation: Activation.Softmax),
                        c with
                        {
                            ClassWeights = Enumerable.Repeat(k, c.Classes).ToArray(),
                        }
                    );
                    var plain = Specific.Values(new DiceLoss(activation: Activation.Softmax), c);
                    return Specific.Equal(plain.Select(v => k * v).ToArray(), weighted, $"all class weights {k}");
                }
            )
            .Verify();

    [Fact]
    public void Tversky_with_alpha_beta_one_half_is_Dice() =>
        // α = β = 1/2 turns the Tversky denominator into (Σp + Σt)/2, so Tversky with smoothing s/2 is Dice with s.
        LossLaws
            .Agree(
                () =>
                    new TverskyLoss(
                        alpha: 0.5,
                        beta: 0.5,
                        activation: Activation.Softmax,
                        smoothNr: 0.5,
                        smoothDr: 0.5,
                        reduction: Reduction.None
                    ),
                () => new DiceLoss(activation: Activation.Softmax, smoothNr: 1, smoothDr: 1, reduction: Reduction.None),
                Specific.Multiclass
            )
            .Verify();

    private static LossCase WithPrediction(LossCase c, Func<double, double, double> of)
    {
        var y = c.PerClassTarget();
        return c with { Input = c.Input.Select((u, i) => of(y[i], u)).ToArray() };
    }

    [Fact]
    public void Tversky_alpha_weighs_only_false_positives() =>
        // A prediction inside the target (p = t·u) has no false positives, so α cannot matter.
        LossLaws
            .Holds(
                Specific.Probabilities with
                {
                    Targets = TargetKinds.HardOrIndex,
                },
                c =>
                {
                    var inside = WithPrediction(c, (t, u) => t * u);
                    return Specific.Equal(
                        Specific.Values(
                            new TverskyLoss(alpha: 0.1, beta: 0.6, activation: Activation.None, reduction: Reduction.None),
                            inside
                        ),
                        Specific.Values(
                            new TverskyLoss(alpha: 0.9, beta: 0.6, activation: Activation.None, reduction: Reduction.None),
                            inside
                        ),
                        "alpha 0.1 vs 0.9 without false positives"
                    );
                }
            )
            .Verify();

    [Fact]
    public void Tversky_beta_weighs_only_false_negatives() =>
        // A prediction covering the target (p = t + (1 - t)·u) has no false negatives, so β cannot matter.
        LossLaws
            .Holds(
                Specific.Probabilities with
                {
                    Targets = TargetKinds.HardOrIndex,
                },
                c =>
                {
                    var covering = WithPrediction(c, (t, u) => t + ((1 - t) * u));
                    return Specific.Equal(
                        Specific.Values(
                            new TverskyLoss(alpha: 0.6, beta: 0.1, activation: Activation.None, reduction: Reduction.None),
                            covering
                        ),
                        Specific.Values(
                            new TverskyLoss(alpha: 0.6, beta: 0.9, activation: Activation.None, reduction: Reduction.None),
                            covering
                        ),
                        "beta 0.1 vs 0.9 without false negatives"
                    );
                }
            )
            .Verify();

    [Fact]
    public void Tversky_grows_with_alpha() =>
        LossLaws
            .Holds(
                Specific.Multiclass,
                c =>
                    Specific.AtMost(
                        Specific.Values(
                            new TverskyLoss(alpha: 0.2, beta: 0.5, activation: Activation.Softmax, reduction: Reduction.None),
                            c
                        ),
                        Specific.Values(
                            new TverskyLoss(alpha: 0.8, beta: 0.5, activation: Activation.Softmax, reduction: Reduction.None),
                            c
                        ),
                        "alpha 0.2 vs 0.8"
                    )
            )
            .Verify();

    [Fact]
    public void Focal_Tversky_with_gamma_one_is_Tversky() =>
        LossLaws
            .Agree(
                () => new FocalTverskyLoss(alpha: 0.7, beta: 0.3, gamma: 1, activation: Activation.Softmax, reduction: Reduction.None),
                () => new TverskyLoss(alpha: 0.7, beta: 0.3, activation: Activation.Softmax, reduction: Reduction.None),
                Specific.Multiclass
            )
            .Verify();

    [Fact]
    public void Log_cosh_Dice_is_log_cosh_of_the_Dice_loss() =>
        LossLaws
            .MatchesOracle(
                () => new LogCoshDiceLoss(activation: Activation.Softmax, reduction: Reduction.None),
                c =>
                    Specific
                        .Values(new DiceLoss(activation: Activation.Softmax, reduction: Reduction.None), c)
                        .Select(d => Math.Log(Math.Cosh(d)))
                        .ToArray(),
                Specific.Multiclass
            )
            .Verify();

    /// <summary>
    /// Multiclass cases whose every class covers the same number of pixels in every sample: 1-D, C·k pixels,
    /// each sample a shuffle of k copies of every class. No mask, so the volumes are what the loss sees.
    /// </summary>
    private static Arbitrary<LossCase> EqualVolumes()
    {
        var gen =
            from classes in Gen.Choose(2, 4)
            from k in Gen.Choose(1, 3)
            from batch in Gen.Choose(1, 3)
            from input in Gen.ArrayOf(
                LossGen.Logit(Specific.Multiclass with { Range = LogitRange.Moderate }),
                batch * classes * classes * k
            )
            from samples in Gen.ArrayOf(Gen.Shuffle(Enumerable.Range(0, classes * k).Select(i => (double)(i % classes))), batch)
            select new LossCase(
                LossTask.Multiclass,
                batch,
                classes,
                new[] { classes * k },
                InputSpace.Logits,
                input,
                TargetKind.Index,
                samples.SelectMany(s => s).ToArray(),
                null,
                null
            );
        return Arb.From(gen);
    }

    private static double[] Gdl(DiceWeightType weighting, LossCase c) =>
        Specific.Values(
            new GeneralizedDiceLoss(
                weightType: weighting,
                activation: Activation.Softmax,
                smoothNr: 0,
                smoothDr: 0,
                reduction: Reduction.None
            ),
            c
        );

    [Fact]
    public void Generalized_Dice_weightings_agree_when_class_volumes_are_equal() =>
        Prop.ForAll(
                EqualVolumes(),
                c =>
                {
                    var failure =
                        Specific.Equal(Gdl(DiceWeightType.Uniform, c), Gdl(DiceWeightType.Square, c), "1/V² vs uniform weights")
                        ?? Specific.Equal(Gdl(DiceWeightType.Uniform, c), Gdl(DiceWeightType.Simple, c), "1/V vs uniform weights");
                    return Prop.Label(failure is null, failure ?? "ok");
                }
            )
            .Verify();

    [Fact]
    public void Generalized_Dice_with_equal_class_volumes_is_a_weighted_mean_of_the_class_Dice_losses() =>
        // With equal weights the pooled ratio Σ2tp / Σ(Σp + Σt) is a mean of the per-class ratios weighted by
        // Σp + Σt, so it lies between the smallest and largest per-class Dice loss of its sample.
        Prop.ForAll(
                EqualVolumes(),
                c =>
                {
                    var gdl = Gdl(DiceWeightType.Square, c);
                    var dice = Specific.Values(
                        new DiceLoss(activation: Activation.Softmax, smoothNr: 0, smoothDr: 0, reduction: Reduction.None),
                        c
                    );
                    for (var n = 0; n < c.Batch; n++)
                    {
                        var perClass = dice.Skip(n * c.Classes).Take(c.Classes).ToArray();
                        if (!(gdl[n] >= perClass.Min() - 1e-12 && gdl[n] <= perClass.Max() + 1e-12))
                            return Prop.Label(
                                false,
                                $"sample {n}: generalized Dice loss {gdl[n]:G9} outside the class Dice losses {LossCase.Format(perClass)}"
                            );
                    }
                    return Prop.Label(true, "ok");
                }
            )
            .Verify();
}

/// <summary>Binary and softmax cross-entropy, focal, MCC.</summary>
public class CrossEntropyFamilyLaws
{
    [Fact]
    public void Bce_with_equal_positive_and_negative_weights_is_the_scaled_Bce() =>
        LossLaws
            .Holds(
                Specific.Binary,
                c =>
                {
                    var w = Specific.Param(c, 0.1, 5);
                    return Specific.Equal(
                        Specific.Values(new BceLoss(reduction: Reduction.None), c).Select(v => w * v).ToArray(),
                        Specific.Values(new BceLoss(posWeight: w, negWeight: w, reduction: Reduction.None), c),
                        $"posWeight = negWeight = {w}"
                    );
                }
            )
            .Verify();

    [Fact]
    public void Bce_weighting_is_symmetric_under_swapping_the_classes_and_their_weights() =>
        LossLaws
            .Holds(
                Specific.Binary,
                c =>
                {
                    var a = Specific.Param(c, 0.1, 5);
                    var b = 5.1 - a;
                    var swapped = c with { Input = c.Input.Select(x => -x).ToArray(), Target = c.Target.Select(t => 1 - t).ToArray() };
                    return Specific.Equal(
                        Specific.Values(new BceLoss(posWeight: a, negWeight: b, reduction: Reduction.None), c),
                        Specific.Values(new BceLoss(posWeight: b, negWeight: a, reduction: Reduction.None), swapped),
                        $"weights ({a}, {b}) on (x, y) vs ({b}, {a}) on (-x, 1 - y)"
                    );
                }
            )
            .Verify();

    [Fact]
    public void Bce_matches_TorchSharp_binary_cross_entropy_with_logits() =>
        LossLaws
            .MatchesOracle(
                () => new BceLoss(posWeight: 1.7, reduction: Reduction.None),
                c =>
                {
                    using var scope = NewDisposeScope();
                    var x = c.InputTensor();
                    var bce = nn.functional.binary_cross_entropy_with_logits(
                        x,
                        c.TargetTensor(),
                        pos_weights: tensor(1.7, float64),
                        reduction: Reduction.None
                    );
                    var mask = c.MaskTensor();
                    if (mask is not null)
                        bce = bce * mask.unsqueeze(1).to(float64);
                    return bce.data<double>().ToArray();
                },
                Specific.Binary
            )
            .Verify();

    [Fact]
    public void Cross_entropy_matches_TorchSharp_with_class_weights_and_ignore_index() =>
        LossLaws
            .MatchesOracle(
                () => new CrossEntropyLoss(),
                c =>
                {
                    using var scope = NewDisposeScope();
                    var t = c.TargetTensor();
                    var mask = c.MaskTensor();
                    if (mask is not null)
                        t = t.masked_fill(mask.logical_not(), -100);
                    var ce = nn
                        .functional.cross_entropy(c.InputTensor(), t, weight: c.ClassWeightsTensor(), ignore_index: -100)
                        .item<double>();
                    // PyTorch's mean over no valid pixel is 0/0; LossDsl defines it as 0.
                    return new[] { double.IsNaN(ce) ? 0 : ce };
                },
                Specific.Multiclass with
                {
                    Targets = TargetKinds.Index,
                    ClassWeights = true,
                }
            )
            .Verify();

    [Fact]
    public void Cross_entropy_with_label_smoothing_matches_TorchSharp() =>
        LossLaws
            .MatchesOracle(
                () => new CrossEntropyLoss(labelSmoothing: 0.1),
                c =>
                {
                    using var scope = NewDisposeScope();
                    return new[] { nn.functional.cross_entropy(c.InputTensor(), c.TargetTensor(), label_smoothing: 0.1).item<double>() };
                },
                Specific.Multiclass with
                {
                    Targets = TargetKinds.Index,
                    Masks = MaskKinds.None,
                }
            )
            .Verify();

    [Fact]
    public void Cross_entropy_with_equal_class_weights_is_the_unweighted_mean() =>
        LossLaws
            .Holds(
                Specific.Multiclass,
                c =>
                {
                    var k = Specific.Param(c, 0.1, 5);
                    return Specific.Equal(
                        Specific.Values(new CrossEntropyLoss(), c with { ClassWeights = null }),
                        Specific.Values(new CrossEntropyLoss(), c with { ClassWeights = Enumerable.Repeat(k, c.Classes).ToArray() }),
                        $"all class weights {k}"
                    );
                }
            )
            .Verify();

    [Fact]
    public void Binary_focal_with_gamma_zero_is_Bce() =>
        LossLaws
            .Agree(
                () => new BinaryFocalLoss(gamma: 0, reduction: Reduction.None),
                () => new BceLoss(reduction: Reduction.None),
                Specific.Binary
            )
            .Verify();

    [Fact]
    public void Binary_focal_with_gamma_zero_and_alpha_is_alpha_weighted_Bce_on_hard_targets() =>
        // Hard targets only: for soft targets torchvision's convention weighs the whole cross-entropy by
        // α·y + (1 - α)·(1 - y), which is not BCE with pos/neg weights.
        LossLaws
            .Agree(
                () => new BinaryFocalLoss(gamma: 0, alpha: 0.25, reduction: Reduction.None),
                () => new BceLoss(posWeight: 0.25, negWeight: 0.75, reduction: Reduction.None),
                Specific.Binary with
                {
                    Targets = TargetKinds.Hard,
                }
            )
            .Verify();

    [Fact]
    public void Focal_with_gamma_zero_is_cross_entropy() =>
        LossLaws
            .Agree(
                () => new FocalLoss(gamma: 0, reduction: Reduction.None),
                () => new CrossEntropyLoss(reduction: Reduction.None),
                Specific.Multiclass
            )
            .Verify();

    [Fact]
    public void Focal_with_gamma_zero_and_class_weights_sums_to_the_weighted_cross_entropy() =>
        LossLaws
            .Agree(
                () => new FocalLoss(gamma: 0, reduction: Reduction.Sum),
                () => new CrossEntropyLoss(reduction: Reduction.Sum),
                Specific.Multiclass with
                {
                    ClassWeights = true,
                }
            )
            .Verify();

    [Fact]
    public void Focal_never_exceeds_cross_entropy() =>
        LossLaws
            .Holds(
                Specific.Multiclass,
                c =>
                    Specific.AtMost(
                        Specific.Values(new FocalLoss(gamma: 2, reduction: Reduction.None), c),
                        Specific.Values(new CrossEntropyLoss(reduction: Reduction.None), c),
                        "focal vs cross-entropy"
                    )
            )
            .Verify();

    [Fact]
    public void Binary_focal_never_exceeds_Bce() =>
        LossLaws
            .Holds(
                Specific.Binary,
                c =>
                    Specific.AtMost(
                        Specific.Values(new BinaryFocalLoss(gamma: 2, reduction: Reduction.None), c),
                        Specific.Values(new BceLoss(reduction: Reduction.None), c),
                        "binary focal vs BCE"
                    )
            )
            .Verify();

    [Fact]
    public void Mcc_is_unchanged_by_swapping_positives_and_negatives() =>
        LossLaws
            .Holds(
                Specific.Binary,
                c =>
                {
                    var swapped = c with { Input = c.Input.Select(x => -x).ToArray(), Target = c.Target.Select(t => 1 - t).ToArray() };
                    var loss = new MccLoss(batch: false, reduction: Reduction.None);
                    return Specific.Equal(Specific.Values(loss, c), Specific.Values(loss, swapped), "(x, y) vs (-x, 1 - y)", 1e-7);
                }
            )
            .Verify();

    [Fact]
    public void Mcc_loss_is_two_at_the_opposite_prediction() =>
        // Only samples holding both classes have a correlation of -1 to reach; eps = 1e-5 on counts of at most
        // 64 pixels moves the value by less than 1e-3.
        LossLaws
            .Holds(
                Specific.Binary with
                {
                    Targets = TargetKinds.Hard,
                    Masks = MaskKinds.None,
                },
                c =>
                {
                    var opposite = c with { Input = c.Target.Select(t => t > 0.5 ? -30.0 : 30.0).ToArray() };
                    var loss = Specific.Values(new MccLoss(batch: false, reduction: Reduction.None), opposite);
                    for (var n = 0; n < c.Batch; n++)
                    {
                        var positives = c.Target.Skip(n * c.Pixels).Take(c.Pixels).Sum();
                        if (positives > 0 && positives < c.Pixels && !(Math.Abs(loss[n] - 2) < 1e-3))
                            return $"sample {n}: MCC loss {loss[n]:G9} at the opposite prediction, expected 2";
                    }
                    return null;
                }
            )
            .Verify();
}

/// <summary>Combined losses equal the weighted sums of their parts.</summary>
public class CombinedLaws
{
    // Without masks (or with full ones) per-sample means and global means coincide, so the catalog's combined
    // losses can be compared with sums of the separate modules.
    private static readonly LossCaseOptions Unmasked = new() { Masks = MaskKinds.None | MaskKinds.Full };

    [Fact]
    public void Bce_Dice_is_the_weighted_sum_of_Bce_and_Dice() =>
        LossLaws
            .Agree(
                () => new BceDiceLoss(diceWeight: 0.3),
                () => (0.7 * new BceLoss()) + (0.3 * new DiceLoss(activation: Activation.Sigmoid, smoothNr: 1, smoothDr: 1)),
                Unmasked with
                {
                    Task = LossTask.Binary,
                }
            )
            .Verify();

    [Fact]
    public void Dice_CE_is_the_weighted_sum_of_Dice_and_cross_entropy() =>
        LossLaws
            .Agree(
                () => new DiceCeLoss(lambdaDice: 0.6, lambdaCe: 1.4),
                () => (0.6 * new DiceLoss(activation: Activation.Softmax)) + (1.4 * new CrossEntropyLoss()),
                Unmasked with
                {
                    Task = LossTask.Multiclass,
                }
            )
            .Verify();

    [Fact]
    public void Dice_focal_is_the_weighted_sum_of_Dice_and_focal() =>
        LossLaws
            .Agree(
                () => new DiceFocalLoss(lambdaDice: 0.5, lambdaFocal: 2, gamma: 2),
                () => (0.5 * new DiceLoss(activation: Activation.Softmax)) + (2 * new FocalLoss(gamma: 2)),
                Unmasked with
                {
                    Task = LossTask.Multiclass,
                }
            )
            .Verify();

    [Fact]
    public void A_sum_of_modules_is_the_weighted_sum_of_their_values_with_masks() =>
        LossLaws
            .Holds(
                Specific.Multiclass,
                c =>
                {
                    var ce = new CrossEntropyLoss();
                    var dice = new DiceLoss(activation: Activation.Softmax);
                    var combined = (0.25 * ce) + (1.5 * dice);
                    var expected = (0.25 * Specific.Values(ce, c)[0]) + (1.5 * Specific.Values(dice, c)[0]);
                    return Specific.Equal(new[] { expected }, Specific.Values(combined, c), "0.25·CE + 1.5·Dice");
                }
            )
            .Verify();
}
