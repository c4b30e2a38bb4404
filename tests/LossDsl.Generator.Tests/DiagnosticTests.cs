using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace LossDsl.Generator.Tests;

/// <summary>Each diagnostic id, triggered by a spec, at the exact location the markers give.</summary>
public class DiagnosticTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        {
            "LD0001", "not static",
            """
                [Loss]
                public Expr [|NotStatic|](Expr logits, Expr target) => Sigmoid(logits);
            """
        },
        {
            "LD0001", "wrong return type",
            """
                [Loss]
                public static double [|Number|](Expr logits, Expr target) => 1.0;
            """
        },
        {
            "LD0002", "a loop",
            """
                [Loss]
                public static Expr Looping(Expr logits, Expr target)
                {
                    var p = Sigmoid(logits);
                    [|for (var i = 0; i < 3; i++) { p = p * p; }|]
                    return p;
                }
            """
        },
        {
            "LD0003", "a call outside the DSL",
            """
                [Loss]
                public static Expr Outside(Expr logits, Expr target, double alpha = 0.5)
                {
                    var a = [|System.Math.Abs(alpha)|];
                    return a * Sigmoid(logits);
                }
            """
        },
        {
            "LD0004", "a hyperparameter without default",
            """
                [Loss]
                public static Expr NoDefault(Expr logits, Expr target, double [|alpha|]) => alpha * Sigmoid(logits);
            """
        },
        {
            "LD0004", "a hyperparameter of a tensor-free but unsupported type",
            """
                [Loss]
                public static Expr Text(Expr logits, Expr target, string [|name|] = "x") => Sigmoid(logits);
            """
        },
        {
            "LD0005", "softmax in a binary spec",
            """
                [Loss(LossTask.Binary)]
                public static Expr Soft(Expr logits, Expr target) => Sum([|Softmax(logits)|] * target, Over.All);
            """
        },
        {
            "LD0006", "a tensor in a condition",
            """
                [Loss(LossTask.Binary)]
                public static Expr TensorCondition(Expr logits, Expr target)
                {
                    if ([|logits > 0|]) return Sigmoid(logits);
                    return target;
                }
            """
        },
        {
            "LD0007", "log of a value that can reach 0",
            """
                [Loss(LossTask.Binary)]
                public static Expr RawLog(Expr probs, Expr target) => -target * [|Log(probs)|];
            """
        },
        {
            "LD0008", "a denominator that is 0 on an empty target",
            """
                [Loss(LossTask.Binary)]
                public static Expr Recall(Expr logits, Expr target) =>
                    1 - Sum(Sigmoid(logits) * target, Over.Spatial) / [|Sum(target, Over.Spatial)|];
            """
        },
        {
            "LD0009", "no dependence on the prediction",
            """
                [Loss(LossTask.Binary)]
                public static Expr Constant(Expr logits, Expr target) => [|Mean(target, Over.All)|];
            """
        },
        {
            "LD0011", "recursion",
            """
                [Loss(LossTask.Binary)]
                public static Expr Again(Expr logits, Expr target) => 0.5 * [|Again(logits, target)|];
            """
        },
        {
            "LD0013", "axes that are not a constant",
            """
                [Loss(LossTask.Binary)]
                public static Expr Axes(Expr logits, Expr target)
                {
                    var over = Over.Spatial;
                    return Sum(Sigmoid(logits) * target, [|over|]);
                }
            """
        },
        {
            "LD0015", "WeightedMean below the root",
            """
                [Loss(LossTask.Multiclass)]
                public static Expr Nested(Expr logits, Expr target) =>
                    1 + [|WeightedMean(-Sum(LogSoftmax(logits) * target, Over.Classes), Sum(ClassWeights * target, Over.Classes))|];
            """
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void DiagnosticIsReportedAtItsLocation(string id, string what, string members)
    {
        var (source, span) = Harness.Marked(Harness.Spec(members));
        var result = Harness.Run(source);
        Assert.Null(result.Exception);
        var found = Harness.LossDiagnostics(result).Where(d => d.Id == id).ToList();
        Assert.True(found.Count > 0, $"{what}: expected {id}, got [{string.Join(", ", Harness.LossDiagnostics(result).Select(d => d.ToString()))}]");
        var expected = source.Substring(span.Start, span.Length);
        Assert.Contains(found, d => d.Location.SourceSpan == span);
        // The same position in the line/column form the compiler prints.
        var lines = found.First(d => d.Location.SourceSpan == span).Location.GetLineSpan();
        var before = source.Substring(0, span.Start);
        Assert.Equal(before.Count(c => c == '\n'), lines.StartLinePosition.Line);
        Assert.Equal(span.Start - (before.LastIndexOf('\n') + 1), lines.StartLinePosition.Character);
        Assert.False(string.IsNullOrWhiteSpace(expected));
    }

    [Fact]
    public void ErrorsSuppressTheGeneratedCodeAndWarningsDoNot()
    {
        var (error, _) = Harness.Marked(Harness.Spec(DiagnosticCase("LD0005")));
        Assert.Empty(Harness.Run(error).GeneratedSources);
        var (warning, _) = Harness.Marked(Harness.Spec(DiagnosticCase("LD0007")));
        var run = Harness.Run(warning);
        Assert.Contains(Harness.LossDiagnostics(run), d => d.Id == "LD0007" && d.Severity == DiagnosticSeverity.Warning);
        Assert.Single(run.GeneratedSources);
    }

    [Fact]
    public void NonPartialDeclaringTypeIsReportedAtTheMethod()
    {
        var (source, span) = Harness.Marked(Harness.Spec("""
                [Loss]
                public static Expr [|Plain|](Expr logits, Expr target) => Sigmoid(logits);
            """, typeModifiers: "public static"));
        var d = Assert.Single(Harness.LossDiagnostics(Harness.Run(source)));
        Assert.Equal("LD0012", d.Id);
        Assert.Equal(span, d.Location.SourceSpan);
        Assert.Contains("partial", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void DuplicateNamesAreReportedAtBothSpecs()
    {
        var source = Harness.Spec("""
                [Loss(Name = "SameLoss")]
                public static Expr First(Expr logits, Expr target) => Sigmoid(logits);

                [Loss(Name = "SameLoss")]
                public static Expr Second(Expr logits, Expr target) => Sigmoid(-logits);
            """);
        var result = Harness.Run(source);
        var duplicates = Harness.LossDiagnostics(result).Where(d => d.Id == "LD0014").ToList();
        Assert.Equal(2, duplicates.Count);
        Assert.Equal(new[] { "First", "Second" },
            duplicates.Select(d => source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length)).OrderBy(s => s));
        Assert.Empty(result.GeneratedSources);
    }

    [Fact]
    public void EveryReportedIdIsInTheCatalogWithItsSeverity()
    {
        foreach (var (id, _, members) in Cases.Select(row => ((string)row[0], (string)row[1], (string)row[2])))
        {
            var (source, _) = Harness.Marked(Harness.Spec(members));
            foreach (var d in Harness.LossDiagnostics(Harness.Run(source)))
            {
                var entry = DiagnosticCatalog.All.Single(x => x.Id == d.Id);
                var severity = entry.Severity switch
                {
                    Severity.Error => DiagnosticSeverity.Error,
                    Severity.Warning => DiagnosticSeverity.Warning,
                    _ => DiagnosticSeverity.Info,
                };
                Assert.Equal(severity, d.Severity);
            }
        }
    }

    private static string DiagnosticCase(string id) =>
        Cases.Select(row => ((string)row[0], (string)row[2])).First(c => c.Item1 == id).Item2;
}
