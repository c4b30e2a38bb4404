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
/// ids and positions a build of the same spec reports, after the file's C# syntax errors (<c>CS…</c>).
/// Exit code 1 if any is an error, 2 if the file cannot be read, 0 otherwise. The work runs on a thread
/// with a large stack, so deeply nested code ends in diagnostics, never in a stack overflow.
/// </summary>
public static class CheckCommand
{
    /// <summary>The stack of the thread the check runs on: the C# compiler's own binder recurses over nested expressions.</summary>
    public const int StackBytes = 512 * 1024 * 1024;

    /// <summary>Runs the check; returns the exit code.</summary>
    public static int Run(string path, TextWriter stdout, TextWriter stderr)
    {
        if (!File.Exists(path))
        {
            stderr.WriteLine($"lossdsl check: file '{path}' not found");
            return 2;
        }
        var full = Path.GetFullPath(path);
        var diagnostics = OnLargeStack(() => Check(File.ReadAllText(full), full));
        foreach (var d in diagnostics)
            stdout.WriteLine(Format(d));
        var errors = diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error);
        var warnings = diagnostics.Count(d => d.Severity == DiagnosticSeverity.Warning);
        stdout.WriteLine($"{Path.GetFileName(full)}: {errors} error(s), {warnings} warning(s)");
        return errors > 0 ? 1 : 0;
    }

    /// <summary>Runs <paramref name="work"/> on a thread with a <see cref="StackBytes"/> stack and returns its result.</summary>
    public static T OnLargeStack<T>(Func<T> work)
    {
        T result = default!;
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? error = null;
        var thread = new System.Threading.Thread(
            () =>
            {
                try
                {
                    result = work();
                }
                catch (Exception ex)
                {
                    error = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex);
                }
            },
            StackBytes
        );
        thread.Start();
        thread.Join();
        error?.Throw();
        return result;
    }

    /// <summary>
    /// The file's C# syntax errors and the LossDsl diagnostics of a source file, in source order. A file
    /// that does not parse still gets the generator's diagnostics for what it could read.
    /// </summary>
    public static IReadOnlyList<Diagnostic> Check(string source, string path)
    {
        var tree = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest), path);
        var syntax = tree.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error);
        var compilation = CSharpCompilation.Create(
            "Check",
            new[] { tree },
            References(),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable)
        );
        var driver = CSharpGeneratorDriver.Create(new LossGenerator()).RunGenerators(compilation);
        return syntax
            .Concat(driver.GetRunResult().Diagnostics.Where(d => d.Id.StartsWith("LD", StringComparison.Ordinal)))
            .OrderBy(d => d.Location.SourceSpan.Start)
            .ThenBy(d => d.Id, StringComparer.Ordinal)
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
        // Messages are one line, as the compiler prints them.
        var message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture).Replace("\r", " ").Replace("\n", " ");
        return $"{span.Path}({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1}): {severity} {d.Id}: {message}";
    }

    // The framework, the LossDsl core and runtime (so specs may use the catalog's types), TorchSharp.
    private static ImmutableArray<MetadataReference> References()
    {
        var trusted = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "").Split(Path.PathSeparator);
        var framework = trusted.Where(p =>
            Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal)
            || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll"
        );
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
        var command = new System.CommandLine.Command(
            "check",
            "Run the LossDsl checker on a spec file and print its diagnostics like the compiler."
        )
        {
            fileArg,
        };
        command.SetAction(r => CheckCommand.Run(r.GetValue(fileArg)!, Console.Out, Console.Error));
        return command;
    }
}
