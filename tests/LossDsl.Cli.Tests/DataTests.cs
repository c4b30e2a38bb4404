using System.Linq;
using LossDsl.Cli.Compare;
using Xunit;

namespace LossDsl.Cli.Tests;

/// <summary>The built-in data sets: documented ranges and determinism.</summary>
public class DataTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Lidar_foreground_and_invalid_fractions_are_in_the_documented_ranges(int seed)
    {
        var set = SyntheticLidar.Generate(32, seed);
        Assert.Equal((2, 64, 256), (set.Channels, set.Height, set.Width));
        var stats = set.Stats(2);
        // Documented: foreground 0.5–2 % of valid pixels over a split, 50–90 % of pixels without return per image.
        Assert.InRange(stats.ForegroundFraction, 0.005, 0.02);
        for (var i = 0; i < set.Count; i++)
        {
            var image = set.Select(new[] { i }).Stats(2);
            Assert.InRange(image.InvalidFraction, 0.5, 0.9);
            Assert.InRange(image.ForegroundFraction, 0.0, 0.05);
        }
    }

    [Fact]
    public void Lidar_invalid_pixels_have_zero_input_and_background_label()
    {
        var set = SyntheticLidar.Generate(4, 9);
        var pixels = set.PixelsPerImage;
        for (var n = 0; n < set.Count; n++)
        for (var p = 0; p < pixels; p++)
        {
            if (set.Valid[n * pixels + p])
                continue;
            Assert.Equal(0, set.Labels[n * pixels + p]);
            Assert.Equal(0f, set.Images[(n * 2) * pixels + p]);
            Assert.Equal(0f, set.Images[(n * 2 + 1) * pixels + p]);
        }
    }

    [Fact]
    public void Satellite_classes_have_strongly_unequal_areas()
    {
        var stats = SyntheticSatellite.Generate(48, 1).Stats(5);
        var f = stats.ClassFractions;
        // background > building > road > water > car, with the car class rare.
        Assert.True(f[0] > 0.6, $"background {f[0]}");
        for (var c = 1; c < 5; c++)
            Assert.True(f[c - 1] > f[c], $"class {c - 1} ({f[c - 1]}) should outnumber class {c} ({f[c]})");
        Assert.InRange(f[4], 0.001, 0.02);
        Assert.InRange(stats.InvalidFraction, 0.0, 0.3);
    }

    [Fact]
    public void Generation_is_deterministic_for_a_seed_and_differs_between_seeds()
    {
        var a = SyntheticLidar.Generate(3, 11);
        var b = SyntheticLidar.Generate(3, 11);
        var c = SyntheticLidar.Generate(3, 12);
        Assert.Equal(a.Images, b.Images);
        Assert.Equal(a.Labels, b.Labels);
        Assert.Equal(a.Valid, b.Valid);
        Assert.NotEqual(a.Labels, c.Labels);
        var s1 = SyntheticSatellite.Generate(3, 11);
        var s2 = SyntheticSatellite.Generate(3, 11);
        Assert.Equal(s1.Images, s2.Images);
        Assert.Equal(s1.Labels, s2.Labels);
        Assert.NotEqual(s1.Labels, SyntheticSatellite.Generate(3, 12).Labels);
    }

    [Fact]
    public void Preview_indices_pick_the_images_with_the_most_foreground()
    {
        var set = SyntheticLidar.Generate(6, 4);
        var picked = CompareRunner.PreviewIndices(set, SyntheticLidar.Task, 2);
        int Fg(int i) => Enumerable.Range(i * set.PixelsPerImage, set.PixelsPerImage).Count(p => set.Valid[p] && set.Labels[p] != 0);
        var best = Enumerable.Range(0, 6).OrderByDescending(Fg).ThenBy(i => i).Take(2).OrderBy(i => i).ToArray();
        Assert.Equal(best, picked);
    }
}
