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
    private static readonly string[] Steps =
    {
        TrackingNames.Specs,
        TrackingNames.Duplicates,
        TrackingNames.Checked,
        TrackingNames.Diagnostics,
        TrackingNames.EmitModels,
        TrackingNames.Sources,
    };

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
        Assert.All(
            second.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(r => r.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason)
        );
    }

    [Fact]
    public void AnEditElsewhereDoesNotReEmitTheSpecs()
    {
        var compilation = Harness.Compile(
            RobustnessTests.ValidFile,
            "namespace Other; public static class Unrelated { public static int Two => 2; }"
        );
        var driver = Harness.Driver().RunGenerators(compilation);
        var edited = compilation.ReplaceSyntaxTree(
            compilation.SyntaxTrees.Last(),
            CSharpSyntaxTree.ParseText("namespace Other; public static class Unrelated { public static int Three => 3; }", path: "Spec1.cs")
        );
        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();
        foreach (var run in second.TrackedSteps[TrackingNames.Sources])
        foreach (var (_, reason) in run.Outputs)
            Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"Sources: {reason}");
    }

    [Fact]
    public void EditingOneSpecReEmitsOnlyThatSpec()
    {
        var compilation = Harness.Compile(RobustnessTests.ValidFile);
        var driver = Harness.Driver().RunGenerators(compilation);
        var changed = RobustnessTests.ValidFile.Replace("double w = 0.5", "double w = 0.25");
        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Single(), CSharpSyntaxTree.ParseText(changed, path: "Spec0.cs"));
        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();
        var reasons = second.TrackedSteps[TrackingNames.Sources].SelectMany(r => r.Outputs).Select(o => o.Reason).ToList();
        Assert.Equal(1, reasons.Count(r => r == IncrementalStepRunReason.Modified));
        Assert.Equal(2, reasons.Count(r => r is IncrementalStepRunReason.Unchanged or IncrementalStepRunReason.Cached));
    }

    // A spec with a warning (Log of a probability that reaches 0), to follow its location through an edit.
    private const string WarnedFile = """
        using LossDsl;
        using static LossDsl.Dsl;

        namespace Demo;

        public static partial class Warned
        {
            [Loss(LossTask.Binary)]
            public static Expr LogLikelihood(Expr logits, Expr target) => Mean(-target * Log(logits), Over.All);
        }
        """;

    // Specs the parser and the checker reject, so error paths' models are walked too.
    private const string BrokenFile = """
        using LossDsl;
        using static LossDsl.Dsl;

        namespace Broken;

        public static partial class Bad
        {
            [Loss] public static Expr Unsupported(Expr p, Expr t) => Mean(p * System.Math.Sin(t.GetHashCode()), Over.All);
            [Loss] public static Expr NoPrediction(Expr p, Expr t) => Mean(t, Over.All);
            [Loss] public static Expr NoTarget(Expr p, Expr t, double gamma = -1) { Require(gamma >= 0, "gamma must be >= 0"); return Mean(p, Over.All); }
        }
        """;

    [Fact]
    public void TextAboveASpecMovesItsDiagnosticsAndKeepsItsEmissionCached()
    {
        var compilation = Harness.Compile(RobustnessTests.ValidFile, WarnedFile);
        var driver = Harness.Driver().RunGenerators(compilation);
        var before = driver.GetRunResult().Results.Single();
        Assert.True(
            before.Diagnostics.Count(d => d.Id == "LD0007") == 1,
            "diagnostics: " + string.Join(", ", before.Diagnostics.Select(d => d.Id))
        );
        var warning = before.Diagnostics.Single(d => d.Id == "LD0007");

        var shifted = "// a comment typed above the spec\n// and another line\n\n" + WarnedFile;
        var edited = compilation.ReplaceSyntaxTree(
            compilation.SyntaxTrees.Last(),
            CSharpSyntaxTree.ParseText(shifted, new CSharpParseOptions(LanguageVersion.Latest), path: "Spec1.cs")
        );
        var after = driver.RunGenerators(edited).GetRunResult().Results.Single();

        // The parse step saw new locations, the diagnostics moved with the text ...
        Assert.Contains(
            after.TrackedSteps[TrackingNames.Specs].SelectMany(r => r.Outputs),
            o => o.Reason == IncrementalStepRunReason.Modified
        );
        var moved = Assert.Single(after.Diagnostics, d => d.Id == "LD0007");
        Assert.Equal(warning.Location.GetLineSpan().StartLinePosition.Line + 3, moved.Location.GetLineSpan().StartLinePosition.Line);
        // ... and no spec was emitted again.
        var emits = after.TrackedSteps[TrackingNames.Sources].SelectMany(r => r.Outputs).ToList();
        Assert.NotEmpty(emits);
        Assert.All(
            emits,
            o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"Sources: {o.Reason}")
        );
        Assert.All(
            after.TrackedSteps[TrackingNames.EmitModels].SelectMany(r => r.Outputs),
            o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"EmitModels: {o.Reason}")
        );
    }

    // The models of every step must be plain data: a Roslyn symbol, compilation, syntax node or tree held by
    // a model keeps the whole compilation alive and defeats the cache (its equality is by reference).
    [Fact]
    public void NoPipelineModelHoldsARoslynObject()
    {
        var sources = new[] { RobustnessTests.ValidFile, WarnedFile, BrokenFile };
        var run = Harness.Driver().RunGenerators(Harness.Compile(sources)).GetRunResult().Results.Single();
        var seen = new System.Collections.Generic.HashSet<object>(System.Collections.Generic.ReferenceEqualityComparer.Instance);
        var walked = 0;
        var ours = typeof(TrackingNames).GetFields().Select(f => (string)f.GetValue(null)!).ToHashSet();
        Assert.True(ours.Count >= 6);
        foreach (var (step, runs) in run.TrackedSteps.Where(s => ours.Contains(s.Key)))
        foreach (var stepRun in runs)
        foreach (var (value, _) in stepRun.Outputs)
            Walk(value, $"{step}", seen, ref walked);
        Assert.True(walked > 100, $"only {walked} objects walked");
    }

    private static readonly Type[] Forbidden =
    {
        typeof(ISymbol),
        typeof(Compilation),
        typeof(SyntaxNode),
        typeof(SyntaxTree),
        typeof(SemanticModel),
        typeof(Location),
    };

    private static void Walk(object? value, string path, System.Collections.Generic.HashSet<object> seen, ref int walked)
    {
        if (value is null)
            return;
        var type = value.GetType();
        foreach (var f in Forbidden)
            Assert.False(f.IsAssignableFrom(type), $"{path} holds a {type.FullName}");
        if (type.IsPrimitive || type.IsEnum || value is string or decimal)
            return;
        if (!type.IsValueType && !seen.Add(value))
            return;
        walked++;
        if (type.GetProperty("IsDefault")?.GetValue(value) is true)
            return;
        if (value is System.Collections.IEnumerable items)
        {
            var i = 0;
            foreach (var item in items)
                Walk(item, $"{path}[{i++}]", seen, ref walked);
            if (type.Namespace?.StartsWith("System.Collections", StringComparison.Ordinal) == true)
                return;
        }
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            foreach (
                var field in t.GetFields(
                    System.Reflection.BindingFlags.Instance
                        | System.Reflection.BindingFlags.Public
                        | System.Reflection.BindingFlags.NonPublic
                        | System.Reflection.BindingFlags.DeclaredOnly
                )
            )
            {
                if (field.FieldType.IsPointer)
                    continue;
                Walk(field.GetValue(value), $"{path}.{field.Name}", seen, ref walked);
            }
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
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LossDsl.sln")))
            dir = dir.Parent;
        if (dir is null)
            throw new InvalidOperationException("LossDsl.sln not found above " + AppContext.BaseDirectory);
        return Path.Combine(dir.FullName, "tests", "LossDsl.Generator.Tests", "Snapshots");
    }
}
