using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;
using static LossDsl.Dsl;
using static TorchSharp.torch;
using TargetForm = LossDsl.Tests.Core.CoreTestInputs.TargetForm;

namespace LossDsl.Tests.Core;

public class SimplifyTests
{
    private static readonly Expr X = Prediction;
    private static readonly Expr Alpha = new Param("alpha", ParamKind.Real);

    private static string S(Expr e) => Printer.Print(Simplifier.Simplify(e));

    // ---------------------------------------------------------------- folding and identities

    [Theory]
    [InlineData(2.0, 3.0, "5")]
    [InlineData(-1.5, 0.5, "-1")]
    public void ConstantArithmeticFolds(double a, double b, string expected) => Assert.Equal(expected, S(new Const(a) + new Const(b)));

    [Fact]
    public void ConstantFunctionsFoldWithTheInterpretersFormulas()
    {
        Assert.Equal("0.5", S(Sigmoid(0.0)));
        Assert.Equal(Printer.Number(-Math.Log(2)), S(LogSigmoid(0.0)));
        Assert.Equal("2", S(Sqrt(4.0)));
        Assert.Equal("0.25", S(Pow(2.0, -2.0)));
        Assert.Equal("3", S(Max(1.0, Abs(-3.0))));
        // PyTorch's softplus returns x itself above 20; the folded constant must agree with it.
        Assert.Equal("30", S(Softplus(30.0)));
        var folded = Assert.IsType<Const>(Simplifier.Simplify(Softplus(1.0)));
        Assert.Equal(Math.Log(1 + Math.Exp(1.0)), folded.Value, 14);
    }

    [Fact]
    public void NonFiniteAndClassAxisResultsAreNotFolded()
    {
        Assert.Equal("Log(0)", S(Log(0.0)));
        Assert.Equal("1 / 0", S(new Const(1) / new Const(0)));
        Assert.Equal("Softmax(2)", S(Softmax(2.0)));
    }

    [Fact]
    public void IdentitiesDisappear()
    {
        Assert.Equal("prediction", S(X + 0.0));
        Assert.Equal("prediction", S(0.0 + X));
        Assert.Equal("prediction", S(X - 0.0));
        Assert.Equal("-prediction", S(0.0 - X));
        Assert.Equal("prediction", S(X * 1.0));
        Assert.Equal("prediction", S(1.0 * X));
        Assert.Equal("prediction", S(X / 1.0));
        Assert.Equal("prediction", S(Pow(X, 1.0)));
        Assert.Equal("prediction", S(-(-X)));
        Assert.Equal("prediction", S(X * (new Const(3) - new Const(2))));
    }

    [Fact]
    public void ZeroTimesATensorIsKept()
    {
        // 0 * inf is NaN, and a per-pixel 0 has axes a constant 0 lacks.
        Assert.Equal("0 * prediction", S(0.0 * X));
        Assert.Equal("0", S(new Const(0) * new Const(5)));
    }

    [Fact]
    public void ConstantConditionsChooseTheirBranch()
    {
        Assert.Equal("Sigmoid(prediction)", S(new Cond(new Const(1), Sigmoid(X), X)));
        Assert.Equal("prediction", S(new Cond(new Const(0), Sigmoid(X), X)));
        Assert.Equal("prediction", S(new Cond(new Binary(BinaryOp.Gt, new Const(2), new Const(3)), Sigmoid(X), X)));
        var red = new EnumValue("Ns.Color", "Red", 0);
        var blue = new EnumValue("Ns.Color", "Blue", 1);
        Assert.Equal("target", S(new Cond(new Binary(BinaryOp.Eq, red, blue), X, Target)));
    }

    [Fact]
    public void HyperparametersAndConditionsOnThemStay()
    {
        var mode = new Param("mode", ParamKind.Enum);
        var test = new Binary(BinaryOp.Eq, mode, new EnumValue("Ns.Mode", "Fast", 1));
        var cond = new Cond(test, Alpha * X, X);
        Assert.Equal(cond, Simplifier.Simplify(cond));
        Assert.Equal("alpha * prediction", S(Alpha * X * 1.0));
        // A choice between equal branches is no choice.
        Assert.Equal("prediction", S(new Cond(test, X, X + 0.0)));
    }

