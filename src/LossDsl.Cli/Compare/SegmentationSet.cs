using System;
using System.Collections.Immutable;
using System.Linq;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>
/// Images with per-pixel class labels and a validity mask, stored flat (images N·C·H·W, labels and
/// mask N·H·W). Labels of invalid pixels are stored as 0 so every loss can read them as class
/// indices; the mask is what says they do not exist.
/// </summary>
internal sealed class SegmentationSet
{
    public SegmentationSet(int count, int channels, int height, int width, float[] images, byte[] labels, bool[] valid)
    {
        if (images.Length != (long)count * channels * height * width)
            throw new ArgumentException("images size does not match N·C·H·W", nameof(images));
        if (labels.Length != (long)count * height * width)
            throw new ArgumentException("labels size does not match N·H·W", nameof(labels));
        if (valid.Length != labels.Length)
            throw new ArgumentException("mask size does not match N·H·W", nameof(valid));
        Count = count;
        Channels = channels;
        Height = height;
        Width = width;
        Images = images;
        Labels = labels;
        Valid = valid;
    }

    /// <summary>
    /// Assembles <paramref name="count"/> rendered scenes, in order: <paramref name="next"/> renders one
    /// and returns its validity, labels and channel values (pixel, channel). Invalid pixels are stored
    /// with label 0 and zero image values.
    /// </summary>
    public static SegmentationSet Assemble(
        int count,
        int channels,
        int height,
        int width,
        Func<(bool[] Valid, byte[] Label, Func<int, int, double> Value)> next
    )
    {
        var pixels = height * width;
        var images = new float[count * channels * pixels];
        var labels = new byte[count * pixels];
        var valid = new bool[count * pixels];
        for (var n = 0; n < count; n++)
        {
            var scene = next();
            for (var p = 0; p < pixels; p++)
            {
                var ok = scene.Valid[p];
                valid[n * pixels + p] = ok;
                labels[n * pixels + p] = ok ? scene.Label[p] : (byte)0;
                for (var ch = 0; ch < channels; ch++)
                    images[(n * channels + ch) * pixels + p] = ok ? (float)scene.Value(p, ch) : 0f;
            }
        }
        return new SegmentationSet(count, channels, height, width, images, labels, valid);
    }

    public int Count { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public float[] Images { get; }
    public byte[] Labels { get; }
    public bool[] Valid { get; }
    public int PixelsPerImage => Height * Width;

    /// <summary>Images as a float32 tensor N, C, H, W.</summary>
    public Tensor ImageTensor() => tensor(Images, new long[] { Count, Channels, Height, Width });

    /// <summary>Labels as an int64 tensor N, H, W.</summary>
    public Tensor LabelTensor()
    {
        using var bytes = tensor(Labels, new long[] { Count, Height, Width });
        return bytes.to(ScalarType.Int64);
    }

    /// <summary>The validity mask as a bool tensor N, H, W.</summary>
    public Tensor ValidTensor() => tensor(Valid, new long[] { Count, Height, Width });

    /// <summary>Label statistics over valid pixels (for class weights and the report).</summary>
    public TrainingStats Stats(int numClasses)
    {
        var counts = new long[numClasses];
        long valid = 0;
        for (var i = 0; i < Labels.Length; i++)
        {
            if (!Valid[i])
                continue;
            valid++;
            counts[Labels[i]]++;
        }
        var fractions = counts.Select(c => valid == 0 ? 0.0 : (double)c / valid).ToImmutableArray();
        return new TrainingStats(fractions, 1.0 - (double)valid / Labels.Length, valid);
    }

    /// <summary>The images at <paramref name="indices"/> as a new set (used to split train/held-out).</summary>
    public SegmentationSet Select(int[] indices)
    {
        var imageSize = Channels * PixelsPerImage;
        var images = new float[indices.Length * imageSize];
        var labels = new byte[indices.Length * PixelsPerImage];
        var valid = new bool[indices.Length * PixelsPerImage];
        for (var k = 0; k < indices.Length; k++)
        {
            Array.Copy(Images, (long)indices[k] * imageSize, images, (long)k * imageSize, imageSize);
            Array.Copy(Labels, (long)indices[k] * PixelsPerImage, labels, (long)k * PixelsPerImage, PixelsPerImage);
            Array.Copy(Valid, (long)indices[k] * PixelsPerImage, valid, (long)k * PixelsPerImage, PixelsPerImage);
        }
        return new SegmentationSet(indices.Length, Channels, Height, Width, images, labels, valid);
    }
}

/// <summary>
/// A task's data: the training split (what the networks learn from), the validation split (carved
/// from the training images: early stopping, the kept checkpoint and the tuned decision rule are
/// chosen on it), the test split (held out; scored once per run, at the end), and where it came from.
/// </summary>
internal sealed record CompareData(
    CompareTask Task,
    SegmentationSet Train,
    SegmentationSet Validation,
    SegmentationSet Test,
    string Source,
    ImmutableArray<string> ChannelNames
);
