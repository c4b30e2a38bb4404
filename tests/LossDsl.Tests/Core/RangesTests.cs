using Xunit;
using static LossDsl.Dsl;

namespace LossDsl.Tests.Core;

public class RangesTests
{
    private static readonly Expr X = Prediction;

    private static string R(Expr e, double? param = null) => Ranges.Of(e, _ => param).ToString();

    [Theory]
    [MemberData(nameof(Cases))]
    public void RangesAreConservativeAndTight(Expr e, string expected) => Assert.Equal(expected, R(e));

    public static TheoryData<Expr, string> Cases() =>
        new()
        {
            { X, "(-inf, inf)" },
            { Target, "[0, 1]" },
            { OneHot(Target), "[0, 1]" },
            { ClassWeights, "[0, inf)" },
            { new Const(2.5), "[2.5, 2.5]" },
            // Saturating functions reach their limits in floating point.
            { Sigmoid(X), "[0, 1]" },
            { Softmax(X), "[0, 1]" },
            { Exp(X), "[0, inf)" },
            { Softplus(X), "[0, inf)" },
            { LogSigmoid(X), "(-inf, 0]" },
            { LogSoftmax(X), "(-inf, 0]" },
            { Sqrt(X), "[0, inf)" },
            { Abs(X), "[0, inf)" },
            { LogCosh(X), "[0, inf)" },
            { Log(Sigmoid(X)), "(-inf, 0]" },
            { Sigmoid(new Const(0)), "[0.5, 0.5]" },
            // A sum across pixels is 0 when the mask is empty, whatever its operand.
            { Sum(Sigmoid(X), Over.Spatial), "[0, inf)" },
            { Sum(Sigmoid(X) + 1.0, Over.Spatial), "[0, inf)" },
            { Sum(LogSigmoid(X), Over.All), "(-inf, 0]" },
            { Sum(X, Over.Spatial), "(-inf, inf)" },
            // Over classes alone nothing is masked: at least one class contributes.
            { Sum(Sigmoid(X) + 1.0, Over.Classes), "[1, inf)" },
            { Mean(Sigmoid(X) + 1.0, Over.Classes), "[1, 2]" },
            { Mean(Sigmoid(X) + 1.0, Over.Spatial), "[0, 2]" },
            { Count(Over.Spatial), "[1, inf)" },
            { NumClasses, "[1, inf)" },
            { Sum(Sigmoid(X), Over.Spatial) + 1.0, "[1, inf)" },
            { 1.0 - Sigmoid(X), "[0, 1]" },
            { Sigmoid(X) * (1.0 - Sigmoid(X)), "[0, 1]" },
            { Target * X, "(-inf, inf)" },
            { -Exp(X), "(-inf, 0]" },
            { 1.0 / (1.0 + Exp(X)), "(0, 1]" },
            { 1.0 / Sigmoid(X), "[0, inf)" },
            { X / Count(Over.All), "(-inf, inf)" },
            { Pow(X, 2.0), "[0, inf)" },
            { Pow(Sigmoid(X), 0.5), "[0, 1]" },
            { Pow(X, 3.0), "(-inf, inf)" },
            { Pow(Sigmoid(X) + 1.0, -1.0), "[0.5, 1]" },
            { Pow(X, 0.5), "(-inf, inf)" },
            { Min(Sigmoid(X), 0.5), "[0, 0.5]" },
            { Max(X, 1e-6), "[1e-06, inf)" },
            { Min(Max(X, -1.0), 1.0), "[-1, 1]" },
            { new Cond(new Const(1), Sigmoid(X), X), "[0, 1]" },
            { new SelectTarget(LogSoftmax(X)), "(-inf, 0]" },
            { new Masked(Sigmoid(X) + 1.0), "[0, 2]" },
            { new Binary(BinaryOp.Gt, X, new Const(0)), "[0, 1]" },
        };

    [Fact]
    public void HyperparametersTakeTheirDefaultOrAreUnknown()
    {
        var smooth = new Param("smooth", ParamKind.Real);
        var tp = Sum(Sigmoid(X) * Target, Over.Spatial);
        Assert.Equal("[1, inf)", R(tp + smooth, 1.0));
        Assert.Equal("[0, inf)", R(tp + smooth, 0.0));
        Assert.Equal("(-inf, inf)", R(tp + smooth));
        Assert.True(Ranges.Of(tp + smooth, _ => null).CanBeZero);
        Assert.False(Ranges.Of(tp + smooth, _ => 1e-6).CanBeZero);
        // A choice on an unknown hyperparameter covers both branches.
        var flag = new Param("flag", ParamKind.Bool);
        Assert.Equal("[0, 2]", R(new Cond(flag, Sigmoid(X), Sigmoid(X) + 1.0)));
    }

    [Fact]
    public void IntervalsKnowTheirEnds()
    {
        var open = Interval.Make(0, 1, true, false);
        Assert.False(open.CanBeZero);
        Assert.True(open.Contains(1));
        Assert.Equal("(0, 1]", open.ToString());
        Assert.True(Interval.Make(-1, 1, true, true).CanBeZero);
        Assert.Equal(Interval.Unknown, Interval.Make(double.NaN, 3, false, false) with { Hi = double.PositiveInfinity, HiOpen = true });
        Assert.True(Interval.Point(3).IsPoint);
        Assert.Equal(Interval.Unknown, Interval.Point(double.NaN));
    }
}
