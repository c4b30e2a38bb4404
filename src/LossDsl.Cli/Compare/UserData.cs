using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using SkiaSharp;

namespace LossDsl.Cli.Compare;

/// <summary>
/// A user's data set for `--data DIR`: <c>DIR/images/NAME.png</c> with <c>DIR/masks/NAME.png</c>
/// (same names), and optionally <c>DIR/valid/NAME.png</c> (non-zero = valid pixel; without it
/// every pixel is valid). Masks hold class indices as pixel values (the red channel of colour
/// PNGs); masks using only 0 and 255 are read as binary (255 = foreground). Two classes make a
/// binary task, more a multiclass one. Images are read as RGB, or as one channel when every image
/// is grey. All images must have one size; it is cropped to a multiple of 4 (the U-Net's
/// downsampling). A quarter of the images (at least one), chosen with the seed, is the test split;
/// a quarter of the rest (at least one) the validation split; the others are trained on.
/// </summary>
internal static class UserData
{
    /// <summary>Most classes a mask may use.</summary>
    public const int MaxClasses = 32;

    /// <summary>Fewest images: one each for training, validation and test.</summary>
    public const int MinImages = 3;

    /// <summary>Test images: a quarter, at least one.</summary>
    public static int TestCount(int images) => Math.Max(1, images / 4);

    /// <summary>Validation images, of the non-test ones: a quarter, at least one.</summary>
    public static int ValidationCount(int nonTest) => Math.Max(1, nonTest / 4);

    /// <summary>Loads and splits the data set at <paramref name="dir"/>.</summary>
    /// <exception cref="UsageException">The directory does not have the expected layout or content.</exception>
    public static CompareData Load(string dir, int seed)
    {
        var imagesDir = Path.Combine(dir, "images");
        var masksDir = Path.Combine(dir, "masks");
        var validDir = Path.Combine(dir, "valid");
        if (!Directory.Exists(imagesDir) || !Directory.Exists(masksDir))
            throw new UsageException($"--data {dir}: expected the folders {dir}/images and {dir}/masks (PNG files with the same names)");
        var names = Directory
            .GetFiles(imagesDir, "*.png")
            .Select(Path.GetFileName)
            .OfType<string>()
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToArray();
        if (names.Length < MinImages)
            throw new UsageException(
                $"--data {dir}: need at least {MinImages} PNG images in {imagesDir} (training, validation and test), found {names.Length}"
            );
        var images = new List<SKBitmap>();
        var masks = new List<byte[]>();
        var valids = new List<bool[]>();
        int? width = null,
            height = null;
        try
        {
            foreach (var name in names)
            {
                var maskPath = Path.Combine(masksDir, name);
                if (!File.Exists(maskPath))
                    throw new UsageException($"--data {dir}: image {name} has no mask {maskPath}");
                var image = Decode(Path.Combine(imagesDir, name));
                images.Add(image);
                using var mask = Decode(maskPath);
                width ??= image.Width;
                height ??= image.Height;
                if (image.Width != width || image.Height != height || mask.Width != width || mask.Height != height)
                    throw new UsageException(
                        $"--data {dir}: {name} is {image.Width}×{image.Height} (mask {mask.Width}×{mask.Height}); every image and mask must be {width}×{height}"
                    );
                masks.Add(Channel(mask, c => c.Red));
                var validPath = Path.Combine(validDir, name);
                if (File.Exists(validPath))
                {
                    using var valid = Decode(validPath);
                    if (valid.Width != width || valid.Height != height)
                        throw new UsageException($"--data {dir}: valid/{name} is {valid.Width}×{valid.Height}; expected {width}×{height}");
                    valids.Add(Channel(valid, c => c.Red).Select(v => v != 0).ToArray());
                }
                else
                {
                    valids.Add(Enumerable.Repeat(true, image.Width * image.Height).ToArray());
                }
            }
            return Build(dir, names, images, masks, valids, width!.Value, height!.Value, seed);
        }
        finally
        {
            foreach (var image in images)
                image.Dispose();
        }
    }

    private static SKBitmap Decode(string path) =>
        SKBitmap.Decode(path) ?? throw new UsageException($"--data: {path} is not a readable image");

    private static byte[] Channel(SKBitmap bitmap, Func<SKColor, byte> pick)
    {
        var pixels = bitmap.Pixels;
        var result = new byte[pixels.Length];
        for (var i = 0; i < pixels.Length; i++)
            result[i] = pick(pixels[i]);
        return result;
    }

    private static CompareData Build(
        string dir,
        string[] names,
        List<SKBitmap> images,
        List<byte[]> masks,
        List<bool[]> valids,
        int width,
        int height,
        int seed
    )
    {
        var values = new SortedSet<byte>();
        foreach (var m in masks)
            values.UnionWith(m);
        var binary255 = values.IsSubsetOf(new byte[] { 0, 255 });
        var numClasses = binary255 ? 2 : values.Max + 1;
        if (numClasses > MaxClasses)
            throw new UsageException(
                $"--data {dir}: masks use pixel value {values.Max}; class indices must be below {MaxClasses} (or masks only 0 and 255 for binary)"
            );
        numClasses = Math.Max(numClasses, 2);
        var h = height / 4 * 4;
        var w = width / 4 * 4;
        if (h < 8 || w < 8)
            throw new UsageException($"--data {dir}: images are {width}×{height}; need at least 8×8");
        var grey = images.All(b => b.Pixels.All(c => c.Red == c.Green && c.Green == c.Blue));
        var channels = grey ? 1 : 3;
        var n = images.Count;
        var pixels = h * w;
        var data = new float[n * channels * pixels];
        var labels = new byte[n * pixels];
        var valid = new bool[n * pixels];
        var (top, left) = ((height - h) / 2, (width - w) / 2);
        for (var k = 0; k < n; k++)
        {
            var source = images[k].Pixels;
            for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var s = (y + top) * width + x + left;
                var p = y * w + x;
                var c = source[s];
                data[(k * channels) * pixels + p] = c.Red / 255f;
                if (!grey)
                {
                    data[(k * channels + 1) * pixels + p] = c.Green / 255f;
                    data[(k * channels + 2) * pixels + p] = c.Blue / 255f;
                }
                var label = masks[k][s];
                labels[k * pixels + p] = binary255 ? (byte)(label == 255 ? 1 : 0) : label;
                valid[k * pixels + p] = valids[k][s];
            }
        }
        var all = new SegmentationSet(n, channels, h, w, data, labels, valid);
        var order = Enumerable.Range(0, n).ToArray();
        new Random(seed).Shuffle(order);
        var test = TestCount(n);
        var validation = ValidationCount(n - test);
        var task =
            numClasses == 2
                ? CompareTask.Binary("foreground")
                : CompareTask.Multiclass(Enumerable.Range(0, numClasses).Select(c => c == 0 ? "class 0" : $"class {c}").ToArray());
        return new CompareData(
            task,
            all.Select(order[(test + validation)..]),
            all.Select(order[test..(test + validation)]),
            all.Select(order[..test]),
            $"{n} PNG images from {dir} ({names[0]} …), {w}×{h}, {(grey ? "grey" : "RGB")}",
            grey ? ImmutableArray.Create("grey") : ImmutableArray.Create("red", "green", "blue")
        );
    }
}
