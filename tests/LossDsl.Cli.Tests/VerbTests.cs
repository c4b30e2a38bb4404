using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace LossDsl.Cli.Tests;

/// <summary><c>lossdsl list</c>, <c>eval</c> and <c>check</c>, end to end through the process.</summary>
public class VerbTests
{
    private static readonly string[] Names =
    {
        "bce",
        "cross-entropy",
        "binary-focal",
        "focal",
        "dice",
        "generalized-dice",
        "tversky",
        "focal-tversky",
        "bce-dice",
        "dice-ce",
        "dice-focal",
        "log-cosh-dice",
        "mcc",
        "lovasz-hinge",
    };

    [Fact]
    public void ListPrintsEveryCatalogLossAndDocsCatalogDescribesEach()
    {
        var r = Cli.Run("", "list");
        Assert.Equal(0, r.ExitCode);
        var catalogDoc = File.ReadAllText(Path.Combine(Cli.RepoRoot(), "docs", "catalog.md"));
        foreach (var name in Names)
        {
            Assert.Matches(new Regex($"^{Regex.Escape(name)}  \\(", RegexOptions.Multiline), r.Stdout);
            Assert.Contains($"`{name}`", catalogDoc);
        }
        Assert.Contains("posWeight: double = 1", r.Stdout);
        Assert.Contains("activation: sigmoid|softmax|none = sigmoid", r.Stdout);
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    // No GPU here (CI has none): gpu-check says what it found and exits 3, without a crash or a stack trace.
    [Fact]
    public void GpuCheckWithoutADeviceSaysSoAndExitsThree()
    {
        var r = Cli.Run("", "gpu-check", "--steps", "3");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("cuda available: False", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("nothing to check", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void EvalComputesBceAndItsGradient()
    {
        var x = new[] { 0.5, -1.0, 3.0, -2.5 };
        var t = new[] { 1.0, 0.0, 0.0, 1.0 };
        var data = string.Join(",", x.Select(v => v.ToString(CultureInfo.InvariantCulture)));
        var json =
            "{\"loss\": \"bce\", \"reduction\": \"none\", \"options\": {\"posWeight\": 2.0},"
            + "\"input\": {\"shape\": [1, 1, 2, 2], \"data\": ["
            + data
            + "], \"dtype\": \"float64\"},"
            + "\"target\": {\"shape\": [1, 1, 2, 2], \"data\": [1, 0, 0, 1], \"dtype\": \"float64\"}}";
        var r = Cli.Run(json, "eval", "-", "--grad");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var root = Json(r.Stdout);
        Assert.Equal(new[] { 1, 1, 2, 2 }, root.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        var loss = root.GetProperty("loss")[0][0]
            .EnumerateArray()
            .SelectMany(row => row.EnumerateArray())
            .Select(e => e.GetDouble())
            .ToArray();
        var grad = root.GetProperty("grad")[0][0]
            .EnumerateArray()
            .SelectMany(row => row.EnumerateArray())
            .Select(e => e.GetDouble())
            .ToArray();
        for (var i = 0; i < 4; i++)
        {
            // -(w t log s + (1 - t) log(1 - s)); derivative (w t + 1 - t) s - w t.
            var s = Sigmoid(x[i]);
            var expected = -(2 * t[i] * Math.Log(s) + (1 - t[i]) * Math.Log(1 - s));
            var dExpected = (2 * t[i] + 1 - t[i]) * s - 2 * t[i];
            Assert.Equal(expected, loss[i], 12);
            Assert.Equal(dExpected, grad[i], 12);
        }
    }

    // The loss `lossdsl eval` prints for a case it accepts (exit code 0).
    private static double EvalLoss(string json)
    {
        var r = Cli.Run(json, "eval", "-");
        Assert.True(r.ExitCode == 0, r.Stderr);
        return Json(r.Stdout).GetProperty("loss").GetDouble();
    }

    // A case `lossdsl eval` rejects as malformed (exit code 2), naming what is wrong.
    private static void EvalRejects(string json, string mentions)
    {
        var r = Cli.Run(json, "eval", "-");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(mentions, r.Stderr);
    }

    [Fact]
    public void EvalTakesAPerPixelWeightMap()
    {
        // Mean of w·BCE over the 2 pixels: (2·softplus(-0.5) + 0.5·softplus(-1)) / 2 for targets 1, 0 at x = 0.5, -1.
        var json =
            "{\"loss\": \"bce\", \"input\": {\"shape\": [1, 1, 2], \"data\": [0.5, -1.0], \"dtype\": \"float64\"},"
            + "\"target\": {\"shape\": [1, 1, 2], \"data\": [1, 0], \"dtype\": \"float64\"},"
            + "\"weight\": {\"shape\": [1, 2], \"data\": [2, 0.5], \"dtype\": \"float64\"}}";
        var expected = (2 * Math.Log(1 + Math.Exp(-0.5)) + 0.5 * Math.Log(1 + Math.Exp(-1.0))) / 2;
        Assert.Equal(expected, EvalLoss(json), 12);
        EvalRejects(json.Replace("[2, 0.5]", "[2, -0.5]"), "weight");
    }

    [Fact]
    public void EvalTakesAPerClassPosWeightAsAnArray()
    {
        // Two classes, one pixel each: x = [0.5, -1], t = [1, 1]; per-class pos weights 3 and 0.5.
        var json =
            "{\"loss\": \"multilabel-bce\", \"options\": {\"posWeight\": [3, 0.5]},"
            + "\"input\": {\"shape\": [1, 2, 1], \"data\": [0.5, -1.0], \"dtype\": \"float64\"},"
            + "\"target\": {\"shape\": [1, 2, 1], \"data\": [1, 1], \"dtype\": \"float64\"}}";
        var expected = (-3 * Math.Log(Sigmoid(0.5)) - 0.5 * Math.Log(Sigmoid(-1.0))) / 2;
        Assert.Equal(expected, EvalLoss(json), 12);
        EvalRejects(json.Replace("multilabel-bce", "dice").Replace("posWeight", "smoothNr"), "takes no per-class array");
        var list = Cli.Run("", "list");
        Assert.Contains("posWeight: double = 1 (or an array: one per class)", list.Stdout);
    }

    [Fact]
    public void EvalTakesASpacingArrayForTheDistanceLosses()
    {
        // One channel, one row of 3 pixels, target [1, 0, 0], probabilities (activation none) [0.5, 0.5, 0.5], spacing
        // h = 0.4 along the row: Kervadec's signed map is [-(h - 1), h, 2h] (the inside offset stays 1), so the
        // boundary loss is 0.5·(0.6 + 0.4 + 0.8) / 3 = 0.3.
        var json =
            "{\"loss\": \"boundary\", \"options\": {\"activation\": \"none\", \"spacing\": [1, 0.4]},"
            + "\"input\": {\"shape\": [1, 1, 1, 3], \"data\": [0.5, 0.5, 0.5], \"dtype\": \"float64\"},"
            + "\"target\": {\"shape\": [1, 1, 1, 3], \"data\": [1, 0, 0], \"dtype\": \"float64\"}}";
        Assert.Equal(0.3, EvalLoss(json), 12);
        EvalRejects(json.Replace("[1, 0.4]", "[0.4]"), "spacing");
        Assert.Contains("spacing: double[] = null", Cli.Run("", "list").Stdout);
    }

    [Fact]
    public void EvalComputesWeightedCrossEntropyWithIndexTargets()
    {
        var json = """
            {"loss": "cross-entropy", "classWeights": [1, 3],
             "input": {"shape": [1, 2, 3], "data": [2, 0, -1, 0, 1, 1], "dtype": "float64"},
             "target": {"shape": [1, 3], "data": [0, 1, 1], "dtype": "int64"}}
            """;
        var r = Cli.Run(json, "eval", "-");
        Assert.True(r.ExitCode == 0, r.Stderr);
        double Nll(double a, double b, int y) => -((y == 0 ? a : b) - Math.Log(Math.Exp(a) + Math.Exp(b)));
        var expected = (1 * Nll(2, 0, 0) + 3 * Nll(0, 1, 1) + 3 * Nll(-1, 1, 1)) / (1 + 3 + 3);
        Assert.Equal(expected, Json(r.Stdout).GetProperty("loss").GetDouble(), 12);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("""{"input": {"shape": [1], "data": [0]}, "target": {"shape": [1], "data": [0]}}""", "'loss'")]
    [InlineData("""{"loss": "nope", "input": {"shape": [1], "data": [0]}, "target": {"shape": [1], "data": [0]}}""", "unknown loss 'nope'")]
    [InlineData(
        """{"loss": "bce", "input": {"shape": [1, 1, 3], "data": [0, 1]}, "target": {"shape": [1, 1, 3], "data": [0, 1, 0]}}""",
        "'input.data'"
    )]
    [InlineData(
        """{"loss": "bce", "options": {"gamma": 2}, "input": {"shape": [1, 1, 1], "data": [0]}, "target": {"shape": [1, 1, 1], "data": [0]}}""",
        "no option 'gamma'"
    )]
    [InlineData(
        """{"loss": "bce", "input": {"shape": [1, 1, 2], "data": [0, 1]}, "target": {"shape": [1, 1, 3], "data": [0, 1, 0]}}""",
        "target"
    )]
    [InlineData(
        """{"loss": "bce", "input": {"shape": [1, 1, 1], "data": [0], "dtype": "int8"}, "target": {"shape": [1, 1, 1], "data": [0]}}""",
        "'input.dtype'"
    )]
    [InlineData(
        """{"loss": "cross-entropy", "input": {"shape": [1, 2, 1], "data": [0, 1]}, "target": {"shape": [1, 1], "data": [5], "dtype": "int64"}}""",
        "target"
    )]
    [InlineData(
        """{"loss": "dice", "reduction": "avg", "input": {"shape": [1, 1, 1], "data": [0]}, "target": {"shape": [1, 1, 1], "data": [0]}}""",
        "'reduction'"
    )]
    [InlineData(
        """{"loss": "mcc", "options": {"eps": 0}, "input": {"shape": [1, 1, 2], "data": [1, 2]}, "target": {"shape": [1, 1, 2], "data": [0, 0]}}""",
        "eps must be > 0"
    )]
    [InlineData(
        """{"loss": "binary-focal", "options": {"gamma": -1}, "input": {"shape": [1, 1, 1], "data": [0]}, "target": {"shape": [1, 1, 1], "data": [0]}}""",
        "gamma must be >= 0"
    )]
    [InlineData(
        """{"loss": "bce", "input": {"shape": [4000000000, 4000000000, 4000000000], "data": [1]}, "target": {"shape": [1], "data": [0]}}""",
        "more elements than a tensor can hold"
    )]
    [InlineData(
        """{"loss": "bce", "ignoreIndex": 3, "input": {"shape": [1, 1, 1], "data": [0]}, "target": {"shape": [1, 1, 1], "data": [0]}}""",
        "loss 'bce' is binary"
    )]
    [InlineData(
        """{"loss": "cross-entropy", "ignoreIndex": 0, "options": {"ignoreIndex": 1}, "input": {"shape": [1, 2, 1], "data": [0, 1]}, "target": {"shape": [1, 1], "data": [1], "dtype": "int64"}}""",
        "given twice"
    )]
    [InlineData(
        """{"loss": "cross-entropy", "options": {"ignoreIndex": 0.5}, "input": {"shape": [1, 2, 1], "data": [0, 1]}, "target": {"shape": [1, 1], "data": [1], "dtype": "int64"}}""",
        "'options.ignoreIndex' must be an integer"
    )]
    public void MalformedCasesExitWithCode2AndOneLine(string json, string fragment)
    {
        var r = Cli.Run(json, "eval", "-");
        Assert.Equal(2, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(fragment, lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IgnoreIndexMayBeGivenWithTheOptions(bool inOptions)
    {
        // Pixel 1 has class 1 = ignoreIndex: the mean runs over pixels 0 and 2 only.
        var where = inOptions ? "\"options\": {\"ignoreIndex\": 1, \"labelSmoothing\": 0}" : "\"ignoreIndex\": 1";
        var json =
            "{\"loss\": \"cross-entropy\", "
            + where
            + ","
            + "\"input\": {\"shape\": [1, 3, 3], \"data\": [2, 0, -1, 0, 1, 1, 1, 0, 3], \"dtype\": \"float64\"},"
            + "\"target\": {\"shape\": [1, 3], \"data\": [0, 1, 2], \"dtype\": \"int64\"}}";
        double Nll(double[] z, int y) => -(z[y] - Math.Log(z.Sum(Math.Exp)));
        var expected = (Nll(new[] { 2.0, 0, 1 }, 0) + Nll(new[] { -1.0, 1, 3 }, 2)) / 2;
        Assert.Equal(expected, EvalLoss(json), 12);
    }

    [Theory]
    [InlineData(false, "the value of loss 'bce' is not finite: Infinity")]
    [InlineData(true, "is not finite: Infinity at [0, 0, 1] (1 of 2 entries)")]
    public void ANonFiniteResultExitsWithCode1AndSaysWhere(bool perPixel, string fragment)
    {
        // Finite float32 logits whose BCE overflows float32 (softplus(3e38) summed twice): no "null" in the output.
        var reduction = perPixel ? "none" : "sum";
        var json =
            "{\"loss\": \"bce\", \"reduction\": \""
            + reduction
            + "\","
            + "\"input\": {\"shape\": [1, 1, 2], \"data\": [1, 3e38]}, \"target\": {\"shape\": [1, 1, 2], \"data\": [1, 0]},"
            + "\"options\": {\"negWeight\": 3}}";
        var r = Cli.Run(json, "eval", "-");
        Assert.Equal(1, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(fragment, lines[0]);
        Assert.Equal("", r.Stdout);
    }

    private const string BadSpec = """
        using LossDsl;
        using static LossDsl.Dsl;

        namespace Demo;

        public static partial class Mine
        {
            [Loss(LossTask.Binary)]
            public static Expr Soft(Expr logits, Expr target) => Sum(Softmax(logits) * target, Over.All);

            [Loss(LossTask.Binary)]
            public static Expr Raw(Expr probs, Expr target) => -target * Log(probs);

            [Loss(LossTask.Binary)]
            public static Expr Looping(Expr logits, Expr target)
            {
                var p = Sigmoid(logits);
                for (var i = 0; i < 2; i++) { p = p * p; }
                return p;
            }
        }
        """;

    private static (string Id, int Line, int Column)[] Parse(string output) =>
        Regex
            .Matches(output, @"\((\d+),(\d+)\): (?:error|warning|info) (LD\d{4})")
            .Select(m => (m.Groups[3].Value, int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)))
            .Distinct()
            .OrderBy(d => d.Item2)
            .ThenBy(d => d.Item3)
            .ToArray();

    [Fact]
    public void CheckReportsWhatABuildReports()
    {
        var dir = Directory.CreateTempSubdirectory("lossdsl-check-");
        try
        {
            var spec = Path.Combine(dir.FullName, "Specs.cs");
            File.WriteAllText(spec, BadSpec);
            var r = Cli.Run("", "check", spec);
            Assert.Equal(1, r.ExitCode);
            var fromCheck = Parse(r.Stdout);
            Assert.Equal(new[] { "LD0005", "LD0007", "LD0002" }, fromCheck.Select(d => d.Id));
            Assert.Equal((9, 62), (fromCheck[0].Line, fromCheck[0].Column));

            // The same file in a project that references LossDsl as a user's would.
            var root = Cli.RepoRoot();
            File.WriteAllText(Path.Combine(dir.FullName, "Directory.Build.props"), "<Project />");
            File.WriteAllText(Path.Combine(dir.FullName, "Directory.Packages.props"), "<Project />");
            File.WriteAllText(
                Path.Combine(dir.FullName, "Check.csproj"),
                $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable></PropertyGroup>
                  <ItemGroup>
                    <ProjectReference Include="{root}/src/LossDsl/LossDsl.csproj" />
                    <ProjectReference Include="{root}/src/LossDsl.Generator/LossDsl.Generator.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
                  </ItemGroup>
                </Project>
                """
            );
            var psi = new System.Diagnostics.ProcessStartInfo(
                "dotnet",
                new[] { "build", dir.FullName, "-c", "Release", "-v", "q", "-nologo" }
            )
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var p = System.Diagnostics.Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.NotEqual(0, p.ExitCode);
            Assert.Equal(fromCheck, Parse(output));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void CheckOfACleanSpecSucceedsAndOfAMissingFileSaysSo()
    {
        var dir = Directory.CreateTempSubdirectory("lossdsl-check-");
        try
        {
            var spec = Path.Combine(dir.FullName, "Good.cs");
            File.WriteAllText(
                spec,
                """
                using LossDsl;
                using static LossDsl.Dsl;
                public static partial class Good
                {
                    [Loss(LossTask.Binary)]
                    public static Expr PlainBce(Expr x, Expr t) => -(t * LogSigmoid(x) + (1 - t) * LogSigmoid(-x));
                }
                """
            );
            var ok = Cli.Run("", "check", spec);
            Assert.Equal(0, ok.ExitCode);
            Assert.Contains("0 error(s), 0 warning(s)", ok.Stdout);
            var missing = Cli.Run("", "check", Path.Combine(dir.FullName, "Nope.cs"));
            Assert.Equal(2, missing.ExitCode);
            Assert.Contains("not found", missing.Stderr);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
