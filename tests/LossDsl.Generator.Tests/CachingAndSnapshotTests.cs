using System;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace LossDsl.Generator.Tests;

/// <summary>Incremental caching and the generated code itself.</summary>
public class CachingAndSnapshotTests
{
    private static readonly string[] Steps = { TrackingNames.Specs, TrackingNames.Duplicates, TrackingNames.Files };

    [Fact]
    public void ASecondRunOnTheSameCompilationIsFullyCached()
    {
        var compilation = Harness.Compile(RobustnessTests.ValidFile);
        var driver = Harness.Driver().RunGenerators(compilation);
        var second = driver.RunGenerators(compilation).GetRunResult().Results.Single();
        foreach (var step in Steps)
        {
            Assert.True(second.TrackedSteps.ContainsKey(step), $"step {step} not tracked");
            foreach (var run in second.TrackedSteps[step])
                foreach (var (_, reason) in run.Outputs)
                    Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {reason}");
        }
        Assert.All(second.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(r => r.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void AnEditElsewhereDoesNotReEmitTheSpecs()
    {
        var compilation = Harness.Compile(RobustnessTests.ValidFile, "namespace Other; public static class Unrelated { public static int Two => 2; }");
        var driver = Harness.Driver().RunGenerators(compilation);
        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Last(),
            CSharpSyntaxTree.ParseText("namespace Other; public static class Unrelated { public static int Three => 3; }", path: "Spec1.cs"));
        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();
        foreach (var run in second.TrackedSteps[TrackingNames.Files])
            foreach (var (_, reason) in run.Outputs)
                Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"Files: {reason}");
    }

    [Fact]
    public void EditingOneSpecReEmitsOnlyThatSpec()
    {
        var compilation = Harness.Compile(RobustnessTests.ValidFile);
        var driver = Harness.Driver().RunGenerators(compilation);
        var changed = RobustnessTests.ValidFile.Replace("double w = 0.5", "double w = 0.25");
        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Single(), CSharpSyntaxTree.ParseText(changed, path: "Spec0.cs"));
        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();
        var reasons = second.TrackedSteps[TrackingNames.Files].SelectMany(r => r.Outputs).Select(o => o.Reason).ToList();
        Assert.Equal(1, reasons.Count(r => r == IncrementalStepRunReason.Modified));
        Assert.Equal(2, reasons.Count(r => r is IncrementalStepRunReason.Unchanged or IncrementalStepRunReason.Cached));
    }

    // Snapshots: the generated files for the valid file, compared with files under Snapshots/. Set
    // LOSSDSL_UPDATE_SNAPSHOTS=1 to rewrite them after a deliberate change to the emitter (and review the diff).
    [Theory]
    [InlineData("Demo.TverskyLoss.g.cs")]
    [InlineData("Demo.ModeDiceLoss.g.cs")]
    [InlineData("Demo.BlendLoss.g.cs")]
    public void GeneratedCodeMatchesItsSnapshot(string hintName)
    {
        var result = Harness.Run(RobustnessTests.ValidFile);
        var actual = result.GeneratedSources.Single(s => s.HintName == hintName).SourceText.ToString().Replace("\r\n", "\n");
        var path = Path.Combine(SnapshotDirectory(), hintName + ".txt");
        if (Environment.GetEnvironmentVariable("LOSSDSL_UPDATE_SNAPSHOTS") == "1")
            File.WriteAllText(path, actual);
        Assert.True(File.Exists(path), $"missing snapshot {path}");
        Assert.Equal(File.ReadAllText(path).Replace("\r\n", "\n"), actual);
    }

    [Fact]
    public void GeneratedCodeIsValidCSharp()
    {
        var result = Harness.Run(RobustnessTests.ValidFile);
        foreach (var source in result.GeneratedSources)
            Assert.DoesNotContain(source.SyntaxTree.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error);
    }

    /// <summary>
    /// The checked-in snapshots, found from the test assembly's location: a CI build maps source paths
    /// (ContinuousIntegrationBuild), so [CallerFilePath] does not name a real directory there.
    /// </summary>
    private static string SnapshotDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LossDsl.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("LossDsl.sln not found above " + AppContext.BaseDirectory);
        return Path.Combine(dir.FullName, "tests", "LossDsl.Generator.Tests", "Snapshots");
    }
}
