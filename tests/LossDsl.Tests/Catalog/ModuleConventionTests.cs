using System;
using System.Linq;
using LossDsl.Tests.Specs;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// torch.nn conventions: class weights are a registered buffer (moved by <c>.to</c>, saved by
/// <c>state_dict</c>), settings are fixed at construction, and <c>.to</c> works for catalog modules,
/// user-declared modules and combinations. This machine has no GPU, so the moves are dtype casts, which
/// go through the same buffer bookkeeping as device moves.
/// </summary>
public class ModuleConventionTests
{
    [Fact]
    public void ClassWeightsAreABufferInTheStateDict()
    {
        using var loss = new CrossEntropyLoss(classWeights: tensor(new[] { 1.0f, 2.0f, 3.0f }));
        var state = loss.state_dict();
        Assert.True(state.ContainsKey("class_weights"), string.Join(", ", state.Keys));
        Assert.Equal(new[] { 1.0f, 2.0f, 3.0f }, state["class_weights"].data<float>().ToArray());
        Assert.Single(loss.buffers());
    }

    [Fact]
    public void ToMovesTheClassWeights()
    {
        using var loss = new CrossEntropyLoss(classWeights: tensor(new[] { 1.0f, 2.0f, 3.0f }));
        loss.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64, loss.ClassWeights!.dtype);
        loss.to(DeviceType.CPU);
        Assert.Equal(DeviceType.CPU, loss.ClassWeights!.device_type);
        // Still used: the loss is the weighted one.
        var x = randn(2, 3, 4, 4, dtype: float64);
        var t = randint(0, 3, new long[] { 2, 4, 4 });
        using var unweighted = new CrossEntropyLoss();
        Assert.NotEqual(unweighted.forward(x, t).ToDouble(), loss.forward(x, t).ToDouble());
        Assert.Equal(
            nn.functional.cross_entropy(x, t, weight: tensor(new[] { 1.0, 2.0, 3.0 })).ToDouble(),
            loss.forward(x, t).ToDouble(),
            10
        );
    }

    [Fact]
    public void LoadStateDictRestoresTheClassWeights()
    {
        using var trained = new FocalLoss(classWeights: tensor(new[] { 0.5f, 4.0f }));
        using var fresh = new FocalLoss(classWeights: tensor(new[] { 1.0f, 1.0f }));
        fresh.load_state_dict(trained.state_dict());
        Assert.Equal(new[] { 0.5f, 4.0f }, fresh.ClassWeights!.data<float>().ToArray());
    }

    // The constructor checks the weights it is given; a state dict can bring others, so every checked call
    // looks at them again (on the host, read in place) and names the class.
    [Theory]
    [InlineData(float.NaN, false)]
    [InlineData(-2.0f, false)]
    [InlineData(float.PositiveInfinity, true)]
    public void ClassWeightsLoadedFromAStateDictAreCheckedAtEachCall(float bad, bool asFloat64)
    {
        using var loss = new CrossEntropyLoss(classWeights: tensor(new[] { 1.0f, 1.0f, 1.0f }));
        if (asFloat64)
            loss.to(ScalarType.Float64);
        var state = loss.state_dict();
        state["class_weights"][2] = tensor(bad, dtype: state["class_weights"].dtype);
        loss.load_state_dict(state);
        var x = randn(2, 3, 4, 4);
        var t = randint(0, 3, new long[] { 2, 4, 4 });
        var ex = Assert.Throws<ArgumentException>(() => loss.forward(x, t));
        Assert.Contains("classWeights", ex.Message);
        Assert.Contains("for class 2", ex.Message);
    }

    [Fact]
    public void ToWorksForUserModulesAndCombinations()
    {
        using var user = new WeightedCeLoss(classWeights: tensor(new[] { 1.0f, 3.0f }));
        var combined = 0.5 * user + 0.5 * new DiceLoss(activation: Activation.Softmax);
        combined.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64, user.ClassWeights!.dtype);
        var buffers = combined.named_buffers().Select(b => b.name).ToArray();
        Assert.Contains("part0.class_weights", buffers);
        var x = randn(2, 2, 4, 4, dtype: float64).requires_grad_(true);
        var v = combined.forward(x, randint(0, 2, new long[] { 2, 4, 4 }));
        v.backward();
        Assert.True(x.grad!.isfinite().all().ToBoolean());
    }

    [Fact]
    public void SettingsAreFixedAtConstruction()
    {
        foreach (
            var name in new[]
            {
                nameof(LossModule.ClassWeights),
                nameof(LossModule.IgnoreIndex),
                nameof(LossModule.CheckValues),
                nameof(LossModule.Mode),
            }
        )
        {
            var setter = typeof(LossModule).GetProperty(name)!.SetMethod!;
            // init-only: the setter carries the IsExternalInit modifier, so C# accepts it only in initializers.
            Assert.Contains(
                setter.ReturnParameter.GetRequiredCustomModifiers(),
                m => m.FullName == "System.Runtime.CompilerServices.IsExternalInit"
            );
        }
        using var loss = new CrossEntropyLoss
        {
            IgnoreIndex = 255,
            CheckValues = false,
            Mode = ExecutionMode.Autograd,
        };
        Assert.Equal(255, loss.IgnoreIndex);
        Assert.False(loss.CheckValues);
        Assert.Equal(ExecutionMode.Autograd, loss.Mode);
    }
}
