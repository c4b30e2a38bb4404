extern alias generator;

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using LossGenerator = generator::LossDsl.Generator.LossGenerator;

namespace LossDsl.Cli.Commands;

/// <summary>
/// <c>lossdsl check FILE.cs</c>: runs the source generator on one file, without a project, and prints
/// its diagnostics the way the compiler prints them (<c>path(line,col): error LD0005: …</c>): the same
/// ids and positions a build of the same spec reports. Exit code 1 if any is an error, 2 if the file
/// cannot be read, 0 otherwise.
/// </summary>
public static class CheckCommand
{
    /// <summary>Runs the check; returns the exit code.</summary>
    public static int Run(string path, TextWriter stdout, TextWriter stderr)
    {
        if (!File.Exists(path))
        {
            stderr.WriteLine($"lossdsl check: file '{path}' not found");
            return 2;
        }
        var full = Path.GetFullPath(path);
        var diagnostics = Check(File.ReadAllText(full), full);
        foreach (var d in diagnostics) stdout.WriteLine(Format(d));
        var errors = diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error);
        var warnings = diagnostics.Count(d => d.Severity == DiagnosticSeverity.Warning);
        stdout.WriteLine($"{Path.GetFileName(full)}: {errors} error(s), {warnings} warning(s)");
        return errors > 0 ? 1 : 0;
    }

    /// <summary>The LossDsl diagnostics of a source file, in source order.</summary>
    public static IReadOnlyList<Diagnostic> Check(string source, string path)
    {
        var tree = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest), path);
        var compilation = CSharpCompilation.Create("Check", new[] { tree }, References(),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var driver = CSharpGeneratorDriver.Create(new LossGenerator()).RunGenerators(compilation);
        return driver.GetRunResult().Diagnostics
            .Where(d => d.Id.StartsWith("LD", StringComparison.Ordinal))
            .OrderBy(d => d.Location.SourceSpan.Start).ThenBy(d => d.Id, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>A diagnostic as the compiler prints it: <c>path(line,col): severity id: message</c>.</summary>
    public static string Format(Diagnostic d)
    {
        var span = d.Location.GetLineSpan();
        var severity = d.Severity switch
        {
            DiagnosticSeverity.Error => "error",
            DiagnosticSeverity.Warning => "warning",
            _ => "info",
        };
        return $"{span.Path}({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1}): {severity} {d.Id}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    // The framework, the LossDsl core and runtime (so specs may use the catalog's types), TorchSharp.
    private static ImmutableArray<MetadataReference> References()
    {
        var trusted = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "").Split(Path.PathSeparator);
        var framework = trusted.Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal)
                                           || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll");
        return framework
            .Append(typeof(Expr).Assembly.Location)
            .Append(typeof(LossModule).Assembly.Location)
            .Append(typeof(TorchSharp.torch).Assembly.Location)
            .Where(File.Exists)
            .Distinct()
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    }
}

/// <summary>The <c>check</c> verb.</summary>
internal sealed class CheckVerb : ICliCommand
{
    /// <inheritdoc />
    public System.CommandLine.Command Create()
    {
        var fileArg = new System.CommandLine.Argument<string>("file") { Description = "A C# file declaring [Loss] specs." };
        var command = new System.CommandLine.Command("check", "Run the LossDsl checker on a spec file and print its diagnostics like the compiler.") { fileArg };
        command.SetAction(r => CheckCommand.Run(r.GetValue(fileArg)!, Console.Out, Console.Error));
        return command;
    }
}
