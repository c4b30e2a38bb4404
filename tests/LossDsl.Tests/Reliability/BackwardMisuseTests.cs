using System;
using System.Collections;
using System.Linq;
using System.Reflection;
using LossDsl.Tests.EndToEnd;
using LossDsl.Tests.Specs;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Reliability;

/// <summary>
/// What trainers do to a loss's graph besides one plain backward: a second backward (with and without
/// retain_graph), autograd.grad then backward, create_graph for a gradient penalty, a target modified in
/// place before the backward, strided inputs, rejected inputs. None may end the process or give a wrong
/// gradient. References are the interpreter's autograd in float64 (1e-10: the same formulas, only rounding
/// differs) or the float32 kernel's own first gradient (exact equality: the same computation again).
/// </summary>
[Collection(nameof(Soak.SoakCollection))] // counts TorchSharp's process-wide autograd nodes: no test runs beside it
public class BackwardMisuseTests
{
    private static (Tensor X, Tensor T) Binary(ScalarType dtype, int seed = 1)
    {
        var g = new Generator((ulong)seed);
        var x = randn(new long[] { 2, 1, 8, 16 }, generator: g, dtype: dtype) * 3;
        var t = (rand(new long[] { 2, 1, 8, 16 }, generator: g) > 0.7).to(dtype);
        return (x, t);
    }

    private static Tensor GradOnce(LossModule loss, Tensor x, Tensor t)
    {
        var xg = x.detach().requires_grad_(true);
        loss.forward(xg, t).backward();
        return xg.grad!.detach().clone();
    }

    public static TheoryData<string, string> Paths() =>
        new()
        {
            { "kernel", "float32" },
            { "torchsharp", "float64" },
            { "torchsharp", "float32" },
        };

    private static LossModule Bce(string path)
    {
        return new BceLoss(posWeight: 3.0) { Mode = path == "torchsharp" ? ExecutionMode.TorchSharp : ExecutionMode.Auto };
    }

    private static ScalarType Type(string dtype) => dtype == "float64" ? float64 : float32;

