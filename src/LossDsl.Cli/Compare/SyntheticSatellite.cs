using System;
using System.Collections.Immutable;

namespace LossDsl.Cli.Compare;

/// <summary>
/// Satellite-like RGB scenes, 64×64, five classes with strongly unequal areas: background
/// (fields, bare soil, woods: ~75 %), buildings (~10 %), roads (~8 %), water (~3 %) and cars
/// (~1 %, tiny, on roads). Distractors share colours with the rare classes (dark woods and
/// shadows look like water, bare rock and dark roofs look like road), and clouds make part of some
/// images invalid (no data, input 0). Deterministic for a seed.
/// </summary>
internal static class SyntheticSatellite
{
    public const int Size = 64;
    public static readonly ImmutableArray<string> ChannelNames = ImmutableArray.Create("red", "green", "blue");

    /// <summary>The multiclass task this data is for.</summary>
    public static CompareTask Task => CompareTask.Multiclass("background", "building", "road", "water", "car");

    private const byte Building = 1,
        Road = 2,
        Water = 3,
        Car = 4;

    /// <summary><paramref name="count"/> scenes, deterministic for <paramref name="seed"/>.</summary>
    public static SegmentationSet Generate(int count, int seed)
    {
        var rng = new Random(seed);
        return SegmentationSet.Assemble(
            count,
            3,
            Size,
            Size,
            () =>
            {
                var scene = new Scene(rng);
                scene.Render();
                return (scene.Valid, scene.Label, (p, ch) => Math.Clamp(scene.Rgb[p * 3 + ch], 0, 1));
            }
        );
    }

    private sealed class Scene(Random rng)
    {
        public readonly double[] Rgb = new double[Size * Size * 3];
        public readonly byte[] Label = new byte[Size * Size];
        public readonly bool[] Valid = new bool[Size * Size];

        private double U(double a, double b) => a + (b - a) * rng.NextDouble();

        private double Gauss()
        {
            var u1 = 1.0 - rng.NextDouble();
            var u2 = rng.NextDouble();
            return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        }

        private void Paint(int x, int y, (double R, double G, double B) colour, double noise, byte label)
        {
            if (x < 0 || y < 0 || x >= Size || y >= Size)
                return;
            var p = y * Size + x;
            Rgb[p * 3] = colour.R + noise * Gauss();
            Rgb[p * 3 + 1] = colour.G + noise * Gauss();
            Rgb[p * 3 + 2] = colour.B + noise * Gauss();
            Label[p] = label;
        }

        public void Render()
        {
            Background();
            // Order matters: later layers cover earlier ones (roads over water edges, roofs over
            // fields, cars on roads).
            if (rng.NextDouble() < 0.6)
                Lake();
            var roads =
                rng.NextDouble() < 0.1 ? 0
                : rng.NextDouble() < 0.6 ? 1
                : 2;
            var roadLines = new (double X, double Y, double Dx, double Dy, double W)[roads];
            for (var k = 0; k < roads; k++)
                roadLines[k] = RoadLine();
            for (int k = 0, m = rng.Next(3, 8); k < m; k++)
                House();
            foreach (var line in roadLines)
                for (int k = 0, m = rng.Next(5, 12); k < m; k++)
                    CarOn(line);
            for (int k = 0, m = rng.Next(1, 4); k < m; k++)
                Distractor();
            Clouds();
        }

        private void Background()
        {
            // A smooth field mixing green crops and brown soil, plus pixel noise.
            var waves = new (double Fx, double Fy, double Ph, double A)[3];
            for (var k = 0; k < 3; k++)
                waves[k] = (U(-0.25, 0.25), U(-0.25, 0.25), U(0, 2 * Math.PI), U(0.5, 1.2));
            var green = (U(0.22, 0.32), U(0.36, 0.48), U(0.16, 0.24));
            var brown = (U(0.42, 0.52), U(0.36, 0.42), U(0.26, 0.32));
            for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size; x++)
            {
                var s = 0.0;
                foreach (var w in waves)
                    s += w.A * Math.Sin(w.Fx * x + w.Fy * y + w.Ph);
                var t = 1 / (1 + Math.Exp(-2 * s));
                Paint(
                    x,
                    y,
                    (Lerp(green.Item1, brown.Item1, t), Lerp(green.Item2, brown.Item2, t), Lerp(green.Item3, brown.Item3, t)),
                    0.035,
                    0
                );
            }
        }

        private static double Lerp(double a, double b, double t) => a + (b - a) * t;

