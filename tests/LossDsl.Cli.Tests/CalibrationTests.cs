using System;
using System.Collections.Immutable;
using System.Linq;
using LossDsl.Cli.Compare;
using Xunit;

namespace LossDsl.Cli.Tests;

/// <summary>Threshold and offset tuning on constructed logits whose best rule is known.</summary>
public class CalibrationTests
{
    private static float Logit(double p) => (float)Math.Log(p / (1 - p));

    [Fact]
    public void Binary_threshold_moves_above_the_over_confident_negatives()
    {
        // Two images of 10 pixels: positives at probability 0.72, "hard" negatives at 0.585, easy ones at 0.2,
        // one invalid pixel at 0.99 that must not count. At 0.5 the hard negatives are false alarms; every
        // threshold from 0.59 to 0.71 separates perfectly, and of those 0.59 is the closest to 0.5.
        var probabilities = new[]
        {
            0.72,
            0.72,
            0.585,
            0.585,
            0.585,
            0.2,
            0.2,
            0.2,
            0.2,
            0.99,
            0.72,
            0.585,
            0.2,
            0.2,
            0.2,
            0.2,
            0.2,
            0.2,
            0.2,
            0.2,
        };
        var labels = new byte[] { 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        var valid = Enumerable.Range(0, 20).Select(i => i != 9).ToArray();
        var logits = probabilities.Select(Logit).ToArray();
        var task = CompareTask.Binary();

        var untuned = DecisionRule.Default(LossTask.Binary, 2);
        var before = ImageCounts.FromPredictions(untuned.Predict(logits, 2, 2), labels, valid, 2, 2).Headline(task.ForegroundClasses);
        Assert.Equal(2.0 * 3 / (2 * 3 + 4), before, 12); // tp 3, fp 4 hard negatives, fn 0

        var rule = Calibration.Tune(task, 2, logits, labels, valid);
        Assert.True(rule.IsBinary);
        Assert.Equal(0.59, rule.Threshold, 12);
        var predicted = rule.Predict(logits, 2, 2);
        Assert.Equal(labels.Select((l, i) => i == 9 ? (byte)1 : l), predicted); // the invalid pixel is predicted but not scored
        Assert.Equal(1.0, ImageCounts.FromPredictions(predicted, labels, valid, 2, 2).Headline(task.ForegroundClasses), 12);
        Assert.Equal("threshold 0.59", rule.Describe(task));
    }

    [Fact]
    public void Binary_threshold_stays_at_one_half_when_nothing_beats_it()
    {
        var logits = new[] { Logit(0.9), Logit(0.1), Logit(0.8), Logit(0.3) };
        var labels = new byte[] { 1, 0, 1, 0 };
        var valid = new[] { true, true, true, true };
        var rule = Calibration.Tune(CompareTask.Binary(), 1, logits, labels, valid);
        Assert.Equal(0.5, rule.Threshold, 12);
        Assert.Equal(new byte[] { 1, 0, 1, 0 }, rule.Predict(logits, 1, 2));
    }

    [Fact]
    public void Multiclass_offsets_lift_an_under_scored_class_by_the_smallest_grid_step_that_fixes_it()
    {
        // Three classes, one image of 6 pixels (logits laid out class × pixel). Truth: 0 0 1 1 2 2.
        // Class-2 pixels have logits (1, 0, 0.5): arg-max says class 0. An offset b for class 2 fixes them when
        // 0.5 + b > 1, and keeps the background right while b ≤ 1 (ties go to the lower class): on the grid,
        // 0.75 and 1.0 are perfect, and the search takes the smaller.
        var truth = new byte[] { 0, 0, 1, 1, 2, 2 };
        var perPixel = new[]
        {
            new[] { 1f, 0f, 0f },
            new[] { 1f, 0f, 0f },
            new[] { 0f, 1f, 0f },
            new[] { 0f, 1f, 0f },
            new[] { 1f, 0f, 0.5f },
            new[] { 1f, 0f, 0.5f },
        };
        var logits = new float[3 * 6];
        for (var p = 0; p < 6; p++)
        for (var c = 0; c < 3; c++)
            logits[c * 6 + p] = perPixel[p][c];
        var valid = Enumerable.Repeat(true, 6).ToArray();
        var task = CompareTask.Multiclass("a", "b", "c");

        var untuned = DecisionRule.Default(LossTask.Multiclass, 3).Predict(logits, 1, 3);
        Assert.Equal(new byte[] { 0, 0, 1, 1, 0, 0 }, untuned);

        var rule = Calibration.Tune(task, 1, logits, truth, valid);
        Assert.False(rule.IsBinary);
        Assert.Equal(new[] { 0.0, 0.0, 0.75 }, rule.Offsets.ToArray());
        Assert.Equal(truth, rule.Predict(logits, 1, 3));
        Assert.Equal("offsets b 0, c +0.75", rule.Describe(task));
    }

    [Fact]
    public void Multiclass_tuning_ignores_invalid_pixels_and_never_scores_below_argmax()
    {
        var rng = new Random(11);
        const int images = 3,
            classes = 4,
            pixels = 50;
        var logits = Enumerable.Range(0, images * classes * pixels).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var truth = Enumerable.Range(0, images * pixels).Select(_ => (byte)rng.Next(classes)).ToArray();
        var valid = Enumerable.Range(0, images * pixels).Select(_ => rng.NextDouble() < 0.8).ToArray();
        var task = CompareTask.Multiclass("a", "b", "c", "d");
        double Score(DecisionRule r) =>
            ImageCounts.FromPredictions(r.Predict(logits, images, classes), truth, valid, images, classes).Headline(task.ForegroundClasses);
        var rule = Calibration.Tune(task, images, logits, truth, valid);
        Assert.True(Score(rule) >= Score(DecisionRule.Default(LossTask.Multiclass, classes)));
        Assert.Equal(0.0, rule.Offsets[0]);
        Assert.All(rule.Offsets, o => Assert.Contains(o, Calibration.OffsetGrid));
        // Changing an invalid pixel's logits or label changes nothing.
        var i = Array.IndexOf(valid, false);
        var img = i / pixels;
        var p = i % pixels;
        truth[i] = (byte)((truth[i] + 1) % classes);
        for (var c = 0; c < classes; c++)
            logits[(img * classes + c) * pixels + p] = 50;
        Assert.Equal(rule, Calibration.Tune(task, images, logits, truth, valid), new RuleComparer());
    }

    private sealed class RuleComparer : System.Collections.Generic.IEqualityComparer<DecisionRule>
    {
        public bool Equals(DecisionRule? x, DecisionRule? y) => x!.Threshold == y!.Threshold && x.Offsets.SequenceEqual(y.Offsets);

        public int GetHashCode(DecisionRule obj) => 0;
    }

    [Fact]
    public void Image_counts_are_per_image_and_skip_invalid_pixels()
    {
        // Two images of 3 pixels, 3 classes. Image 0: truth 0 1 2, predicted 0 2 2; image 1: truth 1 1 0 (last invalid), predicted 1 0 1.
        var counts = ImageCounts.FromPredictions(
            new byte[] { 0, 2, 2, 1, 0, 1 },
            new byte[] { 0, 1, 2, 1, 1, 0 },
            new[] { true, true, true, true, true, false },
            2,
            3
        );
        Assert.Equal((0L, 0L, 1L), (counts.Tp(0, 1), counts.Fp(0, 1), counts.Fn(0, 1)));
        Assert.Equal((1L, 1L, 0L), (counts.Tp(0, 2), counts.Fp(0, 2), counts.Fn(0, 2)));
        Assert.Equal((1L, 0L, 1L), (counts.Tp(1, 1), counts.Fp(1, 1), counts.Fn(1, 1)));
        Assert.Equal((0L, 1L, 0L), (counts.Tp(1, 0), counts.Fp(1, 0), counts.Fn(1, 0)));
        // Class 1 pooled: tp 1, fp 0, fn 2 → Dice 2/4.
        Assert.Equal(0.5, counts.Pooled(1).Dice, 12);
        Assert.Equal(new[] { 1, 2 }, CompareTask.Multiclass("a", "b", "c").ForegroundClasses.ToArray());
    }
}