    // ---------------------------------------------------------------- stable forms

    [Theory]
    [MemberData(nameof(StableRewrites))]
    public void StableRewritesApply(Expr input, string expected) => Assert.Equal(expected, S(input));

    public static TheoryData<Expr, string> StableRewrites() =>
        new()
        {
            { Log(Sigmoid(X)), "LogSigmoid(prediction)" },
            { Log(1.0 - Sigmoid(X)), "LogSigmoid(-prediction)" },
            { 1.0 - Sigmoid(X), "Sigmoid(-prediction)" },
            { Log(Softmax(X)), "LogSoftmax(prediction)" },
            { Log(1.0 + Exp(X)), "Softplus(prediction)" },
            { Log(Exp(X) + 1.0), "Softplus(prediction)" },
            { Log1p(Exp(X)), "Softplus(prediction)" },
            { Exp(LogSigmoid(X)), "Sigmoid(prediction)" },
            { Exp(LogSoftmax(X)), "Softmax(prediction)" },
            { Log(Exp(X)), "prediction" },
        };

    [Fact]
    public void RewritesComposeToAFixpoint()
    {
        // 1 - sigmoid(-x) → sigmoid(-(-x)) → sigmoid(x), then log → logsigmoid.
        Assert.Equal("LogSigmoid(prediction)", S(Log(1.0 - Sigmoid(-X))));
        // log → log-softmax, then exp of log-softmax → softmax, then log again → log-softmax.
        Assert.Equal("LogSoftmax(prediction)", S(Log(Exp(Log(Softmax(X))))));
        // Folding exposes an identity, which exposes a stable rewrite.
        Assert.Equal("LogSigmoid(prediction)", S(Log((new Const(3) - new Const(2)) * Sigmoid(X * (new Const(2) - new Const(1))))));
        Assert.Equal("Softplus(prediction)", S(Log((new Const(0.5) + new Const(0.5)) + Exp(X + 0.0))));
        // Simplify is idempotent.
        var once = Simplifier.Simplify(Log(1.0 - Sigmoid(X)) + Log(Softmax(X) * 1.0));
        Assert.Equal(once, Simplifier.Simplify(once));
    }

    // ---------------------------------------------------------------- one-hot products

    [Fact]
    public void ClassSumOfAOneHotProductIsAGather()
    {
        Assert.Equal("SelectTarget(LogSoftmax(prediction))", S(Sum(LogSoftmax(X) * OneHot(Target), Over.Classes)));
        Assert.Equal("SelectTarget(LogSoftmax(prediction))", S(Sum(OneHot(Target) * LogSoftmax(X), Over.Classes)));
        Assert.Equal(
            "SelectTarget(classWeights * LogSoftmax(prediction))",
            S(Sum(ClassWeights * LogSoftmax(X) * OneHot(Target), Over.Classes))
        );
        Assert.Equal(
            "SelectTarget(classWeights * LogSoftmax(prediction))",
            S(Sum(ClassWeights * OneHot(Target) * LogSoftmax(X), Over.Classes))
        );
        // The log-softmax rewrite happens inside the gather's operand.
        Assert.Equal("-SelectTarget(LogSoftmax(prediction))", S(-Sum(Log(Softmax(X)) * OneHot(Target), Over.Classes)));
    }

    [Fact]
    public void SignsAndDivisorsMoveIntoTheGather()
    {
        Assert.Equal("SelectTarget(-LogSoftmax(prediction))", S(Sum(-LogSoftmax(X) * OneHot(Target), Over.Classes)));
        Assert.Equal("SelectTarget(-(classWeights * prediction))", S(Sum(-(ClassWeights * X * OneHot(Target)), Over.Classes)));
        Assert.Equal("SelectTarget(prediction / 2)", S(Sum(X * OneHot(Target) / 2.0, Over.Classes)));
    }

