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
        Assert.Contains("binary: test scores, mean ± standard deviation over 2 seeds", run.Stdout);
        foreach (var header in new[] { "Loss", "Dice tuned", "Dice@0.5", "Prec.", "Recall", "Δ vs best [95 % CI]", "seeds +/−", "status", "epochs" })
            Assert.Contains(header, run.Stdout);
        Assert.Matches(@"│ bce\s+│ \d\.\d{3} ± \d\.\d{3} │", run.Stdout);
        Assert.Matches(@"│ dice\s+│ \d\.\d{3} ± \d\.\d{3} │", run.Stdout);
        Assert.Matches(@"│ (best|tied with the best|worse)\s+│", run.Stdout);
        Assert.Contains("binary: 2 losses × 2 seeds, at most 1 epochs (patience 6), 6 training / 2 validation / 4 test images", run.Stdout);
        var lines = run.Stdout.TrimEnd().Split('\n');
        Assert.StartsWith("Recommended: binary: ", lines[^1]); // one unwrapped line, the console's last
        Assert.Matches(@"\nRecommended: binary: [^\n]*`new (BceLoss|DiceLoss)\(", run.Stdout);

        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("## Binary task", report);
        Assert.Contains("6 training, 2 validation (carved from the training images) and 4 test images", report);
        Assert.Contains("| Loss | Dice tuned | IoU tuned | Precision tuned | Recall tuned | Dice @0.5 | Precision @0.5 | Recall @0.5 | tuned rule (median over seeds) | epochs best/trained | s/epoch | C# |", report);
        Assert.Contains("### Paired comparison (tuned rule, used for the ranking)", report);
        Assert.Contains("### Paired comparison at threshold 0.5", report);
        Assert.Matches(@"\*\*Result\.\*\* Recommended: binary: ", report);
        Assert.Contains("compare --task binary --losses bce,dice --budget 270 --epochs 1 --seed 1 --seeds 2 --train-images 8 --held-out-images 4 --out", report);
        Assert.Contains("(binary-metrics.png)", report);
        Assert.Contains("(binary-paired-differences.png)", report);
        Assert.DoesNotContain("## Multiclass task", report);
        Assert.StartsWith("Recommended: binary: ", report.TrimEnd().Split('\n')[^1]);
        AssertPngs(dir, "binary-", 5);
    }

    [Fact]
    public void Multiclass_compare_reports_per_class_dice()
    {
        var dir = CliProcess.TempDir();
        var run = CliProcess.Run(Tiny("multiclass", "cross-entropy,generalized-dice", dir));
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.Contains("multiclass: test scores", run.Stdout);
        Assert.Matches(@"│ cross-entropy\s+│ \d\.\d{3} ± \d\.\d{3} │", run.Stdout);
        Assert.Contains("Recommended: multiclass: ", run.Stdout);
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("| Loss | background | building | road | water | car |", report);
        Assert.Contains("mean Dice over the non-background classes", report);
        Assert.Contains("### Paired comparison with plain arg-max", report);
        Assert.Matches(@"offsets building [−+0]", report);
        AssertPngs(dir, "multiclass-", 5);
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
        Assert.Matches(@"- bce-dice: seed 7 \d\.\d{3} \(\d\.\d{3}, epoch 1/1\), seed 8 \d\.\d{3} \(\d\.\d{3}, epoch 1/1\)", scores);
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
        Assert.Contains("binary: 2 losses × 1 seeds, at most 1 epochs (patience 6), 4 training / 1 validation / 1 test images", run.Stdout);
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("6 PNG images from", report);
        Assert.Contains("32×24, grey", report);
        Assert.Contains("With fewer than 3 seeds the interval mostly reflects the test images", report);
    }

    private static void Save(SKBitmap bitmap, string path)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    [Theory]
    [InlineData("--epochs 0", "--epochs must be between 1 and 1000 (or binary=N,multiclass=M), got 0")]
    [InlineData("--epochs binary=x", "--epochs must be between 1 and 1000")]
    [InlineData("--budget 0", "--budget must be between 1 and 604800 seconds, got 0")]
    [InlineData("--train-images 1", "--train-images must be between 2 and 100000, got 1")]
    [InlineData("--device tpu", "tpu")]
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
        foreach (var option in new[] { "--losses", "--epochs", "--budget", "--task", "--seed", "--seeds", "--data", "--out", "--train-images", "--held-out-images", "--sweep", "--device" })
            Assert.Contains(option, run.Stdout);
        foreach (var loss in new[] { "weighted-bce", "binary-focal", "tversky", "weighted-cross-entropy", "generalized-dice", "dice-ce" })
            Assert.Contains(loss, run.Stdout);
    }
}
