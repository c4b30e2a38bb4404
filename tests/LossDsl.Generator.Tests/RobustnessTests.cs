using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace LossDsl.Generator.Tests;

/// <summary>
/// The generator is fed every prefix of a valid spec file and random token deletions of it: it must
/// never throw, and only catalog ids may come out.
/// </summary>
public class RobustnessTests
{
    internal const string ValidFile = """
        using LossDsl;
        using static LossDsl.Dsl;

        namespace Demo;

        public enum Mode { Plain, Squared }

        /// <summary>Specs used to torture the generator.</summary>
        public static partial class Losses
        {
            private const double Eps = 1e-6;

            /// <summary>Tversky.</summary>
            [Loss(LossTask.Binary)]
            public static Expr Tversky(Expr logits, Expr target, double alpha = 0.3, double beta = 0.7, double smooth = 1.0)
            {
                var p = Sigmoid(logits);
                var tp = Sum(p * target, Over.Spatial);
                var fp = Sum(p * (1 - target), Over.Spatial);
                var fn = Sum((1 - p) * target, Over.Spatial);
                return 1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth);
            }

            [Loss(LossTask.Multiclass, Name = "ModeDiceLoss")]
            public static Expr ModeDice(Expr logits, Expr target, Mode kind = Mode.Squared, bool batch = false, int power = 2)
            {
                var p = Softmax(logits);
                var pp = kind == Mode.Squared ? Pow(p, power) : p;
                Expr den;
                if (batch)
                {
                    den = Sum(pp + target, Over.Batch | Over.Spatial);
                }
                else
                {
                    den = Sum(pp + target, Over.Spatial);
                }
                var tp = batch ? Sum(p * target, Over.Batch | Over.Spatial) : Sum(p * target, Over.Spatial);
                return 1 - (2 * tp + Eps) / (den + Eps);
            }

            [Loss(LossTask.Binary)]
            public static Expr Blend(Expr logits, Expr target, double w = 0.5) =>
                (1 - w) * Mean(-(target * LogSigmoid(logits) + (1 - target) * LogSigmoid(-logits)), Over.All)
                + w * Tversky(logits, target, alpha: 0.5, beta: 0.5);
        }
        """;

    private static void AssertSafe(string source, string what)
    {
        var result = Harness.Run(source);
        Assert.True(result.Exception is null, $"{what}: generator threw {result.Exception}");
        foreach (var d in result.Diagnostics.Where(d => d.Id.StartsWith("LD", StringComparison.Ordinal)))
            Assert.True(DiagnosticCatalog.All.Any(x => x.Id == d.Id), $"{what}: unknown id {d.Id}");
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == DiagnosticCatalog.InternalError.Id);
    }

    [Fact]
    public void TheValidFileGeneratesThreeModulesWithoutErrors()
    {
        var result = Harness.Run(ValidFile);
        Assert.Null(result.Exception);
        Assert.DoesNotContain(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(
            new[] { "Demo.BlendLoss.g.cs", "Demo.ModeDiceLoss.g.cs", "Demo.TverskyLoss.g.cs" },
            result.GeneratedSources.Select(s => s.HintName).OrderBy(s => s, StringComparer.Ordinal)
        );
    }

    [Fact]
    public void EveryTokenPrefixIsSafe()
    {
        var tokens = CSharpSyntaxTree.ParseText(ValidFile).GetRoot().DescendantTokens().ToList();
        foreach (var token in tokens)
            AssertSafe(ValidFile.Substring(0, token.Span.End), $"prefix up to '{token.Text}' at {token.Span.End}");
    }

    [Fact]
    public void RandomTokenDeletionsAreSafe()
    {
        var tokens = CSharpSyntaxTree.ParseText(ValidFile).GetRoot().DescendantTokens().ToList();
        var rng = new Random(20261123);
        for (var trial = 0; trial < 300; trial++)
        {
            var drop = Enumerable
                .Range(0, 1 + rng.Next(3))
                .Select(_ => tokens[rng.Next(tokens.Count)])
                .OrderByDescending(t => t.SpanStart)
                .Distinct()
                .ToList();
            var text = ValidFile;
            foreach (var t in drop)
                text = text.Remove(t.SpanStart, t.Span.Length);
            AssertSafe(text, $"trial {trial}, without [{string.Join(" ", drop.Select(t => t.Text))}]");
        }
    }
}