    [Fact]
    public void OtherAxesStayAsASumOfTheGather()
    {
        Assert.Equal(
            "Sum(SelectTarget(LogSoftmax(prediction)), Over.Batch | Over.Spatial)",
            S(Sum(LogSoftmax(X) * OneHot(Target), Over.All))
        );
        Assert.Equal("Sum(SelectTarget(Softmax(prediction)), Over.Spatial)", S(Sum(Softmax(X) * OneHot(Target), Over.Sample)));
        // A mean divides the same sum by the count the mean would use.
        Assert.Equal(
            "Sum(SelectTarget(Softmax(prediction)), Over.Spatial) / Count(Over.Sample)",
            S(Mean(Softmax(X) * OneHot(Target), Over.Sample))
        );
        Assert.Equal("SelectTarget(Softmax(prediction)) / C", S(Mean(Softmax(X) * OneHot(Target), Over.Classes)));
    }

    [Fact]
    public void ProductsNotSummedOverClassesStay()
    {
        Assert.Equal("Sum(Softmax(prediction) * OneHot(target), Over.Spatial)", S(Sum(Softmax(X) * OneHot(Target), Over.Spatial)));
        Assert.Equal("Softmax(prediction) * OneHot(target)", S(Softmax(X) * OneHot(Target)));
        // A one-hot inside a sum, not a factor of the product, stays too.
        Assert.Equal("Sum(prediction * (OneHot(target) + 1), Over.Classes)", S(Sum(X * (OneHot(Target) + 1.0), Over.Classes)));
        // A bare one-hot summed over classes has nothing to gather.
        Assert.Equal("Sum(OneHot(target), Over.Classes)", S(Sum(OneHot(Target), Over.Classes)));
    }

    [Fact]
    public void ABareTargetFactorCountsAsTheOneHotExceptForBinarySpecs()
    {
        var dice = Sum(Softmax(X) * Target, Over.Sample);
        Assert.Equal("Sum(SelectTarget(Softmax(prediction)), Over.Spatial)", S(dice));
        Assert.Equal("Sum(SelectTarget(Softmax(prediction)), Over.Spatial)", Printer.Print(Simplifier.Simplify(dice, LossTask.Multiclass)));
        var binary = Sum(Sigmoid(X) * Target, Over.Sample);
        Assert.Equal("Sum(Sigmoid(prediction) * target, Over.Sample)", Printer.Print(Simplifier.Simplify(binary, LossTask.Binary)));
        // An explicit OneHot is rewritten for any task.
        Assert.Equal(
            "SelectTarget(Sigmoid(prediction))",
            Printer.Print(Simplifier.Simplify(Sum(Sigmoid(X) * OneHot(Target), Over.Classes), LossTask.Binary))
        );
    }

    [Fact]
    public void ReductionsOverAbsentAxesDisappear()
    {
        Assert.Equal("Sum(prediction, Over.Spatial)", S(Sum(Sum(X, Over.Spatial), Over.Spatial)));
        Assert.Equal("2", S(Mean(2.0, Over.All)));
        Assert.Equal("classWeights", S(Sum(ClassWeights, Over.Spatial)));
    }

    // ---------------------------------------------------------------- robustness

    private sealed record Foreign(Expr Inner) : Expr;

    [Fact]
    public void NeverThrowsAndReturnsUnknownNodesUnchanged()
    {
        var odd = Log(Sigmoid(new Foreign(X)));
        Assert.Same(odd, Simplifier.Simplify(odd));
        Assert.Null(Simplifier.Simplify(null!));
        var weighted = WeightedMean(Sum(X * OneHot(Target), Over.Classes), Sum(ClassWeights * OneHot(Target), Over.Classes));
        Assert.Equal("WeightedMean(SelectTarget(prediction), SelectTarget(classWeights))", S(weighted));
        // WeightedMean in the wrong place is left for the checker to report.
        Assert.Equal("1 + WeightedMean(prediction, classWeights)", S(1.0 + WeightedMean(X + 0.0, ClassWeights)));
    }

    // ---------------------------------------------------------------- values are preserved

