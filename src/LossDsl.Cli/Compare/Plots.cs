using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using ScottPlot;
using SkiaSharp;

namespace LossDsl.Cli.Compare;

/// <summary>The report's PNG plots (ScottPlot), one set per task.</summary>
internal static class Plots
{
    /// <summary>Writes every plot of <paramref name="result"/> to <paramref name="dir"/>; returns the file names.</summary>
    public static ImmutableArray<string> Write(string dir, TaskResult result)
    {
        var prefix = result.Task.Name;
        var files = ImmutableArray.CreateBuilder<string>();
        files.Add(LossCurves(dir, prefix + "-loss-curves.png", result));
        files.Add(ValidationCurves(dir, prefix + "-validation-dice.png", result));
        files.Add(MetricBars(dir, prefix + "-metrics.png", result));
        files.Add(
            Differences(
                dir,
                prefix + "-paired-differences.png",
                result.Main,
                $"{prefix}: test Dice (tuned) minus the best loss's ({result.Main.Best.Name}), paired"
            )
        );
        if (!result.PreviewIndices.IsEmpty)
            files.Add(Predictions(dir, prefix + "-predictions.png", result));
        if (result.Sweep is { } sweep)
            files.Add(
                Differences(
                    dir,
                    prefix + "-sweep-differences.png",
                    sweep.Comparison,
                    $"{prefix} sweep of {sweep.Family}: test Dice (tuned) minus the best setting's, paired"
                )
            );
        return files.ToImmutable();
    }

    private static double[] Epochs(int n) => Enumerable.Range(1, n).Select(e => (double)e).ToArray();

    private static string LossCurves(string dir, string file, TaskResult result) =>
        EpochCurves(
            dir,
            file,
            result,
            loss =>
            {
                var curve = loss.MeanPerEpoch(r => r.EpochLoss);
                // Losses have different scales; relative to epoch 1 they share one axis.
                var first = Math.Abs(curve[0]) > 1e-12 ? curve[0] : 1.0;
                return curve.Select(v => v / first).ToArray();
            },
            $"{result.Task.Name}: training loss, relative to epoch 1 (mean over seeds)",
            "loss / loss at epoch 1",
            unitRange: false,
            Alignment.LowerLeft
        );

    private static string ValidationCurves(string dir, string file, TaskResult result) =>
        EpochCurves(
            dir,
            file,
            result,
            loss => loss.MeanPerEpoch(r => r.EpochValidationTuned),
            $"{result.Task.Name}: validation Dice, tuned rule (picks the kept epoch; mean over seeds)",
            result.Task.Kind == LossTask.Binary ? "foreground Dice" : "mean Dice, non-background classes",
            unitRange: true,
            Alignment.UpperLeft
        );

    // One line per loss over the epochs.
    private static string EpochCurves(
        string dir,
        string file,
        TaskResult result,
        Func<LossSummary, double[]> values,
        string title,
        string yLabel,
        bool unitRange,
        Alignment legend
    )
    {
        var plot = new Plot();
        foreach (var loss in result.Losses)
        {
            var curve = values(loss);
            var scatter = plot.Add.Scatter(Epochs(curve.Length), curve);
            scatter.LegendText = loss.Name;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 6;
        }
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        if (unitRange)
            plot.Axes.SetLimitsY(0, 1);
        var longest = result.Losses.Max(l => l.EpochsRun.Mean);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(
            longest > 30 ? 5
            : longest > 12 ? 2
            : 1
        );
        plot.ShowLegend(legend);
        plot.SavePng(Path.Combine(dir, file), 1000, 560);
        return file;
    }

