using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using LossDsl.Cli.Compare;
using Xunit;

namespace LossDsl.Cli.Tests;

/// <summary>
/// The paired bootstrap on constructed score tables. Binary counts with fp = fn make Dice = tp / (tp + fp),
/// so a run with tp = 70, fp = fn = 30 on every image scores exactly 0.70 however the images are resampled.
/// </summary>
public class PairedStatsTests
{
    private static readonly ImmutableArray<int> Foreground = ImmutableArray.Create(1);

    // One run: `images` identical images with foreground Dice `dice` (exact to 0.001).
    private static ImageCounts Run(double dice, int images = 8)
    {
        var counts = new ImageCounts(images, 2);
        var tp = (long)Math.Round(dice * 1000);
        for (var i = 0; i < images; i++)
            counts.Add(i, 1, tp, 1000 - tp, 1000 - tp);
        return counts;
    }

    private static IReadOnlyList<ImageCounts> Seeds(params double[] dice) => dice.Select(d => Run(d)).ToArray();

    [Fact]
    public void A_clear_winner_is_best_and_the_others_interval_excludes_zero()
    {
        var a = Seeds(0.80, 0.82, 0.79, 0.81, 0.83);
        var b = Seeds(0.60, 0.63, 0.58, 0.61, 0.62);
        var analysis = PairedBootstrap.Analyse(new[] { b, a }, Foreground);
        Assert.Equal(1, analysis.Best);
        var d = analysis.Differences[0];
        // Per-seed differences b − a: −0.20, −0.19, −0.21, −0.20, −0.21 → mean −0.202.
        Assert.Equal(-0.202, d.Mean, 1e-9);
        Assert.Equal(new[] { -0.20, -0.19, -0.21, -0.20, -0.21 }, d.PerSeed.Select(x => Math.Round(x, 9)).ToArray());
        Assert.Equal(PairStatus.Worse, d.Status);
        Assert.True(d.Upper < 0, $"upper {d.Upper}");
        Assert.False(d.IncludesZero);
        // The resampled means lie between the smallest and largest per-seed difference.
        Assert.InRange(d.Lower, -0.21 - 1e-9, d.Mean);
        Assert.InRange(d.Upper, d.Mean, -0.19 + 1e-9);
        Assert.Equal((0, 5), (d.SeedsAhead, d.SeedsBehind));
        Assert.Equal(PairStatus.Best, analysis.Differences[1].Status);
        Assert.Equal(0.0, analysis.Differences[1].Mean);
        Assert.Equal(new[] { 1 }, analysis.TopGroup.ToArray());
    }

    [Fact]
    public void Losses_that_trade_places_between_seeds_are_tied()
    {
        var a = Seeds(0.70, 0.73, 0.68, 0.72, 0.69);
        var b = Seeds(0.71, 0.70, 0.70, 0.70, 0.70);
        var analysis = PairedBootstrap.Analyse(new[] { a, b }, Foreground);
        Assert.Equal(0, analysis.Best); // means 0.704 against 0.702
        var d = analysis.Differences[1];
        Assert.Equal(-0.002, d.Mean, 1e-9);
        Assert.Equal(PairStatus.Tied, d.Status);
        Assert.True(d.Lower < 0 && d.Upper > 0, $"[{d.Lower}, {d.Upper}]");
        Assert.Equal((3, 2), (d.SeedsAhead, d.SeedsBehind));
        Assert.Equal(new[] { 0, 1 }, analysis.TopGroup.ToArray());
    }

    [Fact]
    public void A_reversal_the_per_seed_winner_loses_on_the_mean_and_the_interval_includes_zero()
    {
        // a beats b by 0.02 on four seeds and loses by 0.30 on the fifth: b wins on the mean.
        var a = Seeds(0.72, 0.72, 0.72, 0.72, 0.40);
        var b = Seeds(0.70, 0.70, 0.70, 0.70, 0.70);
        var analysis = PairedBootstrap.Analyse(new[] { a, b }, Foreground);
        Assert.Equal(1, analysis.Best);
        var d = analysis.Differences[0];
        Assert.Equal((4 * 0.02 - 0.30) / 5, d.Mean, 1e-9);
        Assert.Equal((4, 1), (d.SeedsAhead, d.SeedsBehind));
        // Resamples without the fifth seed ((4/5)^5 ≈ 33 % of them) give +0.02: the interval reaches above 0.
        Assert.Equal(0.02, d.Upper, 1e-9);
        Assert.True(d.Lower < -0.1, $"lower {d.Lower}");
        Assert.Equal(PairStatus.Tied, d.Status);
    }

