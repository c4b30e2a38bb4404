using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using LossDsl.Cli.Compare;
using Xunit;

namespace LossDsl.Cli.Tests;

/// <summary>The "Recommended: " line and the epoch budget, on constructed results.</summary>
public class RecommendationTests
{
    private static readonly CompareTask Task = CompareTask.Binary();

    // A run whose test split (8 identical images) has foreground Dice `dice`, precision `precision`.
    private static RunResult Run(string loss, int seed, double dice, double threshold = 0.5)
    {
        // Dice = 2tp / (2tp + fp + fn); with tp = 1000·dice and fp + fn = 2000·(1 − dice), split 1:3 (precision above recall).
        var counts = new ImageCounts(8, 2);
        var tp = (long)Math.Round(1000 * dice);
        var wrong = 2000 - 2 * tp;
        for (var i = 0; i < 8; i++)
            counts.Add(i, 1, tp, wrong / 4, wrong - wrong / 4);
        return new RunResult(
            loss,
            seed,
            ImmutableArray.Create(1.0, 0.5),
            ImmutableArray.Create(dice - 0.1, dice),
            ImmutableArray.Create(dice - 0.1, dice),
            2,
            0.1,
            new DecisionRule(threshold, ImmutableArray<double>.Empty),
            counts,
            counts,
            ImmutableArray<byte[]>.Empty
        );
    }

    private static LossSummary Loss(string name, string cs, params double[] dice) =>
        new(name, name, cs, dice.Select((d, s) => Run(name, s + 1, d, 0.4)).ToImmutableArray(), Task);

    private static TaskResult Result(SweepResult? sweep, params LossSummary[] losses)
    {
        var one = new SegmentationSet(1, 1, 1, 1, new float[1], new byte[1], new[] { true });
        var data = new CompareData(Task, one, one, one, "constructed", ImmutableArray.Create("x"));
        var stats = one.Stats(2);
        var plan = new TrainingPlan(2, 6, 4, 1e-3, 8, 3, 0);
        return new TaskResult(
            data,
            plan,
            "--epochs",
            0,
            stats,
            stats,
            stats,
            Comparison.Of(losses.ToImmutableArray()),
            sweep,
            ImmutableArray<int>.Empty,
            1
        );
    }

    [Fact]
    public void A_clear_winner_is_recommended_with_its_csharp_line_margin_and_interval()
    {
        var line = Result(
            null,
            Loss("bce", "new BceLoss()", 0.60, 0.61, 0.59, 0.60, 0.62),
            Loss("bce-dice", "new BceDiceLoss(diceWeight: 0.5)", 0.70, 0.72, 0.69, 0.71, 0.70),
            Loss("dice", "new DiceLoss()", 0.64, 0.66, 0.63, 0.65, 0.65)
        ).Recommendation;
        Assert.StartsWith(
            "Recommended: binary: bce-dice — `new BceDiceLoss(diceWeight: 0.5)`, threshold 0.40 tuned on validation; test foreground Dice 0.704, ",
            line
        );
        // Runner-up dice: per-seed margins 0.06, 0.06, 0.06, 0.06, 0.05 → +0.058.
        Assert.Contains("+0.058 [95 % CI +0.05", line);
        Assert.Contains("over dice, the runner-up, ahead of it on 5 of 5 seeds", line);
        Assert.DoesNotContain("tied", line);
    }

    [Fact]
    public void A_tied_top_group_is_named_with_what_separates_its_members()
    {
        var line = Result(
            null,
            Loss("tversky", "new TverskyLoss(alpha: 0.3, beta: 0.7)", 0.70, 0.73, 0.68, 0.72, 0.69),
            Loss("dice", "new DiceLoss()", 0.71, 0.70, 0.70, 0.70, 0.70),
            Loss("bce", "new BceLoss()", 0.50, 0.52, 0.49, 0.51, 0.50)
        ).Recommendation;
        Assert.StartsWith("Recommended: binary: no single loss — the top group of 2 is tied", line);
        Assert.Contains("tversky 0.704 (`new TverskyLoss(alpha: 0.3, beta: 0.7)`)", line);
        Assert.Contains("dice −0.002 [", line);
        Assert.Contains("(`new DiceLoss()`)", line);
        Assert.DoesNotContain("bce", line);
        Assert.Contains("highest precision", line);
        Assert.Contains("highest recall", line);
        Assert.Contains("s/epoch", line);
    }

    [Fact]
    public void A_sweep_setting_clearly_better_than_the_recommended_one_replaces_it()
    {
        var bce = Loss("bce", "new BceLoss()", 0.60, 0.61, 0.59, 0.60, 0.62);
        var weighted = Loss("weighted-bce", "new BceLoss(posWeight: 99)", 0.50, 0.51, 0.49, 0.50, 0.52);
        var better = Loss("bce(posWeight=3.2)", "new BceLoss(posWeight: 3.2)", 0.66, 0.67, 0.65, 0.66, 0.68);
        var plan = Sweeps.For(LossTask.Binary, "bce", new TrainingStats(ImmutableArray.Create(0.99, 0.01), 0, 100));
        var sweep = new SweepResult("bce", plan, Comparison.Of(ImmutableArray.Create(bce, better, weighted)));
        var line = Result(sweep, bce, weighted).Recommendation;
        Assert.StartsWith("Recommended: binary: bce(posWeight=3.2), found by the sweep of posWeight", line);
        Assert.Contains("`new BceLoss(posWeight: 3.2)`", line);
        Assert.Contains("+0.060 [95 % CI", line);

        var flat = new SweepResult("bce", plan, Comparison.Of(ImmutableArray.Create(bce, weighted)));
        var kept = Result(flat, bce, weighted).Recommendation;
        Assert.StartsWith("Recommended: binary: bce — `new BceLoss()`", kept);
        Assert.Contains("The sweep of posWeight", kept);
    }

