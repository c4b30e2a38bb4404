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
        new[]
        {
            "compare",
            "--task",
            task,
            "--losses",
            losses,
            "--epochs",
            "1",
            "--seeds",
            "2",
            "--train-images",
            "8",
            "--held-out-images",
            "4",
            "--out",
            outDir,
        }
            .Concat(more)
            .ToArray();

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
        foreach (
            var header in new[]
            {
                "Loss",
                "Dice tuned",
                "IoU tuned",
                "Dice@0.5",
                "IoU@0.5",
                "Prec.",
                "Recall",
                "Δ vs best [95 % CI]",
                "seeds +/−",
                "status",
                "epochs",
            }
        )
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
        Assert.Contains(
            "| Loss | Dice tuned | IoU tuned | Precision tuned | Recall tuned | Dice @0.5 | IoU @0.5 | Precision @0.5 | Recall @0.5 | tuned rule (median over seeds) | epochs best/trained | s/epoch | C# |",
            report
        );
        Assert.Contains("### Paired comparison (tuned rule, used for the ranking)", report);
        Assert.Contains("### Paired comparison at threshold 0.5", report);
        Assert.Matches(@"\*\*Result\.\*\* Recommended: binary: ", report);
        Assert.Contains(
            "compare --task binary --losses bce,dice --budget 280 --epochs 1 --seed 1 --seeds 2 --train-images 8 --held-out-images 4 --out",
            report
        );
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
            string.Join(
                "\n",
                File.ReadAllLines(Path.Combine(dir, "report.md"))
                    .Where(l => l.StartsWith("- ", StringComparison.Ordinal) && l.Contains("seed ", StringComparison.Ordinal))
            );
        var a = CliProcess.TempDir();
        var b = CliProcess.TempDir();
        CliProcess.Succeeds(Tiny("binary", "bce-dice", a, "--seed", "7"));
        CliProcess.Succeeds(Tiny("binary", "bce-dice", b, "--seed", "7"));
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

    // A folder of `count` grey PNGs with square objects: masks 0/255 (binary) or class indices 0, 1, 2 (multiclass).
    private static string PngFolder(int count, bool multiclass)
    {
        var data = CliProcess.TempDir();
        Directory.CreateDirectory(Path.Combine(data, "images"));
        Directory.CreateDirectory(Path.Combine(data, "masks"));
        var rng = new Random(5);
        for (var k = 0; k < count; k++)
        {
            using var image = new SKBitmap(32, 24);
            using var mask = new SKBitmap(32, 24);
            var objects = new[] { (rng.Next(4, 28), rng.Next(4, 20), 1), (rng.Next(4, 28), rng.Next(4, 20), multiclass ? 2 : 1) };
            for (var y = 0; y < 24; y++)
            for (var x = 0; x < 32; x++)
            {
                var label = 0;
                foreach (var (cx, cy, c) in objects)
                    if (Math.Abs(x - cx) < 3 && Math.Abs(y - cy) < 3)
                        label = c;
                var g = (byte)(
                    label == 1 ? 200
                    : label == 2 ? 130
                    : rng.Next(20, 90)
                );
                image.SetPixel(x, y, new SKColor(g, g, g));
                var m = (byte)(
                    multiclass ? label
                    : label > 0 ? 255
                    : 0
                );
                mask.SetPixel(x, y, new SKColor(m, m, m));
            }
            Save(image, Path.Combine(data, "images", $"{k:D2}.png"));
            Save(mask, Path.Combine(data, "masks", $"{k:D2}.png"));
        }
        return data;
    }

    private static string[] Headings(string report) => report.Split('\n').Where(l => l.StartsWith('#')).Select(l => l.TrimEnd()).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void User_png_data_gives_a_report_with_the_same_sections_as_the_built_in_data(bool multiclass)
    {
        var kind = multiclass ? "multiclass" : "binary";
        var losses = multiclass ? "cross-entropy,dice" : "bce,dice";
        var data = PngFolder(8, multiclass);
        var dir = CliProcess.TempDir();
        var run = CliProcess.Run("compare", "--data", data, "--losses", losses, "--epochs", "2", "--seeds", "2", "--out", dir);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        // 8 images: a quarter (2) for test, a quarter of the other 6 (1) for validation, 5 to train on.
        Assert.Contains(
            $"{kind}: 2 losses × 2 seeds, at most 2 epochs (patience 6), 5 training / 1 validation / 2 test images",
            run.Stdout
        );
        Assert.StartsWith($"Recommended: {kind}: ", run.Stdout.TrimEnd().Split('\n')[^1]);
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("8 PNG images from", report);
        Assert.Contains("5 training, 1 validation (carved from the training images) and 2 test images", report);
        Assert.StartsWith($"Recommended: {kind}: ", report.TrimEnd().Split('\n')[^1]);
        AssertPngs(dir, kind + "-", 5);

        var synthetic = CliProcess.TempDir();
        CliProcess.Succeeds(Tiny(kind, losses, synthetic));
        var expected = Headings(File.ReadAllText(Path.Combine(synthetic, "report.md")));
        Assert.Equal(expected, Headings(report));
        Assert.Contains(multiclass ? "## Multiclass task" : "## Binary task", expected);
        foreach (
            var heading in new[]
            {
                "### Paired comparison (tuned rule, used for the ranking)",
                "### Per seed",
                "## Configuration",
                "## Recommendation",
            }
        )
            Assert.Contains(heading, expected);
    }

    [Fact]
    public void Sweep_reports_its_own_section_with_the_paired_analysis()
    {
        var dir = CliProcess.TempDir();
        var run = CliProcess.Run(Tiny("binary", "bce,weighted-bce", dir, "--sweep"));
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.Matches(@"binary sweep around (bce|weighted-bce): posWeight", run.Stdout);
        // The three posWeight settings between plain and weighted BCE are trained; the two ends are reused.
        Assert.Matches(@"binary bce\(posWeight=\d+(\.\d)?\) seed 1: kept epoch 1/1", run.Stdout);
        Assert.Equal(3 * 2, run.Stdout.Split('\n').Count(l => l.StartsWith("binary bce(posWeight=", StringComparison.Ordinal)));
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("## Binary sweep", report);
        Assert.Contains("### Sweep: paired comparison (tuned rule)", report);
        Assert.Contains("(binary-sweep-differences.png)", report);
        Assert.Contains("--sweep", report);
        Assert.StartsWith("Recommended: binary: ", report.TrimEnd().Split('\n')[^1]);
        AssertPngs(dir, "binary-sweep", 1);
    }

    [Fact]
    public void Budget_derived_caps_are_reported_and_reproduced_by_the_epochs_they_name()
    {
        var a = CliProcess.TempDir();
        var run = CliProcess.Run(
            "compare",
            "--task",
            "binary",
            "--losses",
            "bce,dice",
            "--budget",
            "16",
            "--seeds",
            "2",
            "--train-images",
            "8",
            "--held-out-images",
            "4",
            "--out",
            a
        );
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        var report = File.ReadAllText(Path.Combine(a, "report.md"));
        var cap = System.Text.RegularExpressions.Regex.Match(
            report,
            @"\| binary epoch cap \| (\d+) \(budget: \d+ s left of 16 s for 4 runs, one epoch measured at \d+\.\d\d s\)"
        );
        Assert.True(cap.Success, "no budget-derived cap in the report");
        var epochs = cap.Groups[1].Value;
        Assert.Contains($"--budget 16 --epochs binary={epochs} --seed 1 --seeds 2", report);

        static string Seeds(string dir) =>
            string.Join(
                "\n",
                File.ReadAllLines(Path.Combine(dir, "report.md"))
                    .Where(l => l.StartsWith("- ", StringComparison.Ordinal) && l.Contains("seed ", StringComparison.Ordinal))
            );
        var b = CliProcess.TempDir();
        CliProcess.Succeeds(
            "compare",
            "--task",
            "binary",
            "--losses",
            "bce,dice",
            "--epochs",
            epochs,
            "--seeds",
            "2",
            "--train-images",
            "8",
            "--held-out-images",
            "4",
            "--out",
            b
        );
        Assert.Equal(Seeds(a), Seeds(b));
        Assert.Contains($"| binary epoch cap | {epochs} (--epochs)", File.ReadAllText(Path.Combine(b, "report.md")));
    }

    [Fact]
    public void Device_cuda_without_a_usable_gpu_is_a_usage_error()
    {
        if (TorchSharp.torch.cuda.is_available())
            return; // a CUDA build on a GPU machine: nothing to refuse
        var dir = CliProcess.TempDir();
        var run = CliProcess.Run(Tiny("binary", "bce", dir, "--device", "cuda"));
        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(CliProcess.ErrorLines(run));
        Assert.StartsWith("lossdsl: --device cuda: TorchSharp sees no CUDA device (torch.cuda.is_available() is false)", line);
        Assert.False(File.Exists(Path.Combine(dir, "report.md")));
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
        foreach (
            var option in new[]
            {
                "--losses",
                "--epochs",
                "--budget",
                "--task",
                "--seed",
                "--seeds",
                "--data",
                "--out",
                "--train-images",
                "--held-out-images",
                "--sweep",
                "--device",
            }
        )
            Assert.Contains(option, run.Stdout);
        foreach (var loss in new[] { "weighted-bce", "binary-focal", "tversky", "weighted-cross-entropy", "generalized-dice", "dice-ce" })
            Assert.Contains(loss, run.Stdout);
    }
}