    private static void AssertEqual(Tensor expected, Tensor actual, double tol, string what)
    {
        var diff = (expected.to(float64) - actual.to(float64)).abs().max().ToDouble();
        var scale = Math.Max(1.0, expected.to(float64).abs().max().ToDouble());
        Assert.True(diff <= tol * scale, $"{what}: max |diff| {diff:E3} (tolerance {tol * scale:E3})");
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ASecondBackwardComputesTheGradientAgain(string path, string dtype)
    {
        using var loss = Bce(path);
        var (x, t) = Binary(Type(dtype));
        var once = GradOnce(loss, x, t);

        // backward() twice: the gradient accumulates twice, as PyTorch does with retain_graph.
        var xg = x.detach().requires_grad_(true);
        var l = loss.forward(xg, t);
        l.backward();
        l.backward();
        AssertEqual(once * 2, xg.grad!, 1e-6, $"{path}/{dtype} backward twice");

        // backward(retain_graph: true) twice.
        var xr = x.detach().requires_grad_(true);
        var lr = loss.forward(xr, t);
        lr.backward(retain_graph: true);
        lr.backward(retain_graph: true);
        AssertEqual(once * 2, xr.grad!, 1e-6, $"{path}/{dtype} retain_graph twice");

        // autograd.grad(retain_graph) then backward().
        var xa = x.detach().requires_grad_(true);
        var la = loss.forward(xa, t);
        var g = autograd.grad(new[] { la }, new[] { xa }, retain_graph: true)[0];
        la.backward();
        AssertEqual(once, g, 1e-6, $"{path}/{dtype} autograd.grad");
        AssertEqual(once, xa.grad!, 1e-6, $"{path}/{dtype} backward after autograd.grad");
    }

    [Fact]
    public void TwoLossesSharingAGraphBothContribute()
    {
        using var bce = new BceLoss();
        using var dice = new DiceLoss();
        var (x, t) = Binary(float32);
        var bceOnly = GradOnce(bce, x, t);
        var diceOnly = GradOnce(dice, x, t);
        var xg = x.detach().requires_grad_(true);
        var h = xg * 1.0; // a shared upstream node, as a network's output is
        var total = bce.forward(h, t) + dice.forward(h, t);
        total.backward();
        AssertEqual(bceOnly + diceOnly, xg.grad!, 1e-6, "bce + dice");
    }

    [Theory]
    [InlineData("bce")]
    [InlineData("dice")]
    [InlineData("focal")]
    public void CreateGraphGivesADifferentiableGradient(string which)
    {
        // A gradient penalty: ||d loss / d x||² differentiated again. The reference is the interpreter's
        // autograd (float64) through the same spec.
        LossModule Make() =>
            which switch
            {
                "bce" => new BceLoss(posWeight: 2.0),
                "dice" => new DiceLoss(),
                _ => new BinaryFocalLoss(gamma: 2.0),
            };
        using var loss = Make().With(mode: ExecutionMode.TorchSharp);
        var (x, t) = Binary(float64, seed: 7);

        var xg = x.detach().requires_grad_(true);
        var g = autograd.grad(new[] { loss.forward(xg, t) }, new[] { xg }, retain_graph: true, create_graph: true)[0];
        (g * g).sum().backward();

        var xr = x.detach().requires_grad_(true);
        var gr = autograd.grad(new[] { loss.Reference(xr, t) }, new[] { xr }, retain_graph: true, create_graph: true)[0];
        (gr * gr).sum().backward();

        AssertEqual(gr.detach(), g.detach(), 1e-10, $"{which}: first derivative");
        AssertEqual(xr.grad!, xg.grad!, 1e-10, $"{which}: derivative of the gradient penalty");
        Assert.True(xg.grad!.abs().max().ToDouble() > 0, "the second-order gradient is not zero");
    }

    [Fact]
    public void CreateGraphWorksOnTheKernelPathToo()
    {
        using var loss = new BceLoss();
        var (x, t) = Binary(float32, seed: 3);
        var xg = x.detach().requires_grad_(true);
        var g = autograd.grad(new[] { loss.forward(xg, t) }, new[] { xg }, retain_graph: true, create_graph: true)[0];
        Assert.True(g.requires_grad, "the gradient is part of a graph");
        (g * g).sum().backward();
        var xr = x.to(float64).detach().requires_grad_(true);
        var gr = autograd.grad(new[] { loss.Reference(xr, t.to(float64)) }, new[] { xr }, retain_graph: true, create_graph: true)[0];
        (gr * gr).sum().backward();
        AssertEqual(xr.grad!, xg.grad!, 1e-5, "bce kernel path, gradient penalty (float32)");
    }

    [Fact]
    public void ATargetModifiedInPlaceBeforeBackwardIsACatchableError()
    {
        using var loss = Bce("torchsharp");
        var (x, t) = Binary(float64);
        var xg = x.detach().requires_grad_(true);
        var l = loss.forward(xg, t);
        t.fill_(1.0);
        var ex = Assert.ThrowsAny<Exception>(() => l.backward());
        Assert.NotNull(ex.Message);
        Assert.Contains("modified by an inplace operation", FusedLossFunction.LastBackwardError ?? "");
        Assert.Null(xg.grad);
        // The process is alive and the module still works.
        var again = GradOnce(loss, x, t);
        Assert.True(again.isfinite().all().ToBoolean());
    }

    [Fact]
    public void AnInputModifiedInPlaceBeforeASecondBackwardIsACatchableError()
    {
        using var loss = Bce("kernel");
        var (x, t) = Binary(float32);
        var leaf = x.detach().requires_grad_(true);
        var h = leaf * 1.0;
        var l = loss.forward(h, t);
        l.backward(retain_graph: true);
        using (no_grad())
            h.add_(1.0);
        Assert.ThrowsAny<Exception>(() => l.backward());
        Assert.Contains("inplace", FusedLossFunction.LastBackwardError ?? "");
    }

    [Fact]
    public void AStridedInputUsesTheKernelAndIgnoresLaterTargetChanges()
    {
        // A non-contiguous float32 input: the gradient is computed in the forward, so changing the target
        // afterwards cannot change it. Reference: the same loss on a contiguous copy.
        using var loss = new DiceLoss();
        var (x, t) = Binary(float32, seed: 5);
        var expected = GradOnce(loss, x, t.clone());

        var wide = x.detach().transpose(2, 3).contiguous().requires_grad_(true); // N, 1, W, H storage
        var strided = wide.transpose(2, 3); // N, 1, H, W view
        Assert.False(strided.is_contiguous());
        var target = t.clone();
        var l = loss.forward(strided, target);
        target.fill_(0.0);
        l.backward();
        AssertEqual(expected, wide.grad!.transpose(2, 3), 1e-6, "strided input");
    }

    [Fact]
    public void TorchSharpModeHandlesAPerSampleTermPlusAGlobalMean()
    {
        // Sum(…, Over.Spatial) (N, 1) + Mean(…, Over.All) (a scalar): the generated Backward once failed
        // with "Dimension out of range" inside the native callback.
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            using var loss = new SampleTermPlusGlobalMeanLoss(reduction) { Mode = ExecutionMode.TorchSharp };
            var (x, t) = Binary(float64, seed: 11);
            var xg = x.detach().requires_grad_(true);
            var v = loss.forward(xg, t);
            var up = rand(v.shape, dtype: float64) + 0.5;
            (v * up).sum().backward();
            var xr = x.detach().requires_grad_(true);
            (loss.Reference(xr, t) * up).sum().backward();
            AssertEqual(xr.grad!, xg.grad!, 1e-10, $"reduction {reduction}");
        }
    }

