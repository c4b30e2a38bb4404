using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace LossDsl.Package.Tests;

/// <summary>
/// Runs every example program as its users would (<c>dotnet examples/X/bin/…/X.dll</c>, built with this
/// project through its ProjectReferences) and checks its exit code and what it prints.
/// </summary>
public class ExampleTests
{
    private static Tools.Result RunExample(string name)
    {
        var dll = Path.Combine(Tools.RepoRoot, "examples", name, "bin", Tools.Configuration, "net10.0", name + ".dll");
        Assert.True(File.Exists(dll), $"{dll} was not built (the test project references every example)");
        var result = Tools.Dotnet(Path.GetDirectoryName(dll)!, TimeSpan.FromMinutes(2), dll);
        Assert.True(result.ExitCode == 0, result.Describe(name));
        return result;
    }

    [Fact]
    public void CustomLossChecksItsDeclaredLossesAndTrainsOnTheirBlend()
    {
        var run = RunExample("CustomLoss");
        Assert.Equal("all checks passed", Tools.LinesStartingWith(run.Output, "all checks").Single());
        Assert.Contains(Tools.LinesStartingWith(run.Output, "focal Tversky"), l => l.EndsWith("agree", StringComparison.Ordinal));
        Assert.Contains(Tools.LinesStartingWith(run.Output, "log-cosh Dice "), l => l.EndsWith("agree", StringComparison.Ordinal));
        var blend = Regex.Match(run.Output, @"log-cosh Dice: (?<a>[0-9.]+) -> (?<b>[0-9.]+) in 30 Adam steps");
        Assert.True(blend.Success, run.Describe("CustomLoss: no training line"));
        Assert.True(
            double.Parse(blend.Groups["b"].Value, CultureInfo.InvariantCulture)
                < double.Parse(blend.Groups["a"].Value, CultureInfo.InvariantCulture)
        );
    }

    [Fact]
    public void TrainerEstimatesPosWeightAndItsTrainingLossFalls()
    {
        var run = RunExample("Trainer");
        var weight = Regex.Match(run.Output, @"pos_weight = (?<w>[0-9.]+)");
        Assert.True(weight.Success, run.Describe("Trainer: no pos_weight line"));
        // Sparse data: far more negatives than positives.
        Assert.True(double.Parse(weight.Groups["w"].Value, CultureInfo.InvariantCulture) > 10, weight.Value);

        var epochs = Regex.Matches(
            run.Output,
            @"^epoch \d+  train loss (?<loss>[0-9.]+)  validation dice (?<dice>[0-9.]+)",
            RegexOptions.Multiline
        );
        Assert.True(epochs.Count == 8, run.Describe("Trainer: expected 8 epoch lines"));
        double Loss(int i) => double.Parse(epochs[i].Groups["loss"].Value, CultureInfo.InvariantCulture);
        Assert.True(Loss(epochs.Count - 1) < Loss(0), run.Describe("Trainer: the loss did not fall"));
        var dice = double.Parse(epochs[^1].Groups["dice"].Value, CultureInfo.InvariantCulture);
        Assert.InRange(dice, 0.0, 1.0);
    }

    [Fact]
    public void PropertyTestingChecksSevenLawsOnAUserLoss()
    {
        var run = RunExample("PropertyTesting");
        Assert.Equal(7, Tools.LinesStartingWith(run.Output, "law holds:").Count());
        Assert.Equal("all laws hold", Tools.LinesStartingWith(run.Output, "all laws").Single());
    }
}
