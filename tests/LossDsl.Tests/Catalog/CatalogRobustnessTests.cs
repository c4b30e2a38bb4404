using System;
using System.Collections.Generic;
using System.Linq;
using LossDsl.Tests.EndToEnd;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// Every catalog loss (every variant of its bool and enum options): extreme logits, empty and
/// all-foreground targets, half-precision inputs, and bad inputs with clear messages.
/// </summary>
public class CatalogRobustnessTests
{
    public static IEnumerable<Type> CatalogTypes() => GeneratedParityTests.GeneratedLossTypes().Where(t => t.Namespace == "LossDsl");

    public static TheoryData<string> CatalogNames()
    {
        var data = new TheoryData<string>();
        foreach (var t in CatalogTypes())
            data.Add(t.FullName!);
        return data;
    }

    [Fact]
    public void TheCatalogHasItsLosses()
    {
        var names = CatalogTypes().Select(t => t.Name).ToHashSet();
        foreach (
            var expected in new[]
            {
                "BceLoss",
                "CrossEntropyLoss",
                "BinaryFocalLoss",
                "FocalLoss",
                "DiceLoss",
                "GeneralizedDiceLoss",
                "TverskyLoss",
                "FocalTverskyLoss",
                "BceDiceLoss",
                "DiceCeLoss",
                "DiceFocalLoss",
                "LogCoshDiceLoss",
                "MccLoss",
            }
        )
            Assert.Contains(expected, names);
    }

    private static Type Find(string name) => CatalogTypes().Single(t => t.FullName == name);

    private static (Tensor X, Tensor T) Extreme(LossModule module, string targetKind, ScalarType dtype)
    {
        long n = 2,
            c = module.Task == LossTask.Binary ? 1 : 3,
            h = 4,
            w = 5;
        var sign = (rand(n, c, h, w) > 0.5).to(dtype) * 2 - 1;
        var x = sign * 100.0;
        x = GeneratedParityTests.ForModule(module, x);
        Tensor t = targetKind switch
        {
            "empty" => zeros(n, c, h, w, dtype: dtype),
            "full" => ones(n, c, h, w, dtype: dtype),
            _ => (rand(n, c, h, w) > 0.5).to(dtype),
        };
        if (module.Task == LossTask.Multiclass && targetKind != "random")
        {
            // Per-class targets must be one-hot-like for softmax losses: all mass on one class.
            var k = targetKind == "empty" ? 0 : c - 1;
            t = nn.functional.one_hot(full(new[] { n, h, w }, k, dtype: int64), c).permute(0, 3, 1, 2).to(dtype);
        }
        return (x, t);
    }

    [Theory]
    [MemberData(nameof(CatalogNames))]
    public void ExtremeLogitsAndDegenerateTargetsGiveFiniteValuesAndGradients(string name)
    {
        var type = Find(name);
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        foreach (var (label, module) in GeneratedParityTests.Variants(type, reduction))
            using (module)
                foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
                foreach (var targetKind in new[] { "empty", "full", "random" })
                {
                    using var scope = NewDisposeScope();
                    var (x, t) = Extreme(module, targetKind, dtype);
                    var xg = x.detach().requires_grad_(true);
                    var value = module.forward(xg, t);
                    value.sum().backward();
                    var what = $"{type.Name} [{label}] {reduction} {dtype} target={targetKind}";
                    Assert.True(value.isfinite().all().item<bool>(), what + ": non-finite value");
                    Assert.True(xg.grad!.isfinite().all().item<bool>(), what + ": non-finite gradient");
                }
    }

    [Theory]
    [MemberData(nameof(CatalogNames))]
    public void HalfPrecisionInputsComputeInFloat32(string name)
    {
        var type = Find(name);
        foreach (var (label, module) in GeneratedParityTests.Variants(type, Reduction.Mean))
            using (module)
                foreach (var half in new[] { ScalarType.Float16, ScalarType.BFloat16 })
                {
                    using var scope = NewDisposeScope();
                    var (x64, t64, m) = GeneratedParityTests.Inputs(module.Task, indexTarget: false, masked: true, seed: 3);
                    x64 = GeneratedParityTests.ForModule(module, x64);
                    // The same rounded values in both precisions: the comparison isolates the computation.
                    var xh = x64.to(half);
                    var th = t64.to(half);
                    var reference = module.forward(xh.to(float32), th.to(float32), m).ToDouble();
                    var value = module.forward(xh, th, m);
                    Assert.Equal(ScalarType.Float32, value.dtype);
                    // 1e-3: both compute in float32 from identical inputs; only the path differs.
                    Assert.True(
                        Math.Abs(value.ToDouble() - reference) <= 1e-3 * Math.Max(1, Math.Abs(reference)),
                        $"{type.Name} [{label}] {half}: {value.ToDouble()} vs float32 {reference}"
                    );
                }
    }

    [Theory]
    [MemberData(nameof(CatalogNames))]
    public void BadInputsGiveClearErrors(string name)
    {
        var type = Find(name);
        using var module = GeneratedParityTests.Variants(type, Reduction.Mean).First().Module;
        using var scope = NewDisposeScope();
        var c = module.Task == LossTask.Binary ? 1L : 3L;
        var x = randn(2, c, 4, 5);
        var t = module.Task == LossTask.Binary ? rand(2, 1, 4, 5).gt(0.5).to(float32) : randint(0, c, new long[] { 2, 4, 5 }, dtype: int64);

        void Fails(string fragment, Action call)
        {
            var ex = Assert.Throws<ArgumentException>(call);
            Assert.Contains(fragment, ex.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Contains(module.GetName(), ex.Message);
        }

        Fails(
            "target",
            () => module.forward(x, module.Task == LossTask.Binary ? rand(2, 1, 4, 6) : randint(0, c, new long[] { 2, 4, 6 }, dtype: int64))
        );
        Fails("input", () => module.forward(randint(0, 3, new long[] { 2, c, 4, 5 }, dtype: int64), t));
        Fails("mask", () => module.forward(x, t, ones(2, 3, 3, dtype: @bool)));
        Fails("input", () => module.forward(x.clone().index_put_(tensor(float.NaN), TensorIndex.Single(0)), t));
        if (module.Task == LossTask.Multiclass)
        {
            var x3 = randn(2, c, 4, 5);
            Fails("target", () => module.forward(x3, full(new long[] { 2, 4, 5 }, c, dtype: int64)));
            // The ignore index is not out of range: it is masked.
            var ignored = t.clone();
            ignored[0] = tensor(-100L);
            Assert.True(module.forward(x3, ignored).isfinite().item<bool>());
            if (type.GetConstructors().Single().GetParameters().Any(p => p.Name == "classWeights"))
            {
                module.With(classWeights: ones(c + 1));
                Fails("classWeights", () => module.forward(x3, t));
                module.WithoutClassWeights();
            }
        }
        else
        {
            Fails("target", () => module.forward(x, t * 3));
        }
    }
}