    public static IEnumerable<object[]> MulticlassSpecs()
    {
        var cases = new (string Name, Expr Spec)[]
        {
            ("nll", -Sum(Log(Softmax(X)) * OneHot(Target), Over.Classes)),
            ("weighted ce", Sum(ClassWeights * OneHot(Target) * -LogSoftmax(X), Over.All)),
            (
                "weighted mean",
                WeightedMean(
                    -Sum(ClassWeights * OneHot(Target) * LogSoftmax(X), Over.Classes),
                    Sum(ClassWeights * OneHot(Target), Over.Classes)
                )
            ),
            ("mean of bare target", Mean(Softmax(X) * Target, Over.Sample)),
            ("ratio", Sum(OneHot(Target) * Exp(LogSoftmax(X)), Over.Classes | Over.Spatial) / (Sum(Softmax(X), Over.Sample) + 1.0)),
            ("divided and negated", Sum(-(Softmax(X) * OneHot(Target)) / (2.0 + Sigmoid(X)), Over.Classes)),
            (
                "dice",
                1.0 - (2.0 * Sum(Softmax(X) * Target, Over.Sample) + 1.0) / (Sum(Softmax(X), Over.Sample) + Sum(Target, Over.Sample) + 1.0)
            ),
            ("focal", -Sum(Pow(1.0 - Exp(LogSoftmax(X)), 2.0) * LogSoftmax(X) * OneHot(Target), Over.Classes)),
            (
                "stable forms",
                Log(1.0 - Sigmoid(X)) + Log(Sigmoid(X)) + Log(1.0 + Exp(X)) + Log1p(Exp(-X)) + Log(Exp(X)) * 1.0 + 0.0 - (-(-X))
            ),
            // The interpreter reads a choice's test as a constant (the runtime spec method has decided it).
            ("constant choice", new Cond(new Const(1), Pow(Sigmoid(X), 1.0) / 1.0, X)),
            ("batch and classes", Mean(Sum(X * OneHot(Target), Over.Batch | Over.Classes), Over.Spatial)),
            (
                "tversky per class",
                Sum(Sigmoid(X) * Target, Over.Spatial)
                    / (
                        Sum(Sigmoid(X) * Target, Over.Spatial)
                        + 0.3 * Sum(Sigmoid(X) * (1.0 - Target), Over.Spatial)
                        + 0.7 * Sum((1.0 - Sigmoid(X)) * Target, Over.Spatial)
                        + 1.0
                    )
            ),
        };
        foreach (var (name, spec) in cases)
        foreach (var form in new[] { TargetForm.Index, TargetForm.Soft })
        foreach (var masked in new[] { false, true })
            yield return new object[] { name, spec, form, masked };
    }

    [Theory]
    [MemberData(nameof(MulticlassSpecs))]
    public void SimplifiedMulticlassSpecsEvaluateToTheSameValues(string name, Expr spec, TargetForm form, bool masked)
    {
        using var scope = NewDisposeScope();
        var ctx = CoreTestInputs.Context(LossTask.Multiclass, form, masked, weights: true, seed: name.Length * 7 + (int)form);
        var simplified = Simplifier.Simplify(spec);
        Assert.NotEqual(spec, simplified);
        CoreTestInputs.AssertSimplifyPreserves(spec, ctx, name, simplified);
    }

