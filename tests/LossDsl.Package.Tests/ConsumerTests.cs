using System;
using System.Globalization;
using System.IO;
using System.Linq;
using Xunit;

namespace LossDsl.Package.Tests;

/// <summary>
/// The test that proves the package works: a brand-new project in a temporary folder, outside the
/// repository and blind to its Directory.Build.props/Directory.Packages.props, references only
/// LossDsl.Runtime from the local feed, declares a [Loss] spec, trains a few SGD steps and prints every
/// loss; the values are checked against a float64 computation written out here.
/// </summary>
[Collection(PackedCollection.Name)]
public class ConsumerTests(PackedFeed feed)
{
    // The consumer's fixed problem (Consumer/Program.cs defines the same by the same formulas).
    private const int N = 2,
        Pixels = 12,
        Steps = 4;
    private const double LearningRate = 2.0,
        Alpha = 0.4,
        Beta = 0.6,
        Smooth = 1.0;

    [Fact]
    public void FreshProjectReferencingOnlyThePackageBuildsGeneratesAndTrainsCorrectly()
    {
        var dir = Path.Combine(feed.Root, "consumer");
        CreateConsumer(dir);

        var run = Tools.Dotnet(dir, TimeSpan.FromMinutes(5), "run", "-c", "Release", "--disable-build-servers");
        Assert.True(run.ExitCode == 0, run.Describe("dotnet run (consumer)"));
        // The package reference resolved to this run's package, from this run's own package folder.
        Assert.True(Directory.Exists(Path.Combine(feed.Root, "packages", "lossdsl.runtime", feed.Version)), run.Describe("restore"));

        var (losses, final) = ExpectedTrajectory();
        var stepLines = Tools.LinesStartingWith(run.Output, "step ");
        Assert.True(stepLines.Count == Steps, run.Describe("expected one line per step"));
        for (var s = 0; s < Steps; s++)
            AssertClose(losses[s], Value(stepLines[s], $"step {s} loss "), $"step {s}");
        AssertClose(final, Value(Tools.LinesStartingWith(run.Output, "final loss ").Single(), "final loss "), "after training");
        // Training must have moved the loss: a no-op optimizer would print the initial value again.
        Assert.True(final < losses[0] - 1e-3, $"loss did not decrease: {losses[0]} -> {final}");

        AssertClose(
            ExpectedCombined(),
            Value(Tools.LinesStartingWith(run.Output, "combined ").Single(), "combined "),
            "0.5 BCE + 0.5 Dice"
        );
    }

