using System;
using System.IO;
using System.Linq;
using SkiaSharp;
using Xunit;

namespace LossDsl.Cli.Tests;

/// <summary>`lossdsl compare` run as a process, with tiny settings (seconds per test).</summary>
public class CompareEndToEndTests
{
    private static readonly byte[] PngSignature = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

    private static string[] Tiny(string task, string losses, string outDir, params string[] more) =>
        new[] { "compare", "--task", task, "--losses", losses, "--epochs", "1", "--seeds", "2", "--train-images", "8", "--held-out-images", "4", "--out", outDir }
            .Concat(more).ToArray();

    private static void AssertPngs(string dir, string prefix, int atLeast)
    {
        var pngs = Directory.GetFiles(dir, prefix + "*.png");
        Assert.True(pngs.Length >= atLeast, $"expected at least {atLeast} {prefix} PNGs in {dir}, found {pngs.Length}");
        foreach (var png in pngs)
        {
            var bytes = File.ReadAllBytes(png);
            Assert.True(bytes.Length > 1000, $"{png} is only {bytes.Length} bytes");
            Assert.Equal(PngSignature, bytes.Take(8).ToArray());
            using var decoded = SKBitmap.Decode(png);
            Assert.True(decoded is { Width: >= 400, Height: >= 300 }, $"{png} does not decode to a plot-sized image");
        }
    }

    [Fact]
    public void Binary_compare_prints_the_table_and_writes_report_and_plots()
    {
        var dir = CliProcess.TempDir();
        var run = CliProcess.Run(Tiny("binary", "bce,dice", dir));
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.Empty(CliProcess.ErrorLines(run));
        Assert.Contains("binary: held-out scores, mean ± standard deviation over 2 seeds", run.Stdout);
        foreach (var header in new[] { "Loss", "Dice", "IoU", "Precision", "Recall", "s/epoch" }) Assert.Contains(header, run.Stdout);
        Assert.Matches(@"│ bce\s+│ \d\.\d{3} ± \d\.\d{3} │", run.Stdout);
        Assert.Matches(@"│ dice\s+│ \d\.\d{3} ± \d\.\d{3} │", run.Stdout);
        Assert.Matches(@"(bce|dice) won: foreground Dice", run.Stdout);

        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("## Binary task", report);
        Assert.Contains("| Loss | Dice | IoU | Precision | Recall | s/epoch | Loss module |", report);
        Assert.Matches(@"\*\*Result\.\*\* (bce|dice) won", report);
        Assert.Contains("compare --task binary --losses bce,dice --epochs 1 --seed 1 --seeds 2 --train-images 8 --held-out-images 4 --out", report);
        Assert.Contains("(binary-metrics.png)", report);
        Assert.DoesNotContain("## Multiclass task", report);
        AssertPngs(dir, "binary-", 4);
    }

    [Fact]
    public void Multiclass_compare_reports_per_class_dice()
    {
        var dir = CliProcess.TempDir();
        var run = CliProcess.Run(Tiny("multiclass", "cross-entropy,generalized-dice", dir));
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.Contains("multiclass: held-out scores", run.Stdout);
        Assert.Matches(@"│ cross-entropy\s+│ \d\.\d{3} ± \d\.\d{3} │", run.Stdout);
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("| Loss | background | building | road | water | car |", report);
        Assert.Contains("mean Dice over the non-background classes", report);
        AssertPngs(dir, "multiclass-", 4);
    }

    [Fact]
    public void Same_seed_gives_the_same_scores()
    {
        static string Scores(string dir) =>
            string.Join("\n", File.ReadAllLines(Path.Combine(dir, "report.md")).Where(l => l.StartsWith("- ", StringComparison.Ordinal) && l.Contains("seed ", StringComparison.Ordinal)));
        var a = CliProcess.TempDir();
        var b = CliProcess.TempDir();
        Assert.Equal(0, CliProcess.Run(Tiny("binary", "bce-dice", a, "--seed", "7")).ExitCode);
        Assert.Equal(0, CliProcess.Run(Tiny("binary", "bce-dice", b, "--seed", "7")).ExitCode);
        var scores = Scores(a);
        Assert.Matches(@"- bce-dice: seed 7 \d\.\d{3}, seed 8 \d\.\d{3}", scores);
        Assert.Equal(scores, Scores(b));
    }