    private static string MetricBars(string dir, string file, TaskResult result)
    {
        var plot = new Plot();
        var metrics = Enum.GetValues<Metric>();
        var losses = result.Losses;
        var palette = new ScottPlot.Palettes.Category10();
        var group = losses.Length + 1.0;
        var ticks = new List<Tick>();
        for (var m = 0; m < metrics.Length; m++)
        {
            for (var l = 0; l < losses.Length; l++)
            {
                var stat = losses[l].Metric(metrics[m], tuned: true);
                var bar = new Bar
                {
                    Position = m * group + l,
                    Value = stat.Mean,
                    Error = stat.Spread,
                    FillColor = palette.GetColor(l),
                };
                plot.Add.Bar(bar);
            }
            ticks.Add(new Tick(m * group + (losses.Length - 1) / 2.0, metrics[m].ToString()));
        }
        for (var l = 0; l < losses.Length; l++)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = losses[l].Name, FillColor = palette.GetColor(l) });
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.SetLimitsY(0, 1.08);
        plot.Axes.SetLimitsX(-1, metrics.Length * group - 1);
        var scope = result.Task.Kind == LossTask.Binary ? "foreground" : "mean over non-background classes";
        plot.Title($"{result.Task.Name}: test scores, tuned rule ({scope}); whiskers: ± standard deviation over seeds");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(Path.Combine(dir, file), 1000, 560);
        return file;
    }

    /// <summary>
    /// The paired differences: one row per loss (ranking order, best on top), a dot at the mean
    /// difference to the best and a bar over its 95 % interval, a line at 0. Green: best; orange: tied
    /// with the best (the bar crosses 0); grey: worse.
    /// </summary>
    private static string Differences(string dir, string file, Comparison comparison, string title)
    {
        var plot = new Plot();
        var ranking = comparison.Tuned.Ranking;
        var ticks = new List<Tick>();
        var best = new Color(30, 150, 60);
        var tied = new Color(235, 140, 20);
        var worse = new Color(120, 120, 120);
        var low = Math.Min(0, comparison.Tuned.Differences.Min(d => d.Lower));
        var high = Math.Max(0, comparison.Tuned.Differences.Max(d => d.Upper));
        var span = Math.Max(high - low, 0.01);
        var labelX = high + 0.03 * span;
        for (var k = 0; k < ranking.Length; k++)
        {
            var d = comparison.Tuned.Differences[ranking[k]];
            var y = -(double)k;
            var colour =
                d.Status == PairStatus.Best ? best
                : d.Status == PairStatus.Tied ? tied
                : worse;
            if (d.Status != PairStatus.Best)
            {
                var bar = plot.Add.Line(d.Lower, y, d.Upper, y);
                bar.LineWidth = 4;
                bar.LineColor = colour;
                bar.MarkerSize = 0;
                foreach (var end in new[] { d.Lower, d.Upper })
                {
                    var cap = plot.Add.Line(end, y - 0.15, end, y + 0.15);
                    cap.LineWidth = 2;
                    cap.LineColor = colour;
                    cap.MarkerSize = 0;
                }
            }
            var dot = plot.Add.Marker(d.Mean, y);
            dot.MarkerSize = 11;
            dot.Color = colour;
            var text =
                d.Status == PairStatus.Best
                    ? "best"
                    : $"{Recommendation.Signed(d.Mean)} {Recommendation.Interval(d)}{(d.Status == PairStatus.Tied ? "  tied" : "")}";
            var label = plot.Add.Text(text, labelX, y);
            label.Alignment = Alignment.MiddleLeft;
            label.OffsetX = 4;
            label.LabelFontSize = 12;
            label.LabelFontColor = colour;
            ticks.Add(new Tick(y, comparison.Losses[ranking[k]].Name));
        }
        var zero = plot.Add.VerticalLine(0);
        zero.LineWidth = 1.5f;
        zero.LineColor = Colors.Black.WithAlpha(0.6);
        zero.LinePattern = LinePattern.Dashed;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Axes.Left.MajorTickStyle.Length = 0;
        var left = low - 0.08 * span;
        plot.Axes.SetLimits(left, labelX + 0.45 * (labelX - left), -ranking.Length + 0.4, 0.6);
        plot.Title(title);
        plot.XLabel(
            $"Δ Dice: mean over {comparison.Tuned.Seeds} seeds, 95 % paired bootstrap interval (seeds × {comparison.Tuned.Images} test images). Orange: tied with the best"
        );
        plot.Axes.Bottom.Label.FontSize = 13;
        plot.SavePng(Path.Combine(dir, file), 1000, Math.Max(360, 110 + 56 * ranking.Length));
        return file;
    }

    private static string Predictions(string dir, string file, TaskResult result)
    {
        var set = result.Data.Test;
        var task = result.Task;
        var indices = result.PreviewIndices;
        // Tiles: one column per preview image; rows: input, ground truth, then each loss (first seed).
        var rows = new List<(string Label, Func<int, SKBitmap> Tile)>
        {
            ("input", k => Overlay.Input(set, indices[k])),
            ("ground truth", k => Overlay.Truth(set, indices[k], task)),
        };
        foreach (var loss in result.Losses)
        {
            var run = loss.Runs[0];
            rows.Add((loss.Name, k => Overlay.Prediction(set, indices[k], task, run.Previews[k])));
        }
        var plot = new Plot();
        const double gap = 0.06;
        var aspect = (double)set.Height / set.Width;
        for (var r = 0; r < rows.Count; r++)
        for (var k = 0; k < indices.Length; k++)
        {
            using var bitmap = rows[r].Tile(k);
            var image = new Image(bitmap);
            var left = k * (1 + gap);
            var top = -r * (aspect + gap);
            var rect = new CoordinateRect(left, left + 1, top - aspect, top);
            var tile = plot.Add.ImageRect(image, rect);
            tile.AntiAlias = false;
        }
        for (var r = 0; r < rows.Count; r++)
        {
            var label = plot.Add.Text(rows[r].Label, -0.04, -r * (aspect + gap) - aspect / 2);
            label.Alignment = Alignment.MiddleRight;
            label.LabelFontSize = 14;
        }
        plot.HideGrid();
        plot.Layout.Frameless();
        var margin = set.Width >= 128 ? 0.6 : 1.25;
        plot.Axes.SetLimits(-margin, indices.Length * (1 + gap), -rows.Count * (aspect + gap) - 0.12, 0.18);
        var legend =
            task.Kind == LossTask.Binary
                ? "test images; green: found object pixel, red: false alarm, blue: missed object pixel, dark: no return (invalid)"
                : "test images; colours: "
                    + string.Join(", ", task.ClassNames.Skip(1).Select((n, i) => $"{n} {Overlay.ColourName(i + 1)}"))
                    + "; dark: invalid";
        var title = plot.Add.Text(
            $"{task.Name}: predictions of the first seed at 0.5 / arg-max, best validation epoch ({legend})",
            -margin + 0.05,
            0.12
        );
        title.Alignment = Alignment.UpperLeft;
        title.LabelFontSize = 13;
        var tileWidth = set.Width >= 128 ? 330 : 150;
        var width = (int)(tileWidth * (indices.Length * (1 + gap) + margin));
        var height = (int)(tileWidth * (rows.Count * (aspect + gap) + 0.3));
        plot.SavePng(Path.Combine(dir, file), Math.Max(width, 900), height);
        return file;
    }
}

