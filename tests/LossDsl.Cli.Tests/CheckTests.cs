using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace LossDsl.Cli.Tests;

/// <summary><c>lossdsl check</c> on files a build would reject, or that nest deeply.</summary>
public class CheckTests
{
    private static Cli.Result Check(string source, out string path)
    {
        var dir = Directory.CreateTempSubdirectory("lossdsl-check-");
        path = Path.Combine(dir.FullName, "Specs.cs");
        File.WriteAllText(path, source);
        try
        {
            return Cli.Run("", "check", path);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void ThousandsOfNestedParenthesesAreCheckedWithoutAStackOverflow()
    {
        // Deep enough that the C# binder overflowed a default stack (before check ran on a large one).
        var depth = 10_000;
        var r = Check(
            $$"""
            using LossDsl;
            using static LossDsl.Dsl;
            namespace Demo;
            public static partial class Deep
            {
                [Loss(LossTask.Binary)]
                public static Expr Nested(Expr logits, Expr target) => Mean({{new string('(', depth)}}Sigmoid(logits){{new string(
                ')',
                depth
            )}} * target, Over.All);
            }
            """,
            out _
        );
        Assert.DoesNotContain("Stack overflow", r.Stderr);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("Specs.cs: 0 error(s), 0 warning(s)", r.Stdout);
    }

    [Fact]
    public void AFileThatIsNotCSharpReportsItsSyntaxErrorsLikeTheCompiler()
    {
        var r = Check(
            """
            using LossDsl;
            namespace Demo;
            public static partial class Broken { int a = ; void }
            """,
            out var path
        );
        Assert.Equal(1, r.ExitCode);
        var errors = Regex.Matches(r.Stdout, @"^(.+)\((\d+),(\d+)\): error (CS\d{4}): (.+)$", RegexOptions.Multiline);
        Assert.True(errors.Count >= 2, r.Stdout);
        Assert.All(errors, m => Assert.Equal(path, m.Groups[1].Value));
        var first = errors[0];
        Assert.Equal(("3", "46", "CS1525"), (first.Groups[2].Value, first.Groups[3].Value, first.Groups[4].Value));
        Assert.Contains("Invalid expression term ';'", first.Groups[5].Value);
        Assert.Contains($"Specs.cs: {errors.Count} error(s), 0 warning(s)", r.Stdout);
    }

    [Fact]
    public void SyntaxErrorsAndLossDiagnosticsComeInSourceOrder()
    {
        var r = Check(
            """
            using LossDsl;
            using static LossDsl.Dsl;
            namespace Demo;
            public static partial class Mixed
            {
                [Loss(LossTask.Binary)]
                public static Expr Raw(Expr probs, Expr target) => -target * Log(probs);

                int broken = ;
            }
            """,
            out _
        );
        Assert.Equal(1, r.ExitCode);
        var ids = Regex.Matches(r.Stdout, @"\((\d+),\d+\): (?:error|warning) ((?:LD|CS)\d{4})").Select(m => m.Groups[2].Value).ToArray();
        Assert.Equal(new[] { "LD0007", "CS1525" }, ids);
    }
}