    [Fact]
    public void TheGatherRewriteIsExercisedWithIndexTargetsAndAMask()
    {
        using var scope = NewDisposeScope();
        var ctx = CoreTestInputs.Context(LossTask.Multiclass, TargetForm.Index, masked: true, weights: true, seed: 11);
        Assert.NotNull(ctx.TargetIndex);
        Assert.NotNull(ctx.Mask);
        var spec = Sum(ClassWeights * LogSoftmax(X) * OneHot(Target), Over.All);
        var simplified = Simplifier.Simplify(spec);
        Assert.True(Structure.Any(simplified, n => n is SelectTarget));
        Assert.False(Structure.Any(simplified, n => n is OneHot));
        CoreTestInputs.AssertSimplifyPreserves(spec, ctx, "masked gather", simplified);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SimplifiedBinarySpecsEvaluateToTheSameValues(bool masked)
    {
        using var scope = NewDisposeScope();
        var ctx = CoreTestInputs.Context(LossTask.Binary, TargetForm.Soft, masked, weights: false, seed: 5);
        var p = Sigmoid(X);
        var bce = -(Target * Log(p) + (1.0 - Target) * Log(1.0 - p));
        var tversky =
            1.0
            - (Sum(p * Target, Over.Spatial) + 1.0)
                / (
                    Sum(p * Target, Over.Spatial)
                    + 0.3 * Sum(p * (1.0 - Target), Over.Spatial)
                    + 0.7 * Sum((1.0 - p) * Target, Over.Spatial)
                    + 1.0
                );
        var sample = Sum(p * Target, Over.Sample) / (Sum(p + Target, Over.Sample) + 1.0);
        foreach (var (name, spec) in new[] { ("bce", bce), ("tversky", tversky), ("sample", sample) })
        {
            CoreTestInputs.AssertSimplifyPreserves(spec, ctx, name, Simplifier.Simplify(spec, LossTask.Binary));
            CoreTestInputs.AssertSimplifyPreserves(spec, ctx, name + " (task-agnostic)");
        }
    }

    // Random trees over the DSL: every simplification of them evaluates like the original.
    [Fact]
    public void RandomExpressionsKeepTheirValues()
    {
        using var scope = NewDisposeScope();
        var contexts = new[]
        {
            CoreTestInputs.Context(LossTask.Multiclass, TargetForm.Index, masked: true, weights: true, seed: 21),
            CoreTestInputs.Context(LossTask.Multiclass, TargetForm.Soft, masked: false, weights: true, seed: 22),
        };
        var rng = new Random(1234);
        var changed = 0;
        for (var i = 0; i < 300; i++)
        {
            var spec = RandomExpr(rng, 4);
            var simplified = Simplifier.Simplify(spec);
            if (!simplified.Equals(spec))
                changed++;
            foreach (var ctx in contexts)
            {
                using var inner = NewDisposeScope();
                CoreTestInputs.AssertSimplifyPreserves(spec, ctx, $"#{i} {Printer.Print(spec)}", simplified, tolerance: 1e-10);
            }
        }
        // The generator must actually exercise the rewrites.
        Assert.True(changed > 100, $"only {changed} of 300 random expressions changed");
    }

    // Branches with the same axes: a reduction of a choice means the reduction of the chosen branch,
    // which the interpreter only computes that way when both branches have the same axes.
    private static Expr ConstantChoice(Random rng, Expr a)
    {
        var test = new Const(rng.Next(2));
        return rng.Next(2) == 0 ? new Cond(test, a, Sigmoid(a)) : new Cond(test, Sigmoid(a), a);
    }

    // Values stay moderate (no exp of exp): sums of bounded terms, divisions by values >= 1.
    private static Expr RandomExpr(Random rng, int depth)
    {
        if (depth == 0 || rng.NextDouble() < 0.15)
        {
            return rng.Next(6) switch
            {
                0 => X,
                1 => Target,
                2 => OneHot(Target),
                3 => ClassWeights,
                4 => new Const(new[] { 0.0, 1.0, 2.0, 0.5 }[rng.Next(4)]),
                _ => Sigmoid(X),
            };
        }
        Expr Sub() => RandomExpr(rng, depth - 1);
        var overs = new[] { Over.Classes, Over.Spatial, Over.Sample, Over.All, Over.Batch | Over.Classes };
        return rng.Next(20) switch
        {
            0 => Sub() + Sub(),
            1 => Sub() - Sub(),
            2 => Sub() * Sub(),
            3 => Sub() / (1.0 + Exp(Sigmoid(Sub()))),
            4 => Sum(Sub() * OneHot(Target), overs[rng.Next(overs.Length)]),
            5 => Mean(Sub() * Target * Sub(), overs[rng.Next(overs.Length)]),
            6 => Sum(Sub(), overs[rng.Next(overs.Length)]) / (Count(Over.All) + 0.0),
            7 => Log(Sigmoid(Sub())),
            // 1 - sigmoid(x) cancels for large x in the original: keep x bounded.
            8 => Log(1.0 - Sigmoid(Sigmoid(Sub()))),
            9 => Log(Softmax(Sigmoid(Sub()) + X)),
            10 => Log(1.0 + Exp(Sigmoid(Sub()))),
            11 => Log1p(Exp(-Sigmoid(Sub()))),
            12 => Exp(LogSigmoid(Sub())),
            13 => Exp(LogSoftmax(X * Sigmoid(Sub()))),
            14 => Log(Exp(Sigmoid(Sub()))),
            15 => -(-Sub()),
            16 => Sub() * 1.0 + 0.0,
            17 => Pow(Sub(), 1.0) / 1.0,
            18 => ConstantChoice(rng, Sub()),
            _ => Sigmoid(Sub()) * (new Const(2) - new Const(1)),
        };
    }
}
