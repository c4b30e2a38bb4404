using System.Collections.Immutable;
using System.Linq;
using Xunit;
using static LossDsl.Dsl;

namespace LossDsl.Tests.Core;

public class CheckTests
{
    private static readonly Expr X = Prediction;

    private static LossSpec Spec(LossTask task, Expr body, params (string Name, ParamKind Kind, string? Default)[] hypers)
    {
        var parameters = new[]
        {
            new SpecParameter("logits", ParamRole.Prediction, ParamKind.Real, "global::LossDsl.Expr", null),
            new SpecParameter("target", ParamRole.Target, ParamKind.Real, "global::LossDsl.Expr", null),
        }.Concat(hypers.Select(h => new SpecParameter(h.Name, ParamRole.Hyper, h.Kind, "double", h.Default)));
        return new LossSpec(
            "Ns",
            EquatableArray.From(new[] { new ContainingType("class", "Losses", "public static partial") }),
            "Demo",
            "DemoLoss",
            task,
            EquatableArray.From(parameters),
            body,
            null
        );
    }

    private static ImmutableArray<SpecDiagnostic> Check(LossTask task, Expr body, params (string, ParamKind, string?)[] hypers) =>
        Checker.Check(Spec(task, body, hypers));

    private static string[] Ids(ImmutableArray<SpecDiagnostic> ds) => ds.Select(d => d.Descriptor.Id).ToArray();

    private static SpecDiagnostic Single(ImmutableArray<SpecDiagnostic> ds, DiagnosticDescriptor descriptor) =>
        Assert.Single(ds, d => d.Descriptor == descriptor);

