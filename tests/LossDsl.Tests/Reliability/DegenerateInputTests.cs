using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Reliability;

/// <summary>Degenerate shapes on every path (training, no-grad, Lovász): a clear ArgumentException, never a crash.</summary>
public class DegenerateInputTests
{
    public static TheoryData<string> Losses() => new() { "bce", "dice", "ce", "lovasz" };

    private static LossFunction Make(string name) =>
        name switch
        {
            "bce" => new BceLoss(),
            "dice" => new DiceLoss(),
            "ce" => new CrossEntropyLoss(),
            _ => new LovaszHingeLoss(),
        };

    [Theory]
    [MemberData(nameof(Losses))]
    public void AnEmptyBatchIsRejected(string name)
    {
        using var loss = Make(name);
        var c = name == "ce" ? 3 : 1;
        foreach (var grad in new[] { true, false })
        {
            var x = zeros(0, c, 4, 4).requires_grad_(grad);
            Tensor t = name == "ce" ? zeros(new long[] { 0, 4, 4 }, dtype: int64) : zeros(0, 1, 4, 4);
            var ex = Assert.Throws<ArgumentException>(() => loss.forward(x, t));
            Assert.Contains("N = 0", ex.Message);
            Assert.Equal("input", ex.ParamName);
        }
    }

    [Fact]
    public void NoClassesIsRejected()
    {
        using var loss = new CrossEntropyLoss();
        var x = zeros(2, 0, 4, 4).requires_grad_(true);
        var ex = Assert.Throws<ArgumentException>(() => loss.forward(x, zeros(new long[] { 2, 4, 4 }, dtype: int64)));
        Assert.Contains("C = 0", ex.Message);
    }

    [Fact]
    public void AnImageWithoutPixelsIsRejected()
    {
        using var loss = new BceLoss();
        var ex = Assert.Throws<ArgumentException>(() => loss.forward(zeros(2, 1, 0, 4).requires_grad_(true), zeros(2, 1, 0, 4)));
        Assert.Contains("no pixels", ex.Message);
    }

    [Theory]
    [MemberData(nameof(Losses))]
    public void AZeroDimensionalInputIsRejected(string name)
    {
        using var loss = Make(name);
        var ex = Assert.Throws<ArgumentException>(() => loss.forward(tensor(0.5f).requires_grad_(true), tensor(1.0f)));
        Assert.Contains("0-dimensional", ex.Message);
    }

    public static TheoryData<string> ClassSelectingLosses()
    {
        var data = new TheoryData<string>();
        foreach (
            var t in typeof(LossModule)
                .Assembly.GetTypes()
                .Where(t => typeof(IClassSelection).IsAssignableFrom(t) && !t.IsInterface && !t.IsAbstract)
        )
            data.Add(t.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(ClassSelectingLosses))]
    public void DroppingTheOnlyChannelIsRejectedOnEveryPath(string name)
    {
        var type = typeof(LossModule).Assembly.GetTypes().Single(t => t.Name == name);
        var ctor = type.GetConstructors().Single();
        var args = ctor.GetParameters().Select(p => p.Name == "includeBackground" ? false : p.DefaultValue).ToArray();
        using var loss = (LossFunction)ctor.Invoke(args);
        Assert.False(((IClassSelection)loss).IncludeBackground);
        foreach (var grad in new[] { true, false })
        {
            var x = randn(2, 1, 4, 4).requires_grad_(grad);
            var ex = Assert.Throws<ArgumentException>(() => loss.forward(x, (rand(2, 1, 4, 4) > 0.5).to(float32)));
            Assert.Contains("single channel", ex.Message);
            Assert.Contains(name, ex.Message);
        }
        // Three channels: channels 1 and 2 are scored, a finite loss with a gradient.
        var x2 = randn(2, 3, 4, 4).requires_grad_(true);
        var v = loss.forward(x2, randint(0, 3, new long[] { 2, 4, 4 }));
        v.backward();
        // (The boundary loss is negative inside the target: a finite value with a gradient is what counts.)
        Assert.True(v.isfinite().ToBoolean() && x2.grad!.abs().sum().ToDouble() > 0, $"{name}: {v.ToDouble()}");
    }
}
