using System;
using System.Collections.Immutable;

namespace LossDsl.Cli.Compare;

/// <summary>
/// LiDAR-like range images (rows = laser beams, columns = azimuth), 2 channels: normalised range
/// and return intensity, both 0 where the sensor got no return. The foreground ("object") is small
/// standing things with retro-reflective surfaces. What makes it hard, on purpose:
/// <list type="bullet">
/// <item>objects are ~1 % of the valid pixels, and 60–80 % of all pixels have no return (sky, dead
///   beams, dropped column bands, range- and reflectivity-dependent dropouts);</item>
/// <item>no single pixel value separates them: dim standing things (bushes, bollards), thin bright
///   poles, bright flat lane markings and bright signs on walls share one of the two cues
///   (a range step in front of the background, high intensity) and the intensity distributions
///   overlap, so the network must combine range geometry, intensity and shape in context.</item>
/// </list>
/// Deterministic for a seed (System.Random with a seed is stable across runs and platforms).
/// </summary>
internal static class SyntheticLidar
{
    public const int Height = 64;
    public const int Width = 256;
    public static readonly ImmutableArray<string> ChannelNames = ImmutableArray.Create("range", "intensity");

    /// <summary>The binary task this data is for.</summary>
    public static CompareTask Task => CompareTask.Binary("object");

    /// <summary><paramref name="count"/> scenes, deterministic for <paramref name="seed"/>.</summary>
    public static SegmentationSet Generate(int count, int seed)
    {
        var rng = new Random(seed);
        return SegmentationSet.Assemble(
            count,
            2,
            Height,
            Width,
            () =>
            {
                var scene = new Scene(rng);
                scene.Render();
                return (scene.Valid, scene.Label, (p, ch) => ch == 0 ? scene.Range[p] : scene.Intensity[p]);
            }
        );
    }

    private sealed class Scene
    {
        private readonly Random _rng;
        private readonly double[] _horizon = new double[Width];
        private readonly double _terrainAmp,
            _terrainFreq,
            _terrainPhase;
        public readonly double[] Range = new double[Height * Width];
        public readonly double[] Intensity = new double[Height * Width];
        public readonly byte[] Label = new byte[Height * Width];
        public readonly bool[] Valid = new bool[Height * Width];
        private readonly double[] _reflectivity = new double[Height * Width];

        public Scene(Random rng)
        {
            _rng = rng;
            var h0 = 14 + rng.Next(10);
            var tilt = (rng.NextDouble() - 0.5) * 6.0 / Width;
            for (var c = 0; c < Width; c++)
                _horizon[c] = h0 + tilt * (c - Width / 2);
            _terrainAmp = 0.01 + 0.03 * rng.NextDouble();
            _terrainFreq = 0.02 + 0.05 * rng.NextDouble();
            _terrainPhase = rng.NextDouble() * 2 * Math.PI;
            Array.Fill(Range, double.PositiveInfinity);
        }

        private double U(double a, double b) => a + (b - a) * _rng.NextDouble();

        private double Gauss()
        {
            var u1 = 1.0 - _rng.NextDouble();
            var u2 = _rng.NextDouble();
            return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        }

        /// <summary>Range of the ground seen by beam <paramref name="r"/> at column <paramref name="c"/>, ∞ above the horizon.</summary>
        private double GroundRange(int r, int c)
        {
            var h = _horizon[c];
            if (r <= h)
                return double.PositiveInfinity;
            var d = (r - h) / (Height - 1 - h);
            var bump = _terrainAmp * Math.Sin(_terrainFreq * c + _terrainPhase) * (1 - d);
            return Math.Clamp(0.05 + 0.9 * Math.Pow(1 - d, 1.6) + bump, 0.03, 0.98);
        }

        // The nearest surface wins, as in a real range image.
        private void Put(int r, int c, double range, double reflectivity, byte label)
        {
            if (r < 0 || r >= Height || c < 0 || c >= Width)
                return;
            var p = r * Width + c;
            if (range >= Range[p])
                return;
            Range[p] = range;
            _reflectivity[p] = reflectivity;
            Label[p] = label;
        }

