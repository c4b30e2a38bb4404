using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;

namespace LossDsl.Cli.Compare;

/// <summary>Where a loss stands against the best one.</summary>
internal enum PairStatus
{
    /// <summary>The loss with the highest mean score.</summary>
    Best,

    /// <summary>The 95 % interval of its difference to the best includes 0.</summary>
    Tied,

    /// <summary>The whole interval is below 0.</summary>
    Worse,
}

/// <summary>
/// One entry (loss) against the best: Δ = entry − best of the headline score, per seed; its mean
/// over seeds, and the 95 % paired bootstrap interval of that mean.
/// </summary>
/// <param name="Index">The entry's position in the analysed list.</param>
/// <param name="Score">The entry's headline score, mean over seeds.</param>
/// <param name="Mean">Mean over seeds of the per-seed differences to the best (0 for the best itself).</param>
/// <param name="Lower">2.5 % quantile of the bootstrap distribution of that mean.</param>
/// <param name="Upper">97.5 % quantile.</param>
/// <param name="PerSeed">The per-seed differences.</param>
/// <param name="Status">Best, tied with the best (interval includes 0) or worse.</param>
internal sealed record PairedDifference(
    int Index,
    double Score,
    double Mean,
    double Lower,
    double Upper,
    ImmutableArray<double> PerSeed,
    PairStatus Status
)
{
    /// <summary>Seeds on which the entry scored above the best.</summary>
    public int SeedsAhead => PerSeed.Count(d => d > 0);

    /// <summary>Seeds on which the entry scored below the best.</summary>
    public int SeedsBehind => PerSeed.Count(d => d < 0);

    /// <summary>Whether the interval includes 0.</summary>
    public bool IncludesZero => Lower <= 0 && Upper >= 0;
}

/// <summary>The paired comparison of several entries evaluated on the same seeds and test images.</summary>
/// <param name="Best">Index of the entry with the highest mean headline score (the first on ties).</param>
/// <param name="Differences">Every entry against the best, in input order.</param>
/// <param name="Seeds">Seeds per entry.</param>
/// <param name="Images">Test images.</param>
/// <param name="Resamples">Bootstrap resamples.</param>
/// <param name="RngSeed">Seed of the bootstrap's random numbers.</param>
internal sealed record PairedAnalysis(
    int Best,
    ImmutableArray<PairedDifference> Differences,
    int Seeds,
    int Images,
    int Resamples,
    int RngSeed
)
{
    /// <summary>Entry indices by mean score, best first (ties: input order).</summary>
    public ImmutableArray<int> Ranking =>
        Differences.OrderByDescending(d => d.Score).ThenBy(d => d.Index).Select(d => d.Index).ToImmutableArray();

    /// <summary>The best and every entry tied with it, in ranking order.</summary>
    public ImmutableArray<int> TopGroup => Ranking.Where(i => Differences[i].Status != PairStatus.Worse).ToImmutableArray();

    /// <summary>The entry ranked second, or null when only one was analysed.</summary>
    public int? RunnerUp => Ranking.Length > 1 ? Ranking[1] : null;
}

/// <summary>
/// The paired bootstrap. For one seed every loss starts from the same network and sees the same
/// batches, and every network is scored on the same test images, so losses are compared seed by
/// seed (and image by image), not as independent samples. Two-level resampling: each resample draws
/// the seeds with replacement, and the test images with replacement (one draw of images shared by
/// every seed, since the seeds are scored on the same images); the same draw is applied to every
/// loss. For every drawn seed the headline score is recomputed from the per-image confusion counts
/// pooled over the drawn images (Dice is a ratio of pooled counts, not a mean of per-image Dice), the
/// differences to the best are averaged over the drawn seeds, and the 2.5 % and 97.5 % quantiles of
/// those averages over all resamples form the interval.
/// </summary>
internal static class PairedBootstrap
{
    /// <summary>Resamples per analysis.</summary>
    public const int DefaultResamples = 4000;

