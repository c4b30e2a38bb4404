using System;
using System.Collections.Immutable;
using System.Linq;
using LossDsl.Cli.Compare;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Cli.Tests;

/// <summary>Dice, IoU, precision and recall against hand computations. Exact ratios of small integers, so 1e-12 only absorbs division rounding.</summary>
public class MetricsTests
{
    private const double Tol = 1e-12;

    [Fact]
    public void Scores_from_counts_match_hand_computation()
    {
        // tp 3, fp 1, fn 2: Dice 6/9, IoU 3/6, precision 3/4, recall 3/5.
        var s = Metrics.Score(3, 1, 2);
        Assert.Equal(6.0 / 9, s.Dice, Tol);
        Assert.Equal(0.5, s.IoU, Tol);
        Assert.Equal(0.75, s.Precision, Tol);
        Assert.Equal(0.6, s.Recall, Tol);
    }

    [Fact]
    public void Absent_and_unpredicted_class_scores_one_but_missed_class_scores_zero()
    {
        Assert.Equal(new ClassScores(1, 1, 1, 1), Metrics.Score(0, 0, 0));
        var missed = Metrics.Score(0, 0, 4);
        Assert.Equal(new ClassScores(0, 0, 0, 0), missed);
        var falseAlarm = Metrics.Score(0, 2, 0);
        Assert.Equal(0.0, falseAlarm.Dice);
        Assert.Equal(0.0, falseAlarm.Precision);
    }

    [Fact]
    public void Confusion_counts_only_valid_pixels()
    {
        // Pixels: (truth, predicted, valid): (0,0,1) (1,1,1) (0,1,1) (1,0,0) (1,0,1) (0,0,0)
        using var predicted = tensor(new long[] { 0, 1, 1, 0, 0, 0 }).reshape(1, 2, 3);
        using var truth = tensor(new long[] { 0, 1, 0, 1, 1, 0 }).reshape(1, 2, 3);
        using var valid = tensor(new[] { true, true, true, false, true, false }).reshape(1, 2, 3);
        var c = new Confusion(2);
        c.Add(predicted, truth, valid);
        // Valid: (0,0) (1,1) (0,1) (1,0): class 1 tp 1, fp 1, fn 1.
        Assert.Equal(1, c.TruePositives(1));
        Assert.Equal(1, c.FalsePositives(1));
        Assert.Equal(1, c.FalseNegatives(1));
        Assert.Equal(0.5, c.Scores(1).Dice, Tol);
        Assert.Equal(1.0 / 3, c.Scores(1).IoU, Tol);
        // Class 0: tp 1 (the first pixel), fp 1, fn 1.
        Assert.Equal(0.5, c.Scores(0).Dice, Tol);
    }

    [Fact]
    public void Confusion_accumulates_over_batches_and_handles_an_absent_class()
    {
        var c = new Confusion(3);
        using var p1 = tensor(new long[] { 0, 1, 1, 0 }).reshape(1, 2, 2);
        using var t1 = tensor(new long[] { 0, 1, 0, 0 }).reshape(1, 2, 2);
        using var all = ones(new long[] { 1, 2, 2 }, dtype: ScalarType.Bool);
        c.Add(p1, t1, all);
        c.Add(p1, t1, all);
        // Class 1: tp 2, fp 2, fn 0 → Dice 4/6, precision 1/2, recall 1. Class 2 never occurs nor is predicted.
        var s1 = c.Scores(1);
        Assert.Equal(4.0 / 6, s1.Dice, Tol);
        Assert.Equal(0.5, s1.Precision, Tol);
        Assert.Equal(1.0, s1.Recall, Tol);
        Assert.Equal(new ClassScores(1, 1, 1, 1), c.Scores(2));
        var task = CompareTask.Multiclass("a", "b", "c");
        Assert.Equal((4.0 / 6 + 1) / 2, Metrics.Headline(task, c), Tol);
    }

    [Fact]
    public void Binary_prediction_thresholds_the_logit_at_zero_and_multiclass_takes_the_argmax()
    {
        using var logits = tensor(new[] { -0.1f, 0.2f, 0f, 3f }).reshape(1, 1, 2, 2);
        Assert.Equal(new long[] { 0, 1, 0, 1 }, Metrics.Predict(logits, LossTask.Binary).data<long>().ToArray());
        using var multi = tensor(new[] { 1f, 0f, 0f, 2f, 0f, 5f }).reshape(1, 3, 1, 2);
        // Classes × pixels: class 0 (1, 0), class 1 (0, 2), class 2 (0, 5) → pixel 0: class 0, pixel 1: class 2.
        Assert.Equal(new long[] { 0, 2 }, Metrics.Predict(multi, LossTask.Multiclass).data<long>().ToArray());
    }

    [Fact]
    public void Stat_is_mean_and_sample_standard_deviation()
    {
        var s = Stat.Of(new[] { 0.5, 0.7, 0.9 });
        Assert.Equal(0.7, s.Mean, Tol);
        Assert.Equal(0.2, s.Spread, Tol); // sqrt((0.04 + 0 + 0.04) / 2)
        Assert.Equal("0.700 ± 0.200", s.Format());
        Assert.Equal("0.500", Stat.Of(new[] { 0.5 }).Format());
    }
}