    // The Tversky loss of the design document, hyperparameters as Param nodes.
    private static Expr Tversky()
    {
        Expr alpha = new Param("alpha", ParamKind.Real),
            beta = new Param("beta", ParamKind.Real);
        Expr smooth = new Param("smooth", ParamKind.Real);
        var p = Sigmoid(X);
        var tp = Sum(p * Target, Over.Spatial);
        var fp = Sum(p * (1.0 - Target), Over.Spatial);
        var fn = Sum((1.0 - p) * Target, Over.Spatial);
        return 1.0 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth);
    }

    private static readonly (string, ParamKind, string?)[] TverskyDefaults =
    {
        ("alpha", ParamKind.Real, "0.3"),
        ("beta", ParamKind.Real, "0.7"),
        ("smooth", ParamKind.Real, "1.0"),
    };

    // ---------------------------------------------------------------- clean specs

    [Fact]
    public void TheDesignDocumentsTverskyIsClean() => Assert.Empty(Check(LossTask.Binary, Tversky(), TverskyDefaults));

    [Fact]
    public void StandardLossesAreClean()
    {
        var bce = -(Target * Log(Sigmoid(X)) + (1.0 - Target) * Log(1.0 - Sigmoid(X)));
        Assert.Empty(Check(LossTask.Binary, bce));
        var ce = WeightedMean(
            -Sum(ClassWeights * OneHot(Target) * Log(Softmax(X)), Over.Classes),
            Sum(ClassWeights * OneHot(Target), Over.Classes)
        );
        Assert.Empty(Check(LossTask.Multiclass, ce));
        Expr gamma = new Param("gamma", ParamKind.Real),
            useLog = new Param("useLog", ParamKind.Bool);
        var focal = new Cond(useLog, -Pow(1.0 - Exp(LogSigmoid(X)), gamma) * LogSigmoid(X), Softplus(-X));
        Assert.Empty(Check(LossTask.Binary, focal, ("gamma", ParamKind.Real, "2"), ("useLog", ParamKind.Bool, "true")));
    }

    // ---------------------------------------------------------------- LD0005, LD0015

    [Fact]
    public void SoftmaxInABinarySpecIsATaskMismatch()
    {
        var body = -Sum(LogSoftmax(X) * Target, Over.Classes);
        var d = Single(Check(LossTask.Binary, body), DiagnosticCatalog.TaskMismatch);
        Assert.Equal(new[] { "LogSoftmax", "Binary" }, d.Arguments.ToArray());
        Assert.Equal(LogSoftmax(X), d.Node);
        Assert.DoesNotContain("LD0005", Ids(Check(LossTask.Multiclass, body)));
        Assert.Equal(
            new[] { "Softmax", "Binary" },
            Single(Check(LossTask.Binary, Softmax(X) * Target), DiagnosticCatalog.TaskMismatch).Arguments.ToArray()
        );
    }

    [Fact]
    public void SoftmaxOfAValueWithoutAClassAxisIsAnAxisError()
    {
        var reduced = Sum(X, Over.Classes);
        var d = Single(Check(LossTask.Multiclass, Softmax(reduced) * Target), DiagnosticCatalog.AxisError);
        Assert.Equal(Softmax(reduced), d.Node);
        Assert.Contains("has no class axis", d.Message);
        Assert.Contains("Sum(prediction, Over.Classes)", d.Message);
        Assert.DoesNotContain("LD0015", Ids(Check(LossTask.Multiclass, Softmax(X) * Target)));
    }

    [Fact]
    public void WeightedMeanInsideAnExpressionIsAnAxisError()
    {
        var wm = WeightedMean(X, ClassWeights);
        var d = Single(Check(LossTask.Multiclass, 1.0 + wm), DiagnosticCatalog.AxisError);
        Assert.Equal(wm, d.Node);
        Assert.Contains("final result", d.Message);
        Assert.DoesNotContain("LD0015", Ids(Check(LossTask.Multiclass, wm)));
        // A branch of a choice at the top is not the result either (the module averages one way; the emitter
        // cannot emit it): the message says to choose inside, and that form is accepted.
        var flag = new Param("flag", ParamKind.Bool);
        var branch = Single(Check(LossTask.Multiclass, new Cond(flag, wm, X)), DiagnosticCatalog.AxisError);
        Assert.Equal(wm, branch.Node);
        Assert.Contains("make the choice inside it", branch.Message);
        Assert.DoesNotContain(
            "LD0015",
            Ids(Check(LossTask.Multiclass, WeightedMean(new Cond(flag, X, 2 * X), new Cond(flag, ClassWeights, 1.0))))
        );
    }

    [Fact]
    public void AWeightWithAxesTheValueLacksIsAnAxisError()
    {
        var wm = WeightedMean(Sum(X * OneHot(Target), Over.Sample), Sum(ClassWeights * OneHot(Target), Over.Classes));
        var d = Single(Check(LossTask.Multiclass, wm), DiagnosticCatalog.AxisError);
        Assert.Contains("Over.Spatial", d.Message);
    }

    [Fact]
    public void OneHotOfSomethingOtherThanTheTargetIsAnAxisError()
    {
        var d = Single(Check(LossTask.Multiclass, Sum(X * OneHot(X), Over.Classes)), DiagnosticCatalog.AxisError);
        Assert.Equal(OneHot(X), d.Node);
    }

    // ---------------------------------------------------------------- LD0006

    [Fact]
    public void ATensorConditionIsAKindMismatch()
    {
        var tp = Sum(Sigmoid(X) * Target, Over.Spatial);
        var test = new Binary(BinaryOp.Gt, tp, new Const(0));
        var d = Single(Check(LossTask.Binary, new Cond(test, X, -X)), DiagnosticCatalog.KindMismatch);
        Assert.Equal(test, d.Node);
        Assert.Equal(Printer.Print(tp), d.Arguments[0]);

        // A bare tensor as the test, and a tensor under '!' or '&&'.
        Assert.Equal(tp, Single(Check(LossTask.Binary, new Cond(tp, X, -X)), DiagnosticCatalog.KindMismatch).Node);
        var notTp = new Unary(UnaryOp.Not, tp);
        Assert.Equal(notTp, Single(Check(LossTask.Binary, new Cond(notTp, X, -X)), DiagnosticCatalog.KindMismatch).Node);
        var flag = new Param("flag", ParamKind.Bool);
        var and = new Binary(BinaryOp.And, flag, Count(Over.Spatial));
        Assert.Equal(and, Single(Check(LossTask.Binary, new Cond(and, X, -X)), DiagnosticCatalog.KindMismatch).Node);
    }

    [Fact]
    public void HyperparameterConditionsAreFine()
    {
        Expr alpha = new Param("alpha", ParamKind.Real),
            flag = new Param("flag", ParamKind.Bool);
        var mode = new Param("mode", ParamKind.Enum);
        var test = new Binary(
            BinaryOp.Or,
            new Binary(BinaryOp.And, new Binary(BinaryOp.Gt, alpha, new Const(0.5)), new Unary(UnaryOp.Not, flag)),
            new Binary(BinaryOp.Eq, mode, new EnumValue("Ns.Mode", "Fast", 1))
        );
        Assert.Empty(Check(LossTask.Binary, new Cond(test, Softplus(X) * alpha, Softplus(-X)), ("alpha", ParamKind.Real, "1")));
    }

    [Fact]
    public void ConditionsAndEnumsUsedAsNumbersAreKindMismatches()
    {
        Expr alpha = new Param("alpha", ParamKind.Real);
        var cmp = new Binary(BinaryOp.Gt, alpha, new Const(0));
        var product = Softplus(X) * cmp;
        var d = Single(Check(LossTask.Binary, product, ("alpha", ParamKind.Real, "1")), DiagnosticCatalog.KindMismatch);
        Assert.Equal(product, d.Node);
        Assert.Contains("used as a number", d.Message);

        var flag = new Param("flag", ParamKind.Bool);
        Assert.Equal(new[] { "LD0006" }, Ids(Check(LossTask.Binary, Softplus(X) + flag)));
        var member = new EnumValue("Ns.Mode", "Fast", 1);
        Assert.Contains("enum", Single(Check(LossTask.Binary, Softplus(X) * member), DiagnosticCatalog.KindMismatch).Message);
        Assert.Equal(new[] { "LD0006" }, Ids(Check(LossTask.Binary, Softplus(X) * new Param("mode", ParamKind.Enum))));
        // An integer hyperparameter is a number.
        Assert.Empty(Check(LossTask.Binary, Softplus(X) * new Param("k", ParamKind.Integer)));
    }

    // ---------------------------------------------------------------- LD0007

    [Fact]
    public void LogsThatTheSimplifierStabilisesAreFine()
    {
        Assert.Empty(Check(LossTask.Binary, -Log(Sigmoid(X))));
        Assert.Empty(Check(LossTask.Binary, -Log(1.0 - Sigmoid(X))));
        Assert.Empty(Check(LossTask.Multiclass, -Sum(Log(Softmax(X)) * OneHot(Target), Over.Classes)));
        Assert.Empty(Check(LossTask.Binary, Log(1.0 + Exp(X))));
        Assert.Empty(Check(LossTask.Binary, Log(Exp(X) + 1.0) + Log(Sigmoid(X) + 1e-6)));
    }

    [Fact]
    public void LogOfASumThatCanBeZeroWarnsAtTheOriginalLog()
    {
        var p = Sum(Softmax(X) * Target, Over.Classes);
        var log = Log(p);
        var d = Single(Check(LossTask.Multiclass, -log), DiagnosticCatalog.LogOfZero);
        Assert.Same(log, d.Node);
        Assert.Equal(Severity.Warning, d.Descriptor.Severity);
        Assert.Equal(new[] { Printer.Print(p), "[0, inf)" }, d.Arguments.ToArray());
        Assert.DoesNotContain("LD0007", Ids(Check(LossTask.Multiclass, -Log(p + 1e-7))));
    }

    [Fact]
    public void LogOfLogitsOrAnUnsmoothedHyperparameterWarns()
    {
        Assert.Single(Check(LossTask.Binary, Log(X)), d => d.Descriptor == DiagnosticCatalog.LogOfZero);
        Expr eps = new Param("eps", ParamKind.Real);
        var body = Log(Sigmoid(X) + eps);
        Assert.Empty(Check(LossTask.Binary, body, ("eps", ParamKind.Real, "1e-6")));
        Assert.Single(Check(LossTask.Binary, body, ("eps", ParamKind.Real, "0.0")), d => d.Descriptor == DiagnosticCatalog.LogOfZero);
        // No default value: nothing is known about eps.
        Assert.Single(Check(LossTask.Binary, body, ("eps", ParamKind.Real, null)), d => d.Descriptor == DiagnosticCatalog.LogOfZero);
    }

    // ---------------------------------------------------------------- LD0008

    [Fact]
    public void TverskyWithoutSmoothingHasAZeroDenominator()
    {
        var defaults = new[]
        {
            ("alpha", ParamKind.Real, (string?)"0.3"),
            ("beta", ParamKind.Real, "0.7"),
            ("smooth", ParamKind.Real, "0"),
        };
        var d = Single(Check(LossTask.Binary, Tversky(), defaults), DiagnosticCatalog.ZeroDenominator);
        // The diagnostic points at the denominator itself (the generator reports it there).
        var denominator = Assert.IsType<Binary>(d.Node);
        Assert.Equal(BinaryOp.Add, denominator.Op);
        Assert.Equal(Printer.Print(denominator), d.Arguments[0]);
        // With every sum 0 (an empty mask) the denominator is exactly 0.
        Assert.Equal("[0, 0]", d.Arguments[1]);
        Assert.Contains("smoothing", d.Message);
    }

    [Fact]
    public void DenominatorsWithoutAReductionOrBoundedAwayFromZeroAreFine()
    {
        // A sigmoid can underflow to 0, but an element-wise ratio is not the empty-mask case.
        Assert.DoesNotContain("LD0008", Ids(Check(LossTask.Binary, Target / Sigmoid(X))));
        // Counts are clamped at 1 by the runtime.
        Assert.Empty(Check(LossTask.Binary, Sum(Softplus(X), Over.Spatial) / Count(Over.Spatial)));
        Assert.Empty(Check(LossTask.Binary, Sum(Softplus(X), Over.Spatial) / (Sum(Target, Over.Spatial) + 1.0)));
        Assert.Single(
            Check(LossTask.Binary, Sum(Softplus(X), Over.Spatial) / Sum(Target, Over.Spatial)),
            d => d.Descriptor == DiagnosticCatalog.ZeroDenominator
        );
        // A mean over an empty mask is 0 too.
        Assert.Single(
            Check(LossTask.Binary, Softplus(X) / Mean(Target, Over.Spatial)),
            d => d.Descriptor == DiagnosticCatalog.ZeroDenominator
        );
    }

    // ---------------------------------------------------------------- LD0009

    [Fact]
    public void ASpecThatIgnoresThePredictionWarns()
    {
        var body = Sum(Target, Over.Spatial);
        var d = Single(Checker.Check(Spec(LossTask.Binary, body)), DiagnosticCatalog.NoPrediction);
        Assert.Equal(new[] { "Demo" }, d.Arguments.ToArray());
        Assert.Equal(body, d.Node);
        Assert.DoesNotContain("LD0009", Ids(Check(LossTask.Binary, Sum(Target * X, Over.Spatial))));
    }

    // ---------------------------------------------------------------- robustness

    private sealed record Foreign(Expr Inner) : Expr;

    [Fact]
    public void NeverThrows()
    {
        Assert.Empty(Checker.Check(null!));
        Assert.Empty(Checker.Check(Spec(LossTask.Binary, null!)));
        // An unknown node kind: whatever the rules can say, they say without throwing.
        var ds = Checker.Check(Spec(LossTask.Multiclass, Log(new Foreign(X)) / Sum(new Foreign(X), Over.Spatial)));
        Assert.All(ds, d => Assert.StartsWith("LD00", d.Descriptor.Id));
        var weird = Spec(LossTask.Binary, new Cond(new Const(double.NaN), Pow(X, new Const(double.PositiveInfinity)), X / new Const(0)));
        Assert.All(Checker.Check(weird), d => Assert.NotNull(d.Message));
    }

    [Theory]
    [InlineData("1.0", 1.0)]
    [InlineData("-3e-4", -3e-4)]
    [InlineData("0.5f", 0.5)]
    [InlineData("2D", 2.0)]
    [InlineData("1_000", 1000.0)]
    [InlineData("7", 7.0)]
    public void DefaultTextsParseAsInvariantNumbers(string text, double expected) => Assert.Equal(expected, Checker.ParseNumber(text));

    [Theory]
    [InlineData("true")]
    [InlineData("global::Ns.Mode.Fast")]
    [InlineData("1,5")]
    [InlineData(null)]
    public void NonNumericDefaultsHaveNoValue(string? text) => Assert.Null(Checker.ParseNumber(text));
}
