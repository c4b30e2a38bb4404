using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace LossDsl.Generator.Tests;

/// <summary>
/// Names the generated code uses are reported where the spec declares them (and code that compiled
/// without an LD diagnostic did not compile before); every other name compiles.
/// </summary>
public class NameTests
{
    private static string Spec(string parameter) =>
        $$"""
                [Loss(LossTask.Binary)]
                public static Expr Named(Expr logits, Expr target, {{parameter}}) => Mean(Sigmoid(logits) * target, Over.All);
            """;

    public static TheoryData<string> ReservedParameters =>
        new()
        {
            // Parameters of the generated constructor and functional form (CS0100), and its local (CS0136).
            "double [|reduction|] = 1.0",
            "double [|mask|] = 1.0",
            "double [|input|] = 1.0",
            "double [|classWeights|] = 1.0",
            "double [|ignoreIndex|] = 1.0",
            "double [|loss|] = 1.0",
            // Properties that would hide LossModule's members (CS0108) or the generated module's own.
            "double [|mode|] = 1.0",
            "double [|task|] = 1.0",
            "bool [|checkValues|] = true",
            "double [|ClassWeights|] = 1.0",
            "double [|buildSpec|] = 1.0",
            "double [|evaluate|] = 1.0",
            "double [|hasAnalyticBackward|] = 1.0",
            "double [|validateHyperparameters|] = 1.0",
            "double [|dispose|] = 1.0",
            "double [|getName|] = 1.0",
            "double [|toString|] = 1.0",
            "double [|reference|] = 1.0",
            // The generated type's own name (CS0542).
            "double [|namedLoss|] = 1.0",
        };

    [Theory]
    [MemberData(nameof(ReservedParameters))]
    public void AReservedHyperparameterNameIsLD0018AtTheParameter(string parameter)
    {
        var (source, span) = Harness.Marked(Harness.Spec(Spec(parameter)));
        var result = Harness.Run(source);
        var d = Assert.Single(Harness.LossDiagnostics(result));
        Assert.Equal("LD0018", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(span, d.Location.SourceSpan);
        Assert.Empty(result.GeneratedSources);
    }

    [Fact]
    public void TwoHyperparametersWithOneProperty()
    {
        var (source, span) = Harness.Marked(Harness.Spec(Spec("double alpha = 1.0, double [|Alpha|] = 2.0")));
        var d = Assert.Single(Harness.LossDiagnostics(Harness.Run(source)));
        Assert.Equal("LD0018", d.Id);
        Assert.Equal(span, d.Location.SourceSpan);
        Assert.Contains("'alpha'", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("double @fixed = 1.5", "@fixed")]
    [InlineData("double @class = 1.5, bool @checked = true", "(@checked ? @class : 1)")]
    [InlineData(
        "double forward = 1.5, double training = 0.5, double ctx = 1.0, double seed = 2.0, double value = 3.0",
        "forward * training * ctx * seed * value"
    )]
    [InlineData("double Gamma = 2.0, double fixedPoint = 1.0", "Gamma * fixedPoint")]
    public void OtherNamesCompile(string parameters, string use)
    {
        // Locals named like keywords and like the properties are renamed or written verbatim too.
        var source = Harness.Spec(
            $$"""
                [Loss(LossTask.Binary)]
                public static Expr Named(Expr logits, Expr target, {{parameters}})
                {
                    var @event = Sigmoid(logits);
                    var Value = @event * target;
                    return Mean(Value, Over.All) * ({{use}});
                }
            """
        );
        var result = Harness.Run(source);
        Assert.Empty(Harness.LossDiagnostics(result));
        Assert.Empty(Harness.CompileWithRuntime(result, source));
    }

    [Fact]
    public void AVerbatimKeywordHyperparameterIsEmittedVerbatim()
    {
        var source = Harness.Spec(
            """
                [Loss(LossTask.Binary)]
                public static Expr Verbatim(Expr logits, Expr target, double @fixed = 1.5) => @fixed * Mean(Sigmoid(logits) * target, Over.All);
            """
        );
        var result = Harness.Run(source);
        var code = result.GeneratedSources.Single().SourceText.ToString();
        Assert.Contains("double @fixed = 1.5", code);
        Assert.Contains("Fixed = @fixed;", code);
        Assert.Contains("<param name=\"fixed\">", code);
        Assert.Empty(Harness.CompileWithRuntime(result, source));
    }

    [Fact]
    public void ASpecInAGenericTypeIsLD0019AtItsName()
    {
        var (source, span) = Harness.Marked(
            """
            using LossDsl;
            using static LossDsl.Dsl;

            namespace Demo;

            public static partial class Outer<T>
            {
                [Loss(LossTask.Binary)]
                public static Expr [|Inside|](Expr logits, Expr target) => Mean(Sigmoid(logits) * target, Over.All);
            }
            """
        );
        var result = Harness.Run(source);
        var d = Assert.Single(Harness.LossDiagnostics(result));
        Assert.Equal("LD0019", d.Id);
        Assert.Equal(span, d.Location.SourceSpan);
        Assert.Contains("Outer<T>", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Empty(result.GeneratedSources);
    }

    // A stand-in for the runtime assembly: a public type of the LossDsl namespace.
    private static readonly MetadataReference LossDslTypes = CSharpCompilation
        .Create(
            "Catalog",
            new[] { CSharpSyntaxTree.ParseText("namespace LossDsl { public sealed class TverskyLoss { } }") },
            Harness.Compile().References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary)
        )
        .ToMetadataReference();

    private static GeneratorRunResult RunWithCatalog(string source) => Harness.Run(Harness.Compile(source).AddReferences(LossDslTypes));

    [Fact]
    public void AGeneratedNameOfALossDslTypeIsLD0020WithAHint()
    {
        var (source, span) = Harness.Marked(
            Harness.Spec(
                """
                    [Loss(LossTask.Binary)]
                    public static Expr [|Tversky|](Expr logits, Expr target) => Mean(Sigmoid(logits) * target, Over.All);
                """
            )
        );
        var result = RunWithCatalog(source);
        var d = Assert.Single(Harness.LossDiagnostics(result));
        Assert.Equal("LD0020", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal(span, d.Location.SourceSpan);
        var message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("LossDsl.TverskyLoss", message);
        Assert.Contains("[Loss(Name = ", message);
        Assert.Single(result.GeneratedSources);
    }

    [Fact]
    public void AnotherNameOrTheLossDslNamespaceItselfIsFine()
    {
        var renamed = Harness.Spec(
            """
                [Loss(LossTask.Binary, Name = "MyTverskyLoss")]
                public static Expr Tversky(Expr logits, Expr target) => Mean(Sigmoid(logits) * target, Over.All);
            """
        );
        Assert.Empty(Harness.LossDiagnostics(RunWithCatalog(renamed)));
        var catalogItself = Harness
            .Spec(
                """
                    [Loss(LossTask.Binary)]
                    public static Expr Tversky(Expr logits, Expr target) => Mean(Sigmoid(logits) * target, Over.All);
                """
            )
            .Replace("namespace Demo;", "namespace LossDsl;");
        Assert.DoesNotContain(Harness.LossDiagnostics(Harness.Run(catalogItself)), d => d.Id == "LD0020");
    }
}