    private void CreateConsumer(string dir)
    {
        Directory.CreateDirectory(dir);
        var template = Path.Combine(AppContext.BaseDirectory, "Consumer");
        File.WriteAllText(
            Path.Combine(dir, "Consumer.csproj"),
            File.ReadAllText(Path.Combine(template, "Consumer.csproj")).Replace("@LOSSDSL_VERSION@", feed.Version, StringComparison.Ordinal)
        );
        File.Copy(Path.Combine(template, "Program.cs"), Path.Combine(dir, "Program.cs"));

        // Empty MSBuild files stop MSBuild's upward search, so nothing above the temporary folder applies.
        foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            File.WriteAllText(Path.Combine(feed.Root, name), "<Project />\n");

        // The local feed plus the machine's own sources (from its user-level NuGet.config, which NuGet
        // merges in); packages extract into a folder of this run, with the machine's package folder as a
        // read-only fallback so TorchSharp's native libraries are not downloaded again.
        var machinePackages = Tools.Dotnet(feed.Root, TimeSpan.FromMinutes(1), "nuget", "locals", "global-packages", "--list");
        var fallback = machinePackages
            .Output.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("global-packages:", StringComparison.Ordinal))
            .Select(l => l["global-packages:".Length..].Trim())
            .FirstOrDefault();
        var fallbackXml =
            string.IsNullOrEmpty(fallback) || !Directory.Exists(fallback)
                ? ""
                : $"""
                      <fallbackPackageFolders>
                        <add key="machine" value="{fallback}" />
                      </fallbackPackageFolders>
                    """;
        File.WriteAllText(
            Path.Combine(feed.Root, "NuGet.config"),
            $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="packages" />
              </config>
              <packageSources>
                <add key="lossdsl-local" value="feed" />
              </packageSources>
            {fallbackXml}
            </configuration>
            """
        );
    }

    private static double Value(string line, string prefix)
    {
        Assert.StartsWith(prefix, line);
        return double.Parse(line[prefix.Length..], NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    private static (double[] X, double[] T, double[] M) Inputs()
    {
        var x = new double[N * Pixels];
        var t = new double[N * Pixels];
        var m = new double[N * Pixels];
        for (var k = 0; k < x.Length; k++)
        {
            x[k] = 2 * Math.Sin(0.7 * k);
            t[k] = k % 3 == 0 ? 1 : 0;
            m[k] = k % 7 == 5 ? 0 : 1;
        }
        return (x, t, m);
    }

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    // The Tversky loss (mean over samples, masked pixels skipped) and its gradient by hand:
    // L_n = 1 - A/D with A = tp + s, D = tp + a fp + b fn + s; ∂A/∂p = t, ∂D/∂p = t + a(1 - t) - b t;
    // ∂L_n/∂p = -(t D - A ∂D/∂p)/D², ∂p/∂x = p(1 - p); the mean over N samples divides by N.
    private static (double Loss, double[] Grad) TverskyWithGradient(double[] x, double[] t, double[] m)
    {
        var grad = new double[x.Length];
        var loss = 0.0;
        for (var n = 0; n < N; n++)
        {
            double tp = 0,
                fp = 0,
                fn = 0;
            for (var i = 0; i < Pixels; i++)
            {
                var k = n * Pixels + i;
                if (m[k] == 0)
                    continue;
                var p = Sigmoid(x[k]);
                tp += p * t[k];
                fp += p * (1 - t[k]);
                fn += (1 - p) * t[k];
            }
            var a = tp + Smooth;
            var d = tp + Alpha * fp + Beta * fn + Smooth;
            loss += (1 - a / d) / N;
            for (var i = 0; i < Pixels; i++)
            {
                var k = n * Pixels + i;
                if (m[k] == 0)
                    continue;
                var p = Sigmoid(x[k]);
                var dD = t[k] + Alpha * (1 - t[k]) - Beta * t[k];
                grad[k] = -(t[k] * d - a * dD) / (d * d) * p * (1 - p) / N;
            }
        }
        return (loss, grad);
    }

    private static (double[] Losses, double Final) ExpectedTrajectory()
    {
        var (x, t, m) = Inputs();
        var losses = new double[Steps];
        for (var s = 0; s < Steps; s++)
        {
            var (loss, grad) = TverskyWithGradient(x, t, m);
            losses[s] = loss;
            for (var k = 0; k < x.Length; k++)
                x[k] -= LearningRate * grad[k]; // plain SGD
        }
        return (losses, TverskyWithGradient(x, t, m).Loss);
    }

    // 0.5 · BCE (mean over valid pixels) + 0.5 · soft Dice (per sample, smooth 1e-5 in numerator and
    // denominator, mean over samples), the catalog defaults.
    private static double ExpectedCombined()
    {
        var (x, t, m) = Inputs();
        double bce = 0,
            valid = 0,
            dice = 0;
        for (var n = 0; n < N; n++)
        {
            double pt = 0,
                sp = 0,
                st = 0;
            for (var i = 0; i < Pixels; i++)
            {
                var k = n * Pixels + i;
                if (m[k] == 0)
                    continue;
                var p = Sigmoid(x[k]);
                bce -= t[k] * Math.Log(p) + (1 - t[k]) * Math.Log(1 - p);
                valid++;
                pt += p * t[k];
                sp += p;
                st += t[k];
            }
            dice += (1 - (2 * pt + 1e-5) / (sp + st + 1e-5)) / N;
        }
        return 0.5 * (bce / valid) + 0.5 * dice;
    }

    private static void AssertClose(double expected, double actual, string what)
    {
        // Both sides compute in float64 over 24 pixels and 4 SGD steps; they differ only in summation
        // order (~1e-15), so 1e-9 relative is loose for rounding yet tight for any semantic error.
        Assert.True(
            Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Abs(expected)),
            $"{what}: expected {expected:R}, got {actual:R}"
        );
    }
}
