using System;
using System.Linq;
using LossDsl.Testing;
using LossDsl.Tests.Specs;
using Xunit;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Properties.Tests.UserSpecs;

/// <summary>
/// The kit on losses declared outside the catalog: this project's <see cref="UserLosses"/> and the generator
/// tests' <see cref="TestSpecs"/>, each law in one line.
/// </summary>
public class UserLossLawTests
{
    [Fact]
    public void Poly1_is_non_negative() => LossLaws.NonNegative(() => new Poly1Loss()).Verify();

    [Fact]
    public void Poly1_is_zero_at_a_perfect_prediction() => LossLaws.ZeroAtPerfectPrediction(() => new Poly1Loss()).Verify();

    [Fact]
    public void Poly1_decreases_toward_the_target() =>
        LossLaws.MonotoneTowardTarget(() => new Poly1Loss(reduction: Reduction.None)).Verify();

    [Fact]
    public void Poly1_is_invariant_to_relabelling_classes() =>
        LossLaws.InvariantToClassPermutationWithWeights(() => new Poly1Loss(), withWeights: false).Verify();

    [Fact]
    public void Poly1_treats_masked_pixels_as_cropped() => LossLaws.MaskEquivalence(() => new Poly1Loss()).Verify();

    [Fact]
    public void Poly1_ignore_index_is_a_mask() => LossLaws.IgnoreIndexEqualsMask(() => new Poly1Loss()).Verify();

    [Fact]
    public void Poly1_gradient_matches_finite_differences() => LossLaws.GradientMatchesFiniteDifferences(() => new Poly1Loss()).Verify();

    [Fact]
    public void Poly1_is_finite_at_extreme_logits() => LossLaws.FiniteAtExtremeLogits(() => new Poly1Loss()).Verify();

    [Fact]
    public void Poly1_reductions_agree() => LossLaws.ReductionConsistency(r => new Poly1Loss(reduction: r)).Verify();

    [Fact]
    public void Poly1_with_epsilon_zero_is_cross_entropy() =>
        LossLaws
            .Agree(() => new Poly1Loss(epsilon: 0, reduction: Reduction.None), () => new CrossEntropyLoss(reduction: Reduction.None))
            .Verify();

    [Fact]
    public void Soft_Jaccard_lies_in_0_1() => LossLaws.Bounded(() => new SoftJaccardLoss(), 0, 1).Verify();

    [Fact]
    public void Soft_Jaccard_is_zero_at_a_perfect_prediction() =>
        LossLaws.ZeroAtPerfectPrediction(() => new SoftJaccardLoss(reduction: Reduction.None)).Verify();

    [Fact]
    public void Soft_Jaccard_decreases_toward_the_target() =>
        LossLaws.MonotoneTowardTarget(() => new SoftJaccardLoss(reduction: Reduction.None)).Verify();

    [Fact]
    public void Soft_Jaccard_is_invariant_to_reordering_samples() =>
        LossLaws.InvariantToSamplePermutation(() => new SoftJaccardLoss(reduction: Reduction.None)).Verify();

    [Fact]
    public void Soft_Jaccard_treats_masked_pixels_as_cropped() => LossLaws.MaskEquivalence(() => new SoftJaccardLoss()).Verify();

    [Fact]
    public void Soft_Jaccard_gradient_matches_finite_differences() =>
        LossLaws.GradientMatchesFiniteDifferences(() => new SoftJaccardLoss()).Verify();

    [Fact]
    public void Soft_Jaccard_float32_agrees_with_float64() => LossLaws.Float32AgreesWithFloat64(() => new SoftJaccardLoss()).Verify();

    // The generator tests' example specs.
    [Fact]
    public void Test_spec_Tversky_lies_in_0_1() => LossLaws.Bounded(() => new TverskyLoss(), 0, 1).Verify();

    [Fact]
    public void Test_spec_NaiveBce_is_finite_at_extreme_logits() => LossLaws.FiniteAtExtremeLogits(() => new NaiveBceLoss()).Verify();

    [Fact]
    public void Test_spec_NaiveBce_equals_the_catalog_Bce() =>
        LossLaws.Agree(() => new NaiveBceLoss(reduction: Reduction.None), () => new LossDsl.BceLoss(reduction: Reduction.None)).Verify();

    [Fact]
    public void Test_spec_WeightedCe_reductions_agree() =>
        LossLaws
            .ReductionConsistency(
                r => new WeightedCeLoss(reduction: r),
                LossCaseOptions.For(LossTask.Multiclass) with
                {
                    ClassWeights = true,
                }
            )
            .Verify();

    [Fact]
    public void Test_spec_WeightedCe_is_invariant_to_relabelling_classes_with_weights() =>
        LossLaws.InvariantToClassPermutationWithWeights(() => new WeightedCeLoss()).Verify();

    [Fact]
    public void Test_spec_OptionDice_treats_masked_pixels_as_cropped() =>
        LossLaws.MaskEquivalence(() => new OptionDiceLoss(squared: true)).Verify();

    [Fact]
    public void Test_spec_MeanFocal_gradient_matches_finite_differences() =>
        LossLaws.GradientMatchesFiniteDifferences(() => new MeanFocalLoss()).Verify();

    // Log(1 - p) cancels in the literal formula at large logits; the law compares against the stable form.
    [Fact]
    public void Test_spec_LiteralBce_matches_the_reference_at_extreme_logits() =>
        LossLaws
            .MatchesReference(() => new LiteralBceLoss(), LossCaseOptions.For(LossTask.Binary) with { Range = LogitRange.Extreme })
            .Verify();

