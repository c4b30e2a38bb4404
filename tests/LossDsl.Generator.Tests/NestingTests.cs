using System;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Xunit;

namespace LossDsl.Generator.Tests;

/// <summary>Runs alone: it shrinks the generator's large stack, which every other test shares.</summary>
[CollectionDefinition(nameof(NestingTests), DisableParallelization = true)]
public sealed class NestingCollection;

/// <summary>
/// Deep nesting never crashes the compiler: what the current thread cannot hold is read again on a
/// thread with a large stack, and what that cannot hold either is LD0017 where the parser was.
/// </summary>
[Collection(nameof(NestingTests))]
public class NestingTests
{
    private static string Nested(int depth) =>
        Harness.Spec(
            $$"""
                [Loss(LossTask.Binary)]
                public static Expr Deep(Expr logits, Expr target) => Mean({{new string('(', depth)}}Sigmoid(logits){{new string(
                ')',
                depth
            )}} * target, Over.All);
            """
        );

    // Runs the generator on a thread with a small stack, as a compiler thread might have. The source
    // is parsed here first: Roslyn's own parser needs the room.
    private static GeneratorRunResult OnSmallStack(string source)
    {
        var compilation = Harness.Compile(source);
        compilation.SyntaxTrees.Single().GetRoot();
        GeneratorRunResult result = default;
        Exception? error = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    result = Harness.Run(compilation);
                }
                catch (Exception ex)
                {
                    error = ex;
                }
            },
            512 * 1024
        );
        thread.Start();
        thread.Join();
        if (error is not null)
            throw new InvalidOperationException("the generator run failed", error);
        return result;
    }

    [Fact]
    public void ThousandsOfNestedParenthesesCompile()
    {
        var result = OnSmallStack(Nested(3000));
        Assert.Null(result.Exception);
        Assert.Empty(Harness.LossDiagnostics(result));
        Assert.Single(result.GeneratedSources);
    }

    [Fact]
    public void NestingBeyondTheLargeStackIsLD0017AtTheExpression()
    {
        var saved = DeepStack.LargeStackBytes;
        DeepStack.LargeStackBytes = 256 * 1024;
        try
        {
            var source = Nested(3000);
            var result = OnSmallStack(source);
            Assert.Null(result.Exception);
            var d = Assert.Single(Harness.LossDiagnostics(result));
            Assert.Equal("LD0017", d.Id);
            Assert.Equal(DiagnosticSeverity.Error, d.Severity);
            Assert.Contains("nested too deeply", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
            // Inside the nested expression, not at the method's name.
            var start = source.IndexOf("Mean(", StringComparison.Ordinal);
            Assert.InRange(d.Location.SourceSpan.Start, start, start + 3000 * 2 + 40);
            Assert.Empty(result.GeneratedSources);
        }
        finally
        {
            DeepStack.LargeStackBytes = saved;
        }
    }
}
