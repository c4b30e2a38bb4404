using System;
using static TorchSharp.torch;

namespace Trainer;

/// <summary>
/// Small synthetic scenes in the spirit of a LiDAR range image: 2 channels (range, intensity), sparse
/// foreground (~1-2 % of the valid pixels: small objects standing in front of the background) and
/// invalid pixels (dropped returns, dead columns) given by a mask. Bright lane markings share the
/// intensity cue but not the range step, so intensity alone does not separate the classes.
/// Deterministic for a seed.
/// </summary>
public sealed class SparseScenes
{
    /// <summary>Image height and width.</summary>
    public const int Height = 32,
        Width = 64;

    private SparseScenes(Tensor inputs, Tensor targets, Tensor mask)
    {
        Inputs = inputs;
        Targets = targets;
        Mask = mask;
    }

    /// <summary>N, 2, H, W float32: range and intensity, 0 where invalid.</summary>
    public Tensor Inputs { get; }

    /// <summary>N, 1, H, W float32: 1 on objects.</summary>
    public Tensor Targets { get; }

    /// <summary>N, H, W bool: true where the sensor returned a value.</summary>
    public Tensor Mask { get; }

    /// <summary>The number of scenes.</summary>
    public long Count => Inputs.shape[0];

    /// <summary><paramref name="count"/> scenes, deterministic for <paramref name="seed"/>.</summary>
    public static SparseScenes Generate(int count, int seed)
    {
        var rng = new Random(seed);
        const int pixels = Height * Width;
        var x = new float[count * 2 * pixels];
        var y = new float[count * pixels];
        var valid = new bool[count * pixels];
        for (var n = 0; n < count; n++)
        {
            var range = new double[pixels];
            var intensity = new double[pixels];
            var label = new byte[pixels];
            var tilt = 0.3 + 0.4 * rng.NextDouble();
            for (var r = 0; r < Height; r++)
            for (var c = 0; c < Width; c++)
            {
                range[r * Width + c] = tilt + 0.5 * r / Height + 0.05 * Math.Sin(c / 7.0 + n);
                intensity[r * Width + c] = 0.2 + 0.1 * rng.NextDouble();
            }
            // Objects: small blocks closer than the background (a range step) and somewhat bright.
            var objects = rng.Next(1, 4);
            for (var o = 0; o < objects; o++)
            {
                int h = rng.Next(3, 7),
                    w = rng.Next(2, 5),
                    r0 = rng.Next(0, Height - h),
                    c0 = rng.Next(0, Width - w);
                var step = 0.15 + 0.2 * rng.NextDouble();
                var bright = 0.35 + 0.4 * rng.NextDouble();
                for (var r = r0; r < r0 + h; r++)
                for (var c = c0; c < c0 + w; c++)
                {
                    range[r * Width + c] -= step;
                    intensity[r * Width + c] = bright + 0.1 * rng.NextDouble();
                    label[r * Width + c] = 1;
                }
            }
            // Distractors: bright lane markings flush with the background.
            for (var d = rng.Next(0, 3); d > 0; d--)
            {
                int r0 = rng.Next(Height / 2, Height),
                    c0 = rng.Next(0, Width - 12);
                for (var c = c0; c < c0 + 12; c++)
                    if (label[r0 * Width + c] == 0)
                        intensity[r0 * Width + c] = 0.5 + 0.3 * rng.NextDouble();
            }
            // Invalid pixels: random dropouts and a dead column band.
            var dead = rng.Next(0, Width - 3);
            for (var p = 0; p < pixels; p++)
            {
                var c = p % Width;
                var ok = rng.NextDouble() > 0.15 && (c < dead || c >= dead + 3);
                var i = n * pixels + p;
                valid[i] = ok;
                y[i] = label[p];
                x[(n * 2) * pixels + p] = ok ? (float)(range[p] + 0.02 * (rng.NextDouble() - 0.5)) : 0f;
                x[(n * 2 + 1) * pixels + p] = ok ? (float)intensity[p] : 0f;
            }
        }
        return new SparseScenes(
            tensor(x, new long[] { count, 2, Height, Width }),
            tensor(y, new long[] { count, 1, Height, Width }),
            tensor(valid, new long[] { count, Height, Width })
        );
    }
}