    [Fact]
    public void ATensorExponentOfZeroHasAFiniteGradient()
    {
        // Pow(target, sigmoid(x)) with target 0: d/dx is 0 (torch's pow backward), not NaN, on every path.
        var (x, _) = Binary(float32, seed: 13);
        var t = zeros_like(x);
        t[0, 0, 0, 0] = tensor(1.0f);
        foreach (var mode in new[] { ExecutionMode.Auto, ExecutionMode.TorchSharp, ExecutionMode.Autograd })
        {
            using var loss = new TensorExponentLoss { Mode = mode };
            var g = GradOnce(loss, x, t);
            Assert.True(g.isfinite().all().ToBoolean(), $"{mode}: NaN gradient");
            var xr = x.to(float64).detach().requires_grad_(true);
            loss.Reference(xr, t.to(float64)).backward();
            AssertEqual(xr.grad!, g, 1e-5, $"{mode}");
        }
    }

    private static int LiveAutogradNodes()
    {
        var node = typeof(autograd).GetNestedTypes(BindingFlags.NonPublic | BindingFlags.Public).Single(t => t.Name == "Node");
        var field = node.GetField("AliveNodes", BindingFlags.NonPublic | BindingFlags.Static)!;
        var list = (ICollection)field.GetValue(null)!;
        lock (list)
            return list.Count;
    }

    [Fact]
    public void ARejectedInputBuildsNoAutogradNode()
    {
        using var loss = new BceLoss();
        var (x, t) = Binary(float32);
        var xg = x.detach().requires_grad_(true);
        var bad = t.clone();
        bad[0, 0, 0, 0] = tensor(2.0f);
        // Warm up (the first call builds the kernel), then count the nodes TorchSharp keeps alive.
        loss.forward(xg, t).Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = LiveAutogradNodes();
        for (var i = 0; i < 50; i++)
            Assert.Throws<ArgumentException>(() => loss.forward(xg, bad));
        Assert.Equal(before, LiveAutogradNodes());
    }

    [Fact]
    public void NullInputsAreArgumentNullExceptions()
    {
        using var loss = new BceLoss();
        var (x, t) = Binary(float32);
        Assert.Equal("input", Assert.Throws<ArgumentNullException>(() => loss.forward(null!, t)).ParamName);
        Assert.Equal("target", Assert.Throws<ArgumentNullException>(() => loss.forward(x, null!)).ParamName);
    }

    [Fact]
    public void ClassWeightsForALossThatDoesNotUseThemAreRejected()
    {
        using var loss = new BceLoss { ClassWeights = tensor(new[] { 2.0 }) };
        var x = randn(2, 1, 4, 4);
        var ex = Assert.Throws<ArgumentException>(() => loss.forward(x, (rand(2, 1, 4, 4) > 0.5).to(float32)));
        Assert.Contains("does not use class weights", ex.Message);
        Assert.Contains("BceLoss", ex.Message);
        using var ce = new CrossEntropyLoss();
        Assert.True(ce.UsesClassWeights);
    }
}