/// <summary>Images for the predictions plot: inputs as grey (or RGB) with labels painted over them.</summary>
internal static class Overlay
{
    private static readonly SKColor Invalid = new(18, 20, 44);
    private static readonly SKColor[] ClassColours =
    {
        SKColors.Transparent,
        new(230, 60, 60),
        new(250, 200, 40),
        new(40, 120, 255),
        new(255, 60, 255),
        new(60, 230, 230),
        new(255, 140, 0),
        new(160, 255, 100),
    };
    private static readonly string[] ColourNames = { "none", "red", "yellow", "blue", "magenta", "cyan", "orange", "lime" };

    /// <summary>The colour name of class <paramref name="c"/> in the overlay.</summary>
    public static string ColourName(int c) => ColourNames[c % ColourNames.Length];

    private static SKColor Colour(int c) => ClassColours[c % ClassColours.Length];

    /// <summary>The input image: RGB for three channels, else the last channel (LiDAR: intensity) in grey.</summary>
    public static SKBitmap Input(SegmentationSet set, int n) => Paint(set, n, (_, _, c) => c);

    /// <summary>The ground truth painted over the input.</summary>
    public static SKBitmap Truth(SegmentationSet set, int n, CompareTask task) =>
        Paint(
            set,
            n,
            (p, label, c) =>
                label == 0 ? Dim(c)
                : task.Kind == LossTask.Binary ? new SKColor(250, 200, 40)
                : Colour(label)
        );

    /// <summary>A prediction painted over the input: TP/FP/FN colours (binary) or class colours.</summary>
    public static SKBitmap Prediction(SegmentationSet set, int n, CompareTask task, byte[] predicted) =>
        Paint(
            set,
            n,
            (p, label, c) =>
            {
                var guess = predicted[p];
                if (task.Kind == LossTask.Binary)
                    return (label, guess) switch
                    {
                        (1, 1) => new SKColor(40, 220, 60),
                        (0, 1) => new SKColor(235, 40, 40),
                        (1, 0) => new SKColor(60, 110, 255),
                        _ => Dim(c),
                    };
                return guess == 0 ? Dim(c) : Colour(guess);
            }
        );

    private static SKColor Dim(SKColor c) => new((byte)(c.Red * 0.8), (byte)(c.Green * 0.8), (byte)(c.Blue * 0.8));

    private static SKBitmap Paint(SegmentationSet set, int n, Func<int, int, SKColor, SKColor> colour)
    {
        var bitmap = new SKBitmap(set.Width, set.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var pixels = set.PixelsPerImage;
        var colours = new SKColor[pixels];
        for (var p = 0; p < pixels; p++)
        {
            var i = n * pixels + p;
            if (!set.Valid[i])
            {
                colours[p] = Invalid;
                continue;
            }
            SKColor input;
            if (set.Channels == 3)
            {
                input = new SKColor(
                    Byte(set.Images[(n * 3) * pixels + p]),
                    Byte(set.Images[(n * 3 + 1) * pixels + p]),
                    Byte(set.Images[(n * 3 + 2) * pixels + p])
                );
            }
            else
            {
                var g = Byte(0.15f + 0.85f * set.Images[(n * set.Channels + set.Channels - 1) * pixels + p]);
                input = new SKColor(g, g, g);
            }
            colours[p] = colour(p, set.Labels[i], input);
        }
        bitmap.Pixels = colours;
        return bitmap;
    }

    private static byte Byte(float v) => (byte)Math.Clamp((int)Math.Round(v * 255), 0, 255);
}
