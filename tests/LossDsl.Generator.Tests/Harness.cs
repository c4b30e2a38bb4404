using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace LossDsl.Generator.Tests;

/// <summary>Runs the generator on source text with <see cref="CSharpGeneratorDriver"/>, as the compiler would.</summary>
public static class Harness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var framework = trusted.Where(p =>
            Path.GetFileName(p)
                is "System.Runtime.dll"
                    or "System.Private.CoreLib.dll"
                    or "netstandard.dll"
                    or "System.Collections.dll"
                    or "System.Linq.dll"
                    or "System.Console.dll"
                    or "System.Runtime.Extensions.dll"
        );
        // The generator assembly carries the core's public types (Expr, Dsl, LossAttribute, Over).
        return framework
            .Append(typeof(Expr).Assembly.Location)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    });

    /// <summary>A compilation of the given files (named Spec0.cs, Spec1.cs, …).</summary>
    public static CSharpCompilation Compile(params string[] sources) =>
        CSharpCompilation.Create(
            "Specs",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest), path: $"Spec{i}.cs")),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable)
        );

    /// <summary>A driver that records its incremental steps.</summary>
    public static GeneratorDriver Driver() =>
        CSharpGeneratorDriver.Create(
            new[] { new LossGenerator().AsSourceGenerator() },
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true)
        );

    /// <summary>Runs the generator once on the sources.</summary>
    public static GeneratorRunResult Run(params string[] sources) => Run(Compile(sources));

    /// <summary>Runs the generator once on a compilation.</summary>
    public static GeneratorRunResult Run(Compilation compilation) => Driver().RunGenerators(compilation).GetRunResult().Results.Single();

    /// <summary>The generator's diagnostics with an LD id.</summary>
    public static ImmutableArray<Diagnostic> LossDiagnostics(GeneratorRunResult result) =>
        result.Diagnostics.Where(d => d.Id.StartsWith("LD", StringComparison.Ordinal)).ToImmutableArray();

    /// <summary>
    /// Removes <c>[|</c> and <c>|]</c> markers from a source, returning it and the marked span, which
    /// is where a test expects a diagnostic.
    /// </summary>
    public static (string Source, TextSpan Span) Marked(string markup)
    {
        var start = markup.IndexOf("[|", StringComparison.Ordinal);
        var end = markup.IndexOf("|]", StringComparison.Ordinal);
        if (start < 0 || end < start)
            throw new ArgumentException("markup needs [| and |]");
        var source = markup.Remove(end, 2).Remove(start, 2);
        return (source, TextSpan.FromBounds(start, end - 2));
    }

    private static readonly Lazy<ImmutableArray<MetadataReference>> RuntimeReferences = new(() =>
    {
        var trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var framework = trusted.Where(p =>
            Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal)
            || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll"
        );
        var configuration = AppContext.BaseDirectory.Split(Path.DirectorySeparatorChar).Contains("Debug") ? "Debug" : "Release";
        var runtime = Path.Combine(RepositoryRoot(), "src", "LossDsl.Runtime", "bin", configuration, "net10.0");
        var torch = Directory
            .GetFiles(
                Path.Combine(
                    Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
                    "torchsharp"
                ),
                "TorchSharp.dll",
                SearchOption.AllDirectories
            )
            .Where(p => p.Contains(Path.Combine("lib", "net8.0"), StringComparison.Ordinal))
            .OrderByDescending(p => p, StringComparer.Ordinal)
            .First();
        return framework
            .Append(Path.Combine(runtime, "LossDsl.dll"))
            .Append(Path.Combine(runtime, "LossDsl.Runtime.dll"))
            .Append(torch)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    });

    /// <summary>
    /// Compiles spec sources together with the code the generator made for them, against the real
    /// runtime (LossDsl, LossDsl.Runtime, TorchSharp), as a project using the package would, and
    /// returns the errors.
    /// </summary>
    public static ImmutableArray<Diagnostic> CompileWithRuntime(GeneratorRunResult run, params string[] sources)
    {
        var trees = sources
            .Select((s, i) => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest), path: $"Spec{i}.cs"))
            .Concat(
                run.GeneratedSources.Select(g =>
                    CSharpSyntaxTree.ParseText(g.SourceText, new CSharpParseOptions(LanguageVersion.Latest), path: g.HintName)
                )
            );
        var compilation = CSharpCompilation.Create(
            "Generated",
            trees,
            RuntimeReferences.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable)
        );
        return compilation
            .GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error || d.IsWarningAsError || d.Severity == DiagnosticSeverity.Warning)
            .Where(d => !d.Id.StartsWith("LD", StringComparison.Ordinal))
            .ToImmutableArray();
    }

    /// <summary>The repository root, found above the test assembly.</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LossDsl.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("LossDsl.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The common usings and namespace of test specs.</summary>
    public static string Spec(string members, string typeModifiers = "public static partial") =>
        $$"""
            using LossDsl;
            using static LossDsl.Dsl;

            namespace Demo;

            {{typeModifiers}} class Losses
            {
            {{members}}
            }
            """;
}