    [Fact]
    public void A_difference_carried_by_one_test_image_is_not_significant()
    {
        // One seed, ten images, identical except image 0, where a finds everything and b nothing.
        static ImageCounts Images(bool good)
        {
            var c = new ImageCounts(10, 2);
            c.Add(0, 1, good ? 100 : 0, 0, good ? 0 : 100);
            for (var i = 1; i < 10; i++)
                c.Add(i, 1, 50, 50, 50);
            return c;
        }
        var analysis = PairedBootstrap.Analyse(new[] { new[] { Images(true) }, new[] { Images(false) } }, Foreground);
        Assert.Equal(0, analysis.Best);
        var d = analysis.Differences[1];
        Assert.True(d.Mean < -0.05, $"mean {d.Mean}");
        // (9/10)^10 ≈ 35 % of the image resamples leave image 0 out: then the two are equal.
        Assert.Equal(0.0, d.Upper, 12);
        Assert.Equal(PairStatus.Tied, d.Status);
    }

    [Fact]
    public void Dice_is_recomputed_from_pooled_counts_not_averaged_per_image()
    {
        // Image 0: tp 1, fp 0, fn 0 (Dice 1); image 1: tp 0, fp 0, fn 99 (Dice 0). Pooled: 2/(2 + 99); per-image mean: 0.5.
        var c = new ImageCounts(2, 2);
        c.Add(0, 1, 1, 0, 0);
        c.Add(1, 1, 0, 0, 99);
        Assert.Equal(2.0 / 101, c.Headline(Foreground), 1e-12);
        Assert.Equal(2.0 / 101, c.Headline(Foreground, new[] { 1, 1 }), 1e-12);
        // Weights repeat images: image 0 twice, image 1 not at all → 1.
        Assert.Equal(1.0, c.Headline(Foreground, new[] { 2, 0 }), 1e-12);
        Assert.Equal(4.0 / (4 + 99), c.Headline(Foreground, new[] { 2, 1 }), 1e-12);
    }

    [Fact]
    public void Identical_losses_are_tied_with_a_zero_interval_and_the_first_is_best()
    {
        var a = Seeds(0.6, 0.7, 0.8);
        var analysis = PairedBootstrap.Analyse(new[] { a, a }, Foreground);
        Assert.Equal(0, analysis.Best);
        Assert.Equal((0.0, 0.0, 0.0), (analysis.Differences[1].Mean, analysis.Differences[1].Lower, analysis.Differences[1].Upper));
        Assert.Equal(PairStatus.Tied, analysis.Differences[1].Status);
    }

    [Fact]
    public void The_bootstrap_is_reproducible_and_depends_on_its_seed()
    {
        var rng = new Random(5);
        IReadOnlyList<ImageCounts> Noisy(double bias) =>
            Enumerable
                .Range(0, 4)
                .Select(_ =>
                {
                    var c = new ImageCounts(12, 2);
                    for (var i = 0; i < 12; i++)
                    {
                        var tp = rng.Next(40, 60) + (long)(bias * 100);
                        c.Add(i, 1, tp, rng.Next(20, 40), rng.Next(20, 40));
                    }
                    return c;
                })
                .ToArray();
        var a = Noisy(0.05);
        var b = Noisy(0);
        var one = PairedBootstrap.Analyse(new[] { a, b }, Foreground);
        var two = PairedBootstrap.Analyse(new[] { a, b }, Foreground);
        var other = PairedBootstrap.Analyse(new[] { a, b }, Foreground, rngSeed: 7);
        Assert.Equal(one.Differences.Select(d => (d.Lower, d.Upper)), two.Differences.Select(d => (d.Lower, d.Upper)));
        Assert.NotEqual(one.Differences[one.Best == 0 ? 1 : 0].Lower, other.Differences[other.Best == 0 ? 1 : 0].Lower);
        Assert.Equal(PairedBootstrap.DefaultResamples, one.Resamples);
        Assert.True(one.Resamples >= 2000);
    }

    [Fact]
    public void Mismatched_tables_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => PairedBootstrap.Analyse(new[] { Seeds(0.5, 0.6), Seeds(0.5) }, Foreground));
        Assert.Throws<ArgumentException>(() => PairedBootstrap.Analyse(new[] { new[] { Run(0.5, 4) }, new[] { Run(0.5, 5) } }, Foreground));
    }

    [Fact]
    public void Quantile_interpolates_between_order_statistics()
    {
        var v = new[] { 1.0, 2, 3, 4, 5 };
        Assert.Equal(1.0, PairedBootstrap.Quantile(v, 0));
        Assert.Equal(3.0, PairedBootstrap.Quantile(v, 0.5));
        Assert.Equal(5.0, PairedBootstrap.Quantile(v, 1));
        Assert.Equal(1.1, PairedBootstrap.Quantile(v, 0.025), 12);
    }
}
