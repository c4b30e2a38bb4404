using System.Linq;
using LossDsl.Kernels;
using Xunit;
using static LossDsl.Dsl;
using static TorchSharp.torch;
using TargetForm = LossDsl.Tests.Core.CoreTestInputs.TargetForm;

namespace LossDsl.Tests.Core;

/// <summary>
/// Common factors taken out of sums of products (the kernels' gradients): the shape it gives, the bounds it keeps,
/// and the values of every catalog spec unchanged under the float64 interpreter.
/// </summary>
public class FactoringTests
{
    private static readonly Expr A = new Param("a", ParamKind.Real);
    private static readonly Expr B = new Param("b", ParamKind.Real);
    private static readonly Expr X = Prediction;
    private static readonly Expr Y = Target;
    private static readonly Expr Z = Sigmoid(Prediction);

    private static string F(Expr e) => Printer.Print(Factoring.Factor(e));

    [Fact]
    public void SharedFactorsComeOutMostSharedFirst()
    {
        Assert.Equal("a * (b * (prediction - target) + Sigmoid(prediction))", F(A * B * X - A * B * Y + A * Z));
        // Signs inside products and negated terms are carried through.
        Assert.Equal("a * (prediction - target)", F(-(A * -X) - Y * A));
        Assert.Equal("a * -(prediction + target)", F(-(A * X) - A * Y));
        // A term that is the factor alone leaves a 1 behind.
        Assert.Equal("a * (prediction + 1)", F(A * X + A));
    }

    [Fact]
    public void SumsWithoutASharedFactorAndFactorsThatAreSumsStayAsTheyAre()
    {
        Assert.Equal("a * prediction + b * target", F(A * X + B * Y));
        // (a + b) is one factor of both terms, never multiplied out.
        Assert.Equal("(a + b) * (prediction + target)", F((A + B) * X + (A + B) * Y));
    }

    [Fact]
    public void ASumBeyondTheBoundsIsLeftAlone()
    {
        // p1·q1 + … + pn·qn + p1·r: p1 is shared by the first and the last term. Factored while the sum has at
        // most MaxTerms terms, left alone beyond (each nested partial sum shares nothing).
        static Expr Sum(int n)
        {
            Expr sum = new Param("p1", ParamKind.Real) * new Param("q1", ParamKind.Real);
            for (var k = 2; k <= n; k++)
                sum += new Param($"p{k}", ParamKind.Real) * new Param($"q{k}", ParamKind.Real);
            return sum + new Param("p1", ParamKind.Real) * new Param("r", ParamKind.Real);
        }
        var within = Sum(Factoring.MaxTerms - 1);
        Assert.StartsWith("p1 * (q1 + r) + p2 * q2", F(within));
        var beyond = Sum(Factoring.MaxTerms);
        Assert.Equal(Printer.Print(beyond), F(beyond));
    }

    [Theory]
    [InlineData("bce")]
    [InlineData("binary-focal")]
    public void TheKernelGradientHasFewerOperationsFactored(string name)
    {
        var entry = LossCatalog.Find(name)!;
        using var module = (LossModule)entry.Create();
        var compiled = Compiler.Compile(module.BuildSpec(), module.Task);
        var value = compiled.Body is WeightedMean wm ? wm.Value : compiled.Body;
        var gradient = compiled.Gradient!;
        Assert.True(
            Factoring.Operations(value, Factoring.Factor(gradient)) < Factoring.Operations(value, gradient),
            $"{name}: {Factoring.Operations(value, gradient)} operations unfactored, {Factoring.Operations(value, Factoring.Factor(gradient))} factored"
        );
    }

    [Fact]
    public void AKernelPlanHasOneNodeForAProductInEitherOrder()
    {
        var spec = new CompiledSpec(LossTask.Binary, Z * Y, Exp(Y * Z) + Log(Z + Y) * (Y + Z), null);
        var plan = KernelPlan.Build(spec, masked: false);
        Assert.Single(plan.Nodes, n => n.Expr is Binary { Op: BinaryOp.Mul, Left: Unary or Input, Right: Unary or Input });
        Assert.Single(plan.Nodes, n => n.Expr is Binary { Op: BinaryOp.Add, Left: Unary or Input, Right: Unary or Input });
    }

    [Fact]
    public void EveryCatalogSpecKeepsItsValuesFactored()
    {
        // Distributivity alone: float64 results agree to rounding (1e-12 relative, as the simplifier's tests).
        foreach (var entry in LossCatalog.All)
        {
            using var created = entry.Create();
            if (created is not LossModule module)
                continue; // hand-written losses have no spec
            var spec = module.BuildSpec();
            foreach (var masked in new[] { false, true })
            {
                using var scope = NewDisposeScope();
                using var ctx = CoreTestInputs.Context(
                    entry.Task,
                    entry.Task == LossTask.Multiclass ? TargetForm.Index : TargetForm.Soft,
                    masked,
                    weights: module.UsesClassWeights,
                    seed: 11
                );
                CoreTestInputs.AssertSimplifyPreserves(spec, ctx, $"{entry.Name} (masked {masked})", Factoring.Factor(spec));
            }
        }
    }
}