    [Fact]
    public void Every_registered_loss_has_a_sweep_that_contains_it_and_fits_the_reservation()
    {
        var stats = new TrainingStats(ImmutableArray.Create(0.99, 0.01), 0, 100);
        var multi = new TrainingStats(ImmutableArray.Create(0.7, 0.1, 0.1, 0.07, 0.03), 0, 100);
        foreach (var entry in LossRegistry.All)
        {
            var plan = Sweeps.For(entry.Task, entry.Name, entry.Task == LossTask.Binary ? stats : multi);
            Assert.Contains(plan.Variants, v => v.Reuse == entry.Name);
            Assert.True(plan.Variants.Length - 1 <= Sweeps.MaxNew, $"{entry.Name}: {plan.Variants.Length} settings");
            Assert.Equal(plan.Variants.Length, plan.Variants.Select(v => v.Entry.Name).Distinct().Count());
            Assert.All(plan.Variants, v => Assert.Equal(entry.Task, v.Entry.Task));
        }
        // Weighted BCE's posWeight: 1 … negatives/positives (99), evenly on a log scale.
        var bce = Sweeps.For(LossTask.Binary, "weighted-bce", stats);
        Assert.Equal(
            new[] { "bce", "bce(posWeight=3.2)", "bce(posWeight=9.9)", "bce(posWeight=31.4)", "weighted-bce" },
            bce.Variants.Select(v => v.Entry.Name)
        );
    }

    [Fact]
    public void Epoch_caps_share_the_time_left_equally_between_runs()
    {
        // 110 s left, 10 s reserved: 100 s for 20 runs = 5 s a run. Task 1: 0.5 s/epoch → ⌊5 / (0.5·1.15)⌋ − 1 = 7;
        // task 2: 0.25 s/epoch → ⌊17.39⌋ − 1 = 16.
        Assert.Equal(new[] { 7, 16 }, EpochBudget.Caps(110, new[] { new TaskCost(10, 0.5), new TaskCost(10, 0.25) }));
        // Doubling the runs of task 1 takes time from both tasks' caps.
        Assert.Equal(new[] { 4, 10 }, EpochBudget.Caps(110, new[] { new TaskCost(20, 0.5), new TaskCost(10, 0.25) }));
        // A budget already spent still trains every run for one epoch; caps never exceed the maximum.
        Assert.Equal(new[] { 1 }, EpochBudget.Caps(5, new[] { new TaskCost(10, 0.5) }));
        Assert.Equal(new[] { EpochBudget.MaxEpochs }, EpochBudget.Caps(1e9, new[] { new TaskCost(1, 0.001) }));
    }

    [Fact]
    public void Patience_is_a_third_of_the_cap_but_at_least_the_minimum()
    {
        Assert.Equal(TrainingPlan.MinPatience, TrainingPlan.PatienceFor(1));
        Assert.Equal(TrainingPlan.MinPatience, TrainingPlan.PatienceFor(16));
        Assert.Equal(20, TrainingPlan.PatienceFor(60));
    }

    [Fact]
    public void Epochs_option_takes_one_cap_or_one_per_task()
    {
        var both = CompareOptions.ParseEpochs("12", 1000);
        Assert.Equal((12, 12), (both[LossTask.Binary], both[LossTask.Multiclass]));
        Assert.Equal("12", CompareOptions.FormatEpochs(both));
        var each = CompareOptions.ParseEpochs("binary=30, multiclass=50", 1000);
        Assert.Equal((30, 50), (each[LossTask.Binary], each[LossTask.Multiclass]));
        Assert.Equal("binary=30,multiclass=50", CompareOptions.FormatEpochs(each));
        var one = CompareOptions.ParseEpochs("multiclass=5", 1000);
        Assert.False(one.ContainsKey(LossTask.Binary));
        Assert.Null(CompareOptions.FormatEpochs(CompareOptions.ParseEpochs(null, 1000)));
        Assert.Throws<UsageException>(() => CompareOptions.ParseEpochs("0", 1000));
        Assert.Throws<UsageException>(() => CompareOptions.ParseEpochs("ternary=3", 1000));
        Assert.Throws<UsageException>(() => CompareOptions.ParseEpochs("binary=x", 1000));
    }

    [Fact]
    public void Still_improving_at_the_cap_needs_a_real_gain_in_the_last_patience_epochs()
    {
        // Cap 10: the last quarter is 3 epochs (8–10).
        var plan = new TrainingPlan(10, 6, 4, 1e-3, 8, 3, 0);
        RunResult With(params double[] tuned) =>
            Run("x", 1, 0.5) with
            {
                EpochLoss = tuned.Select(_ => 1.0).ToImmutableArray(),
                EpochValidationScore = tuned.ToImmutableArray(),
                EpochValidationTuned = tuned.ToImmutableArray(),
            };
        Assert.True(LossSummary.StillImproving(With(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95), plan));
        Assert.False(LossSummary.StillImproving(With(0.1, 0.2, 0.3, 0.8, 0.8, 0.8, 0.8, 0.805, 0.805, 0.805), plan));
        Assert.True(LossSummary.StillImproving(With(0.1, 0.2, 0.3, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.82), plan));
        Assert.False(LossSummary.StillImproving(With(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 0.805, 0.805, 0.805), plan));
        Assert.False(LossSummary.StillImproving(With(0.1, 0.2, 0.3, 0.9), plan)); // stopped before the cap
    }
}