        private void Lake()
        {
            var cx = U(4, Size - 4);
            var cy = U(4, Size - 4);
            var rx = U(5, 12);
            var ry = U(5, 12);
            var colour = (U(0.08, 0.16), U(0.16, 0.26), U(0.3, 0.42));
            for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size; x++)
            {
                var d = Math.Pow((x - cx) / rx, 2) + Math.Pow((y - cy) / ry, 2);
                // A wobbly shore.
                if (d < 1 + 0.15 * Math.Sin(3 * Math.Atan2(y - cy, x - cx)))
                    Paint(x, y, colour, 0.03, Water);
            }
        }

        private (double, double, double, double, double) RoadLine()
        {
            var angle = U(0, Math.PI);
            var (dx, dy) = (Math.Cos(angle), Math.Sin(angle));
            var (px, py) = (U(8, Size - 8), U(8, Size - 8));
            var width = U(3, 5.5);
            var grey = U(0.38, 0.5);
            for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size; x++)
            {
                var dist = Math.Abs((x - px) * dy - (y - py) * dx);
                if (dist < width / 2)
                    Paint(x, y, (grey, grey, grey + 0.02), 0.03, Road);
            }
            return (px, py, dx, dy, width);
        }

        private void House()
        {
            var w = rng.Next(6, 15);
            var h = rng.Next(6, 15);
            var x0 = rng.Next(-2, Size - w + 2);
            var y0 = rng.Next(-2, Size - h + 2);
            var roof = rng.Next(3) switch
            {
                0 => (U(0.55, 0.7), U(0.28, 0.36), U(0.22, 0.28)),
                1 => (U(0.55, 0.68), U(0.55, 0.68), U(0.56, 0.7)),
                _ => (U(0.3, 0.4), U(0.3, 0.4), U(0.32, 0.42)),
            };
            // Shadow first (background), then the roof with a lighter ridge.
            for (var y = y0 + 2; y < y0 + h + 2; y++)
            for (var x = x0 + 2; x < x0 + w + 2; x++)
                if (x >= 0 && y >= 0 && x < Size && y < Size && Label[y * Size + x] == 0)
                    Paint(x, y, (0.12, 0.14, 0.13), 0.02, 0);
            for (var y = y0; y < y0 + h; y++)
            for (var x = x0; x < x0 + w; x++)
            {
                var ridge = (w > h ? y == y0 + h / 2 : x == x0 + w / 2) ? 0.06 : 0.0;
                Paint(x, y, (roof.Item1 + ridge, roof.Item2 + ridge, roof.Item3 + ridge), 0.025, Building);
            }
        }

        private void CarOn((double X, double Y, double Dx, double Dy, double W) road)
        {
            var t = U(-Size, Size);
            var cx = road.X + t * road.Dx;
            var cy = road.Y + t * road.Dy;
            if (cx < 1 || cy < 1 || cx > Size - 2 || cy > Size - 2)
                return;
            var colour = rng.Next(4) switch
            {
                0 => (0.85, 0.85, 0.88),
                1 => (0.7, 0.12, 0.1),
                2 => (0.12, 0.2, 0.55),
                _ => (0.08, 0.08, 0.09),
            };
            // 3–4 pixels along the road, 2 across.
            var length = rng.Next(3, 5);
            for (var along = -1; along < length - 1; along++)
            for (var across = 0; across <= 1; across++)
            {
                var x = (int)Math.Round(cx + along * road.Dx - across * road.Dy);
                var y = (int)Math.Round(cy + along * road.Dy + across * road.Dx);
                Paint(x, y, colour, 0.04, Car);
            }
        }

        private void Distractor()
        {
            // Dark woods (water-coloured) or bare rock (road/roof-coloured), labelled background.
            var dark = rng.NextDouble() < 0.5;
            var cx = U(0, Size);
            var cy = U(0, Size);
            var r = U(2, 6);
            var colour = dark ? (U(0.08, 0.14), U(0.16, 0.22), U(0.2, 0.3)) : (U(0.4, 0.55), U(0.4, 0.52), U(0.4, 0.5));
            for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size; x++)
                if (Math.Pow(x - cx, 2) + Math.Pow(y - cy, 2) < r * r && Label[y * Size + x] == 0)
                    Paint(x, y, colour, 0.035, 0);
        }

        private void Clouds()
        {
            Array.Fill(Valid, true);
            if (rng.NextDouble() >= 0.4)
                return;
            var cx = U(0, Size);
            var cy = U(0, Size);
            var r = U(8, 18);
            for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size; x++)
                if (Math.Pow(x - cx, 2) + 0.7 * Math.Pow(y - cy, 2) < r * r)
                    Valid[y * Size + x] = false;
        }
    }
}