    [Fact]
    public void User_png_data_is_read_as_a_binary_task()
    {
        var data = CliProcess.TempDir();
        Directory.CreateDirectory(Path.Combine(data, "images"));
        Directory.CreateDirectory(Path.Combine(data, "masks"));
        var rng = new Random(3);
        for (var k = 0; k < 6; k++)
        {
            using var image = new SKBitmap(32, 24);
            using var mask = new SKBitmap(32, 24);
            var (cx, cy) = (rng.Next(4, 28), rng.Next(4, 20));
            for (var y = 0; y < 24; y++)
            for (var x = 0; x < 32; x++)
            {
                var inside = Math.Abs(x - cx) < 3 && Math.Abs(y - cy) < 3;
                var g = (byte)(inside ? 200 : rng.Next(20, 90));
                image.SetPixel(x, y, new SKColor(g, g, g));
                mask.SetPixel(x, y, inside ? SKColors.White : SKColors.Black);
            }
            Save(image, Path.Combine(data, "images", $"{k}.png"));
            Save(mask, Path.Combine(data, "masks", $"{k}.png"));
        }
        var dir = CliProcess.TempDir();
        var run = CliProcess.Run("compare", "--data", data, "--losses", "bce,tversky", "--epochs", "1", "--seeds", "1", "--out", dir);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.Contains("binary: 2 losses × 1 seeds × 1 epochs, 5 training / 1 held-out images", run.Stdout);
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("6 PNG images from", report);
        Assert.Contains("32×24, grey", report);
        Assert.Contains("With one seed there is no spread", report);
    }

    private static void Save(SKBitmap bitmap, string path)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    [Theory]
    [InlineData("--epochs 0", "--epochs must be between 1 and 1000, got 0")]
    [InlineData("--seeds -1", "--seeds must be between 1 and 100, got -1")]
    [InlineData("--task trinary", "trinary")]
    [InlineData("--task binary --losses bce,nope", "unknown binary loss 'nope'; binary losses are: bce, weighted-bce")]
    [InlineData("--task multiclass --losses bce", "unknown multiclass loss 'bce'")]
    [InlineData("--bogus 3", "--bogus")]
    [InlineData("--epochs many", "many")]
    [InlineData("--data /nonexistent/lossdsl-data", "--data /nonexistent/lossdsl-data: no such directory")]
    public void Bad_options_exit_2_with_one_clear_line(string options, string expected)
    {
        var dir = CliProcess.TempDir();
        var run = CliProcess.Run(new[] { "compare", "--out", dir }.Concat(options.Split(' ')).ToArray());
        Assert.Equal(2, run.ExitCode);
        var lines = CliProcess.ErrorLines(run);
        var line = Assert.Single(lines);
        Assert.StartsWith("lossdsl: ", line);
        Assert.Contains(expected, line);
        Assert.False(File.Exists(Path.Combine(dir, "report.md")));
    }

    [Fact]
    public void Unknown_verb_exits_2()
    {
        var run = CliProcess.Run("frobnicate");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("frobnicate", Assert.Single(CliProcess.ErrorLines(run)));
    }

    [Fact]
    public void Help_lists_every_option()
    {
        var run = CliProcess.Run("compare", "--help");
        Assert.Equal(0, run.ExitCode);
        foreach (var option in new[] { "--losses", "--epochs", "--task", "--seed", "--seeds", "--data", "--out", "--train-images", "--held-out-images" })
            Assert.Contains(option, run.Stdout);
        foreach (var loss in new[] { "weighted-bce", "binary-focal", "tversky", "weighted-cross-entropy", "generalized-dice", "dice-ce" })
            Assert.Contains(loss, run.Stdout);
    }
}