        public void Render()
        {
            // Ground, with slowly varying reflectivity.
            var groundRefl = U(0.12, 0.25);
            for (var r = 0; r < Height; r++)
            for (var c = 0; c < Width; c++)
            {
                var g = GroundRange(r, c);
                if (double.IsFinite(g))
                    Put(r, c, g, groundRefl + 0.05 * Math.Sin(0.11 * c + 0.3 * r), 0);
            }

            // Lane markings: bright but flat (range follows the ground).
            for (int k = 0, m = _rng.Next(2, 6); k < m; k++)
            {
                var r0 = (int)_horizon[Width / 2] + 4 + _rng.Next(Height - 6 - (int)_horizon[Width / 2]);
                var c0 = _rng.Next(Width);
                var len = _rng.Next(6, 24);
                var rows = _rng.Next(1, 3);
                var refl = U(0.55, 0.9);
                for (var r = r0; r < r0 + rows; r++)
                for (var c = c0; c < c0 + len; c++)
                    if (c < Width)
                        Put(r, c, GroundRange(r, c) - 1e-4, refl, 0);
            }

            // Walls and vegetation at the back, some carrying bright signs.
            for (int k = 0, m = _rng.Next(3, 7); k < m; k++)
            {
                var c0 = _rng.Next(Width);
                var width = _rng.Next(12, 70);
                var dist = U(0.3, 0.9);
                var top = (int)_horizon[Math.Min(c0, Width - 1)] - _rng.Next(2, 16);
                var refl = U(0.2, 0.5);
                var texture = U(0.03, 0.1);
                for (var c = c0; c < Math.Min(Width, c0 + width); c++)
                for (var r = Math.Max(0, top); r < Height; r++)
                {
                    if (GroundRange(r, c) < dist)
                        break;
                    Put(r, c, dist + 0.004 * Math.Sin(0.5 * c), refl + texture * Math.Sin(0.7 * c + 1.3 * r), 0);
                }
                if (_rng.NextDouble() < 0.4)
                {
                    var sr = Math.Max(0, top) + _rng.Next(1, 5);
                    var sc = c0 + _rng.Next(Math.Max(1, width - 8));
                    var sh = _rng.Next(2, 5);
                    var sw = _rng.Next(3, 9);
                    var srefl = U(0.6, 0.9);
                    for (var r = sr; r < sr + sh; r++)
                    for (var c = sc; c < sc + sw; c++)
                        if (r < Height && c < Width && Math.Abs(Range[r * Width + c] - dist) < 0.02)
                            Put(r, c, Range[r * Width + c] - 1e-4, srefl, 0);
                }
            }

            // Distractors standing on the ground: dim bushes/bollards and thin bright poles.
            for (int k = 0, m = _rng.Next(3, 9); k < m; k++)
            {
                var pole = _rng.NextDouble() < 0.35;
                StandingThing(pole ? U(0.45, 0.8) : U(0.22, 0.52), label: 0, pole);
            }

            // The foreground: small standing objects with retro-reflective surfaces.
            for (int k = 0, m = _rng.Next(3, 7); k < m; k++)
                StandingThing(U(0.5, 0.85), label: 1, pole: false);

            Sense();
        }

        private void StandingThing(double reflectivity, byte label, bool pole)
        {
            // Base on the ground at a mostly near-to-mid range, so things are a few pixels tall.
            for (var attempt = 0; attempt < 20; attempt++)
            {
                var c = _rng.Next(4, Width - 4);
                var b = _rng.Next((int)Math.Ceiling(_horizon[c]) + 3, Height);
                var dist = GroundRange(b, c);
                if (!double.IsFinite(dist) || dist > 0.45 || dist < 0.1)
                    continue;
                var height = Math.Clamp((int)Math.Round((pole ? 2.0 : 1.0) / dist * U(0.8, 1.2)), 3, 16);
                var width = pole ? _rng.Next(1, 3) : Math.Clamp((int)Math.Round(0.65 / dist * U(0.7, 1.3)), 2, 8);
                var depth = U(0.002, 0.01);
                for (var r = b - height + 1; r <= b; r++)
                for (var cc = c - width / 2; cc < c - width / 2 + width; cc++)
                {
                    // Rounded top corners: not a perfect box.
                    var topRow = r == b - height + 1;
                    if (!pole && topRow && width > 2 && (cc == c - width / 2 || cc == c - width / 2 + width - 1))
                        continue;
                    Put(r, cc, dist - depth, reflectivity + 0.06 * Gauss(), label);
                }
                return;
            }
        }

        // The sensor: noise, no return from the sky, dead beams, dropped column bands, and dropouts
        // that grow with range and with low reflectivity.
        private void Sense()
        {
            var deadRows = new bool[Height];
            for (var r = 0; r < Height; r++)
                deadRows[r] = _rng.NextDouble() < 0.12;
            var deadCols = new bool[Width];
            for (int k = 0, m = _rng.Next(2, 6); k < m; k++)
            {
                var c0 = _rng.Next(Width);
                var w = _rng.Next(1, 8);
                for (var c = c0; c < Math.Min(Width, c0 + w); c++)
                    deadCols[c] = true;
            }
            var dropBase = U(0.3, 0.45);
            for (var r = 0; r < Height; r++)
            for (var c = 0; c < Width; c++)
            {
                var p = r * Width + c;
                var range = Range[p];
                var refl = Math.Clamp(_reflectivity[p], 0.0, 1.0);
                var pDrop = dropBase + 0.35 * range + (refl < 0.2 ? 0.15 : 0.0) - (refl > 0.55 ? 0.1 : 0.0);
                var ok = double.IsFinite(range) && !deadRows[r] && !deadCols[c] && _rng.NextDouble() >= pDrop;
                Valid[p] = ok;
                if (!ok)
                {
                    Range[p] = 0;
                    Intensity[p] = 0;
                    continue;
                }
                Range[p] = Math.Clamp(range + 0.01 * (1 + range) * Gauss(), 0.01, 1.0);
                Intensity[p] = Math.Clamp(refl * (1.05 - 0.3 * range) + 0.05 * Gauss(), 0.0, 1.0);
            }
        }
    }
}