    /// <summary>The bootstrap's fixed random seed (results are reproducible).</summary>
    public const int DefaultRngSeed = 20240917;

    /// <summary>Analyses <paramref name="counts"/>[entry][seed], test counts per image with the same images in the same order everywhere.</summary>
    /// <param name="counts">Per entry, per seed (same seeds in the same order for every entry).</param>
    /// <param name="classes">The classes the headline score averages over.</param>
    /// <param name="resamples">Bootstrap resamples (at least 100).</param>
    /// <param name="rngSeed">Seed of the resampling.</param>
    public static PairedAnalysis Analyse(
        IReadOnlyList<IReadOnlyList<ImageCounts>> counts,
        ImmutableArray<int> classes,
        int resamples = DefaultResamples,
        int rngSeed = DefaultRngSeed
    )
    {
        if (counts.Count == 0)
            throw new ArgumentException("nothing to compare", nameof(counts));
        var seeds = counts[0].Count;
        if (seeds == 0 || counts.Any(c => c.Count != seeds))
            throw new ArgumentException("every entry needs the same number of seeds (at least one)", nameof(counts));
        var images = counts[0][0].Images;
        if (counts.Any(c => c.Any(s => s.Images != images)))
            throw new ArgumentException("every run must be scored on the same test images", nameof(counts));
        if (resamples < 100)
            throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "use at least 100 resamples");
        var entries = counts.Count;

        // Observed: headline per entry and seed on all images.
        var score = new double[entries, seeds];
        for (var e = 0; e < entries; e++)
        for (var s = 0; s < seeds; s++)
            score[e, s] = counts[e][s].Headline(classes);
        var means = Enumerable.Range(0, entries).Select(e => Enumerable.Range(0, seeds).Average(s => score[e, s])).ToArray();
        var best = 0;
        for (var e = 1; e < entries; e++)
            if (means[e] > means[best])
                best = e;

        var rng = new Random(rngSeed);
        var weights = new int[images];
        var drawn = new int[seeds];
        var boot = new double[entries, seeds];
        var samples = new double[entries][];
        for (var e = 0; e < entries; e++)
            samples[e] = new double[resamples];
        for (var r = 0; r < resamples; r++)
        {
            Array.Clear(weights);
            for (var i = 0; i < images; i++)
                weights[rng.Next(images)]++;
            for (var s = 0; s < seeds; s++)
                drawn[s] = rng.Next(seeds);
            for (var e = 0; e < entries; e++)
            for (var s = 0; s < seeds; s++)
                boot[e, s] = double.NaN;
            for (var e = 0; e < entries; e++)
            {
                var sum = 0.0;
                foreach (var s in drawn)
                {
                    if (double.IsNaN(boot[e, s]))
                        boot[e, s] = counts[e][s].Headline(classes, weights);
                    if (double.IsNaN(boot[best, s]))
                        boot[best, s] = counts[best][s].Headline(classes, weights);
                    sum += boot[e, s] - boot[best, s];
                }
                samples[e][r] = sum / seeds;
            }
        }

        var differences = ImmutableArray.CreateBuilder<PairedDifference>(entries);
        for (var e = 0; e < entries; e++)
        {
            var perSeed = Enumerable.Range(0, seeds).Select(s => score[e, s] - score[best, s]).ToImmutableArray();
            Array.Sort(samples[e]);
            var lower = Quantile(samples[e], 0.025);
            var upper = Quantile(samples[e], 0.975);
            var status =
                e == best ? PairStatus.Best
                : upper < 0 ? PairStatus.Worse
                : PairStatus.Tied;
            differences.Add(new PairedDifference(e, means[e], perSeed.Average(), lower, upper, perSeed, status));
        }
        return new PairedAnalysis(best, differences.MoveToImmutable(), seeds, images, resamples, rngSeed);
    }

    /// <summary>Quantile <paramref name="q"/> of sorted values, linear between order statistics (R's type 7).</summary>
    public static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0)
            return double.NaN;
        var h = (sorted.Length - 1) * q;
        var lo = (int)Math.Floor(h);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}