    [Fact]
    public void Test_spec_Switched_matches_the_reference() =>
        LossLaws.MatchesReference(() => new SwitchedLoss(squash: Squash.Steep)).Verify();
}

/// <summary>The kit itself: its generators, its printing and shrinking, and that its laws catch defects.</summary>
public class KitTests
{
    [Fact]
    public void Generated_cases_respect_their_options() =>
        LossLaws
            .Holds(
                LossCaseOptions.For(LossTask.Multiclass) with
                {
                    ClassWeights = true,
                },
                c =>
                {
                    if (c.Batch is < 1 or > 4 || c.Classes is < 2 or > 6 || c.Spatial.Length is < 1 or > 3)
                        return $"shape out of range: {c.Summary}";
                    if (c.Input.Length != c.Batch * c.Classes * c.Pixels || c.Pixels > 64)
                        return $"input size {c.Input.Length} for {c.Summary}";
                    if (c.TargetKind == TargetKind.Index && c.Target.Any(t => t < 0 || t >= c.Classes || t != Math.Round(t)))
                        return "index target out of range";
                    if (c.TargetKind != TargetKind.Index && c.Target.Any(t => t < 0 || t > 1))
                        return "target outside [0, 1]";
                    if (c.Mask is not null && c.Mask.Length != c.Batch * c.Pixels)
                        return "mask size";
                    if (c.ClassWeights is null || c.ClassWeights.Length != c.Classes || c.ClassWeights.Any(w => w <= 0))
                        return "class weights";
                    return null;
                }
            )
            .Verify();

    [Fact]
    public void Every_mask_kind_and_extreme_logits_are_generated()
    {
        var cases = FsCheck.Fluent.Gen.Sample(LossGen.Cases(LossCaseOptions.For(LossTask.Binary)), 400);
        Assert.Contains(cases, c => c.Mask is null);
        Assert.Contains(cases, c => c.Mask is { } m && m.All(v => v));
        Assert.Contains(cases, c => c.Mask is { } m && !m.Any(v => v));
        Assert.Contains(cases, c => c.Mask is { } m && m.Any(v => v) && !m.All(v => v));
        Assert.Contains(cases, c => c.Input.Any(x => Math.Abs(x) == 100));
        Assert.Contains(cases, c => c.Spatial.Length == 3);
    }

    [Fact]
    public void A_case_prints_its_shapes_and_values()
    {
        var c = new LossCase(
            LossTask.Multiclass,
            1,
            2,
            new[] { 3 },
            InputSpace.Logits,
            new[] { 0.5, -1, 100, 2, 0, -100 },
            TargetKind.Index,
            new double[] { 1, 0, 1 },
            new[] { true, false, true },
            new[] { 1.0, 2.5 }
        );
        var text = c.ToString();
        Assert.Contains("Multiclass N=1 C=2 spatial=[3]", text);
        Assert.Contains("input[0,1]  = [2, 0, -100]", text);
        Assert.Contains("target[0]   = [1, 0, 1]", text);
        Assert.Contains("mask[0]     = 101", text);
        Assert.Contains("weights=[1, 2.5]", text);
    }

    [Fact]
    public void Shrinking_yields_smaller_valid_cases()
    {
        var options = LossCaseOptions.For(LossTask.Multiclass) with { ClassWeights = true };
        foreach (var c in FsCheck.Fluent.Gen.Sample(LossGen.Cases(options), 50))
        foreach (var s in LossGen.Shrink(c, options))
        {
            Assert.True(s.Batch * s.Classes * s.Pixels <= c.Batch * c.Classes * c.Pixels);
            Assert.Equal(s.Batch * s.Classes * s.Pixels, s.Input.Length);
            Assert.Equal(s.TargetKind == TargetKind.Index ? s.Batch * s.Pixels : s.Input.Length, s.Target.Length);
            if (s.TargetKind == TargetKind.Index)
                Assert.All(s.Target, t => Assert.InRange(t, 0, s.Classes - 1));
            using var scope = TorchSharp.torch.NewDisposeScope();
            LossEval.Evaluate(new LossDsl.CrossEntropyLoss(), s); // a valid input: no exception
        }
    }

    [Fact]
    public void An_unsmoothed_Dice_is_caught_on_an_empty_mask_with_a_readable_counterexample()
    {
        var e = Assert.ThrowsAny<Exception>(() => LossLaws.FiniteAtExtremeLogits(() => new UnsmoothedDiceLoss()).Verify("unsmoothed Dice"));
        Assert.Contains("Falsifiable", e.Message);
        Assert.Contains("LossCase(Binary", e.Message);
        Assert.Contains("not finite", e.Message);
    }

    [Fact]
    public void A_focal_loss_focusing_the_wrong_way_is_caught_by_monotonicity()
    {
        var e = Assert.ThrowsAny<Exception>(() =>
            LossLaws.MonotoneTowardTarget(() => new InvertedFocalLoss(reduction: Reduction.None)).Verify("inverted focal")
        );
        Assert.Contains("moving the prediction toward the target", e.Message);
        Assert.Contains("Shrunk", e.Message);
    }

    [Fact]
    public void Laws_for_multiclass_losses_refuse_binary_ones() =>
        Assert.Throws<ArgumentException>(() => LossLaws.IgnoreIndexEqualsMask(() => new SoftJaccardLoss()));

    [Fact]
    public void The_case_count_is_at_least_the_quick_count() => Assert.True(LossCheck.CaseCount >= 20);
}
