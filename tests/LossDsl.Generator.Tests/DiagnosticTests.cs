using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace LossDsl.Generator.Tests;

/// <summary>Each diagnostic id, triggered by a spec, at the exact location the markers give.</summary>
public class DiagnosticTests
{
    public static TheoryData<string, string, string> Cases =>
        new()
        {
            {
                "LD0001",
                "not static",
                """
                        [Loss]
                        public Expr [|NotStatic|](Expr logits, Expr target) => Sigmoid(logits);
                    """
            },
            {
                "LD0001",
                "wrong return type",
                """
                        [Loss]
                        public static double [|Number|](Expr logits, Expr target) => 1.0;
                    """
            },
            {
                "LD0002",
                "a loop",
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
                "LD0003",
                "a call outside the DSL",
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
                "LD0004",
                "a hyperparameter without default",
                """
                        [Loss]
                        public static Expr NoDefault(Expr logits, Expr target, double [|alpha|]) => alpha * Sigmoid(logits);
                    """
            },
            {
                "LD0004",
                "a hyperparameter of a tensor-free but unsupported type",
                """
                        [Loss]
                        public static Expr Text(Expr logits, Expr target, string [|name|] = "x") => Sigmoid(logits);
                    """
            },
            {
                "LD0005",
                "softmax in a binary spec",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr Soft(Expr logits, Expr target) => Sum([|Softmax(logits)|] * target, Over.All);
                    """
            },
            {
                "LD0006",
                "a tensor in a condition",
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
                "LD0007",
                "log of a value that can reach 0",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr RawLog(Expr probs, Expr target) => -target * [|Log(probs)|];
                    """
            },
            {
                "LD0008",
                "a denominator that is 0 on an empty target",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr Recall(Expr logits, Expr target) =>
                            1 - Sum(Sigmoid(logits) * target, Over.Spatial) / [|Sum(target, Over.Spatial)|];
                    """
            },
            {
                "LD0009",
                "no dependence on the prediction",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr Constant(Expr logits, Expr target) => [|Mean(target, Over.All)|];
                    """
            },
            {
                "LD0011",
                "recursion",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr Again(Expr logits, Expr target) => 0.5 * [|Again(logits, target)|];
                    """
            },
            {
                "LD0013",
                "axes that are not a constant",
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
                "LD0021",
                "a fractional power of a value that reaches 0",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr Root(Expr logits, Expr target) => Mean([|Pow(1 - Sigmoid(logits) * target, 0.5)|], Over.All);
                    """
            },
            {
                "LD0021",
                "a fractional hyperparameter exponent",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr Focalish(Expr logits, Expr target, double gamma = 0.3) =>
                            Mean([|Pow(Sigmoid(-logits) * target, gamma)|] * Softplus(-logits), Over.All);
                    """
            },
            {
                "LD0021",
                "a tensor exponent that can be below 1",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr TensorExponent(Expr logits, Expr target) => Mean([|Pow(Sigmoid(logits) * target, Sigmoid(logits))|], Over.All);
                    """
            },
            {
                "LD0022",
                "defaults that break a Require rule",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr BadDefault(Expr logits, Expr target, double gamma = -1.0)
                        {
                            [|Require(gamma >= 0, "gamma must be >= 0")|];
                            return Mean(Pow(Sigmoid(-logits), gamma) * target, Over.All);
                        }
                    """
            },
            {
                "LD0022",
                "defaults that break a rule under an if that they reach",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr Guarded(Expr logits, Expr target, bool strict = true, double eps = 0.0)
                        {
                            if (strict)
                            {
                                [|Require(eps > 0, "eps must be > 0 when strict")|];
                            }
                            return Mean(Sigmoid(logits) * target + eps, Over.All);
                        }
                    """
            },
            {
                "LD0023",
                "a map named by a hyperparameter-dependent string",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr Named(Expr logits, Expr target, bool other = false) =>
                            Mean(PixelMap([|other ? "a" : "b"|]) * Softplus(logits), Over.All);
                    """
            },
            {
                "LD0023",
                "a map name that is not an identifier",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr Spaced(Expr logits, Expr target) => Mean(ClassMap([|"my map"|]) * Sigmoid(logits), Over.All);
                    """
            },
            {
                "LD0006",
                "a Require on a tensor",
                """
                        [Loss(LossTask.Binary)]
                        public static Expr OnTensor(Expr logits, Expr target)
                        {
                            Require([|Sum(target, Over.All) > 0|], "needs a positive");
                            return Mean(Sigmoid(logits) * target, Over.All);
                        }
                    """
            },
            {
                "LD0015",
                "WeightedMean as a branch of a construction-time choice",
                """
                        [Loss(LossTask.Multiclass)]
                        public static Expr Chosen(Expr logits, Expr target, bool weighted = false)
                        {
                            var nll = -Sum(LogSoftmax(logits) * OneHot(target), Over.Classes);
                            var w = Sum(ClassWeights * OneHot(target), Over.Classes);
                            return weighted ? [|WeightedMean(w * nll, w)|] : nll;
                        }
                    """
            },
            {
                "LD0015",
                "WeightedMean below the root",
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
        Assert.True(
            found.Count > 0,
            $"{what}: expected {id}, got [{string.Join(", ", Harness.LossDiagnostics(result).Select(d => d.ToString()))}]"
        );
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
    public void AChoiceInsideWeightedMeanCompiles()
    {
        // What the LD0015 message for a WeightedMean branch suggests.
        var source = Harness.Spec(
            """
                [Loss(LossTask.Multiclass)]
                public static Expr ChosenInside(Expr logits, Expr target, bool weighted = false)
                {
                    var nll = -Sum(LogSoftmax(logits) * OneHot(target), Over.Classes);
                    var w = Sum(ClassWeights * OneHot(target), Over.Classes);
                    return WeightedMean(weighted ? w * nll : nll, weighted ? w : 1);
                }
            """
        );
        var run = Harness.Run(source);
        Assert.DoesNotContain(Harness.LossDiagnostics(run), d => d.Severity == DiagnosticSeverity.Error);
        Assert.Empty(Harness.CompileWithRuntime(run, source));
    }

    [Fact]
    public void ARequireMessageMustBeAConstant()
    {
        var (source, span) = Harness.Marked(
            Harness.Spec(
                """
                    [Loss(LossTask.Binary)]
                    public static Expr Message(Expr logits, Expr target, double gamma = 1.0)
                    {
                        Require(gamma >= 0, [|"gamma " + gamma.ToString()|]);
                        return Mean(Sigmoid(logits) * target, Over.All);
                    }
                """
            )
        );
        var d = Harness.LossDiagnostics(Harness.Run(source)).Where(x => x.Severity == DiagnosticSeverity.Error).ToList();
        Assert.Contains(
            d,
            x =>
                x.Location.SourceSpan == span && x.GetMessage(System.Globalization.CultureInfo.InvariantCulture).Contains("constant string")
        );
    }

    [Fact]
    public void DefaultsThatAreNotReachedByAGuardedRuleAreFine()
    {
        var source = Harness.Spec(
            """
                [Loss(LossTask.Binary)]
                public static Expr Guarded(Expr logits, Expr target, bool strict = false, double eps = 0.0)
                {
                    if (strict)
                    {
                        Require(eps > 0, "eps must be > 0 when strict");
                    }
                    return Mean(Sigmoid(logits) * target + eps, Over.All);
                }
            """
        );
        var run = Harness.Run(source);
        Assert.DoesNotContain(Harness.LossDiagnostics(run), d => d.Severity == DiagnosticSeverity.Error);
        var generated = string.Concat(run.GeneratedSources.Select(g => g.SourceText.ToString()));
        // The rule is checked under its guard, naming the loss, the rule and both values.
        Assert.Contains("OutOfRange(\"GuardedLoss\", \"eps must be > 0 when strict\"", generated);
        Assert.Contains("(\"eps\", eps)", generated);
        Assert.Empty(Harness.CompileWithRuntime(run, source));
    }

    [Theory]
    [InlineData("Pow(Max(1 - Sigmoid(logits), 1e-12), 0.5)")]
    [InlineData("Pow(1 - Sigmoid(logits), 2.0)")]
    [InlineData("Pow(1 - Sigmoid(logits), gamma)")]
    [InlineData("Pow(Sigmoid(logits) + 1, 0.5)")]
    [InlineData("Pow(Sigmoid(logits), 0.0)")]
    public void PowersThatStayDifferentiableAreNotLD0021(string pow)
    {
        var source = Harness.Spec(
            $$"""
                [Loss(LossTask.Binary)]
                public static Expr Fine(Expr logits, Expr target, double gamma = 2.0) => Mean({{pow}} * target, Over.All);
            """
        );
        Assert.DoesNotContain(Harness.LossDiagnostics(Harness.Run(source)), d => d.Id == "LD0021");
    }

    [Fact]
    public void LD0021SuggestsAFloorOfTheBase()
    {
        var (source, _) = Harness.Marked(Harness.Spec(DiagnosticCase("LD0021")));
        var d = Harness.LossDiagnostics(Harness.Run(source)).Single(x => x.Id == "LD0021");
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        var message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("infinite derivative", message);
        Assert.Contains("Pow(Max(1 - Sigmoid(prediction) * target, 1e-12), 0.5)", message);
    }

    [Theory]
    [InlineData("Sqrt", "System.Math.Sqrt(alpha)")]
    [InlineData("Log", "System.Math.Log(alpha)")]
    [InlineData("Exp", "Math.Exp(alpha)")]
    [InlineData("Pow", "Math.Pow(alpha, 2)")]
    [InlineData("Max", "Math.Max(alpha, 1)")]
    public void MathFunctionsWithADslCounterpartPointToIt(string name, string call)
    {
        var (source, span) = Harness.Marked(
            Harness
                .Spec(
                    $$"""
                        [Loss]
                        public static Expr UsesMath(Expr logits, Expr target, double alpha = 0.5)
                        {
                            var a = [|{{call}}|];
                            return a * Sigmoid(logits);
                        }
                    """
                )
                .Replace("using LossDsl;", "using System;\nusing LossDsl;")
        );
        var d = Assert.Single(Harness.LossDiagnostics(Harness.Run(source)));
        Assert.Equal("LD0003", d.Id);
        Assert.Equal(span, d.Location.SourceSpan);
        Assert.Contains($"use {name} from LossDsl.Dsl", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void OtherCallsListWhatIsAllowed()
    {
        var (source, _) = Harness.Marked(Harness.Spec(DiagnosticCase("LD0003")));
        var message = Harness.LossDiagnostics(Harness.Run(source)).Single().GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        // Abs has a Dsl counterpart too.
        Assert.Contains("use Abs from LossDsl.Dsl", message);
        var (other, _) = Harness.Marked(
            Harness.Spec(
                """
                    [Loss]
                    public static Expr Outside(Expr logits, Expr target, double alpha = 0.5) => [|System.Math.Tanh(alpha)|] * Sigmoid(logits);
                """
            )
        );
        var d = Assert.Single(Harness.LossDiagnostics(Harness.Run(other)));
        Assert.Contains("static helper methods returning Expr", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void ALocalFunctionIsLD0002PointingToStaticHelpers()
    {
        var (source, span) = Harness.Marked(
            Harness.Spec(
                """
                    [Loss(LossTask.Binary)]
                    public static Expr WithLocal(Expr logits, Expr target)
                    {
                        [|Expr Square(Expr x) => x * x;|]
                        return Mean(Square(Sigmoid(logits)) * target, Over.All);
                    }
                """
            )
        );
        var d = Harness.LossDiagnostics(Harness.Run(source)).First();
        Assert.Equal("LD0002", d.Id);
        Assert.Equal(span, d.Location.SourceSpan);
        var message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("'local function' is not supported", message);
        Assert.Contains("static method returning Expr", message);
        Assert.Contains("inlined", message);
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
        var (source, span) = Harness.Marked(
            Harness.Spec(
                """
                    [Loss]
                    public static Expr [|Plain|](Expr logits, Expr target) => Sigmoid(logits);
                """,
                typeModifiers: "public static"
            )
        );
        var d = Assert.Single(Harness.LossDiagnostics(Harness.Run(source)));
        Assert.Equal("LD0012", d.Id);
        Assert.Equal(span, d.Location.SourceSpan);
        Assert.Contains("partial", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void DuplicateNamesAreReportedAtBothSpecs()
    {
        var source = Harness.Spec(
            """
                [Loss(Name = "SameLoss")]
                public static Expr First(Expr logits, Expr target) => Sigmoid(logits);

                [Loss(Name = "SameLoss")]
                public static Expr Second(Expr logits, Expr target) => Sigmoid(-logits);
            """
        );
        var result = Harness.Run(source);
        var duplicates = Harness.LossDiagnostics(result).Where(d => d.Id == "LD0014").ToList();
        Assert.Equal(2, duplicates.Count);
        Assert.Equal(
            new[] { "First", "Second" },
            duplicates.Select(d => source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length)).OrderBy(s => s)
        );
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
