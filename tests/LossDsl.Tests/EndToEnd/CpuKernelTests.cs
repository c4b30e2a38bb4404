using System;
using System.Linq;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.EndToEnd;

/// <summary>
/// The fused CPU kernel (float32, chunked, parallel) against the float64 reference interpreter and
/// its autograd, at ordinary and extreme (±50) logits, without, with partial and with empty masks. Tolerance 2e-4 relative to the largest gradient magnitude: the kernel computes in
/// float32 (about 1e-7 per operation, a few dozen operations per element, sums of up to a few
/// thousand elements per chunk combined in float64).
/// </summary>
public class CpuKernelTests(ITestOutputHelper output)
{
    public static TheoryData<string> LossNames() => GeneratedParityTests.LossNames();

    private static (Tensor X, Tensor T, Tensor? M) Inputs(
        LossTask task,
        long[] spatial,
        bool index,
        bool masked,
        int seed,
        double scale = 4
    )
    {
        var g = new Generator((ulong)seed);
        long n = 2,
            c = task == LossTask.Binary ? 1 : 4;
        var shape = new[] { n, c }.Concat(spatial).ToArray();
        var x = (rand(shape, dtype: float64, generator: g) * 2 - 1) * scale;
        Tensor t =
            task == LossTask.Multiclass && index ? randint(0, c, new[] { n }.Concat(spatial).ToArray(), dtype: int64, generator: g)
            : task == LossTask.Multiclass ? softmax(rand(shape, dtype: float64, generator: g) * 4, 1)
            : rand(shape, dtype: float64, generator: g).gt(0.7).to(float64);
        Tensor? m = masked ? rand(new[] { n }.Concat(spatial).ToArray(), dtype: float64, generator: g).gt(0.4) : null;
        return (x, t, m);
    }

    [Theory]
    [MemberData(nameof(LossNames))]
    public void KernelMatchesTheFloat64Reference(string typeName)
    {
        var type = GeneratedParityTests.GeneratedLossTypes().Single(t => t.FullName == typeName);
        var seed = 900;
        var covered = 0;
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum })
        foreach (var (label, module) in GeneratedParityTests.Variants(type, reduction))
            using (module)
            {
                if (!module.HasCpuKernel)
                    continue;
                covered++;
                module.With(mode: ExecutionMode.Kernel);
                foreach (
                    var (spatial, scale) in new[]
                    {
                        (new long[] { 37 }, 4.0),
                        (new long[] { 9, 70 }, 4.0),
                        (new long[] { 3, 5, 40 }, 4.0),
                        (new long[] { 6, 50 }, 50.0),
                    }
                )
                foreach (var maskKind in new[] { "none", "partial", "empty" })
                foreach (var index in module.Task == LossTask.Multiclass ? new[] { true, false } : new[] { false })
                    CompareWithReference(module, $"{type.Name} [{label}] {reduction}", spatial, scale, maskKind, index, seed++);
            }
        output.WriteLine($"{type.Name}: {covered} variants ran on the kernel");
        Assert.True(covered > 0 || !GeneratedParityTests.Variants(type, Reduction.Mean).First().Module.HasCpuKernel);
    }

    // One case of the kernel against the float64 reference (value, gradient, and the value without a gradient).
    private static void CompareWithReference(
        LossModule module,
        string variant,
        long[] spatial,
        double scale,
        string maskKind,
        bool index,
        int seed
    )
    {
        using var scope = NewDisposeScope();
        var masked = maskKind != "none";
        var (x, t, m) = Inputs(module.Task, spatial, index, masked, seed, scale);
        if (maskKind == "empty")
            m = zeros(m!.shape, dtype: @bool);
        x = GeneratedParityTests.ForModule(module, x);
        if (module.Task == LossTask.Multiclass && module.UsesClassWeights)
            module.With(classWeights: tensor(new[] { 0.5f, 2.0f, 1.0f, 3.0f }));
        var what = $"{variant} spatial=[{string.Join(",", spatial)}] scale={scale} mask={maskKind} index={index}";

        var x32 = x.to(float32).requires_grad_(true);
        var t32 = t.dtype == ScalarType.Int64 ? t : t.to(float32);
        var value = module.forward(x32, t32, m);
        value.backward();

        var x64 = x.detach().requires_grad_(true);
        if (module.Task == LossTask.Multiclass && module.UsesClassWeights)
            module.With(classWeights: tensor(new[] { 0.5, 2.0, 1.0, 3.0 }));
        var reference = module.Reference(x64, t, m);
        reference.backward();

        var v = value.ToDouble();
        var rv = reference.ToDouble();
        // The same value when no gradient is wanted (the kernel's value-only passes): the same
        // float32 arithmetic and chunk-order sums, so to float32 rounding of the result.
        using (no_grad())
        {
            var valueOnly = module.forward(x32.detach(), t32, m).ToDouble();
            Assert.True(Math.Abs(valueOnly - v) <= 1e-6 * Math.Max(1, Math.Abs(v)), $"{what}: value without a gradient {valueOnly} vs {v}");
        }
        Assert.True(double.IsFinite(v) && x32.grad!.isfinite().all().item<bool>(), $"{what}: non-finite value or gradient");
        // Where a naive test spec overflows in the reference at extreme logits, the
        // stable compiled form wins: only finite reference entries are compared.
        if (double.IsFinite(rv))
            Assert.True(Math.Abs(v - rv) <= 2e-4 * Math.Max(1, Math.Abs(rv)), $"{what}: value {v} vs {rv}");
        var finite = x64.grad!.isfinite();
        var referenceGrad = x64.grad!.nan_to_num(0, 0, 0);
        var gradScale = Math.Max(1e-12, referenceGrad.abs().max().ToDouble());
        var diff = ((x32.grad!.to(float64) - referenceGrad) * finite.to(float64)).abs().max().ToDouble();
        Assert.True(diff <= 2e-4 * gradScale, $"{what}: gradient differs by {diff:E3} (scale {gradScale:E3})");
    }

    public static TheoryData<string, int> LossesAndWidths()
    {
        var data = new TheoryData<string, int>();
        foreach (var row in LossNames())
        foreach (var simd in global::LossDsl.Kernels.Simd.All)
            data.Add(row, simd.Bits);
        return data;
    }

    [Theory]
    [MemberData(nameof(LossesAndWidths))]
    public void EveryVectorWidthMatchesTheFloat64Reference(string typeName, int bits)
    {
        // The kernels use the widest native width (Simd.Native); the others must give the same results, as on
        // machines where they are the native one. Spatial 9x70: whole vectors at every width and a tail.
        var type = GeneratedParityTests.GeneratedLossTypes().Single(t => t.FullName == typeName);
        var simd = global::LossDsl.Kernels.Simd.OfBits(bits)!;
        var seed = 1900;
        foreach (var (label, module) in GeneratedParityTests.Variants(type, Reduction.Mean))
            using (module)
            {
                if (!module.HasCpuKernel)
                    continue;
                module.UseKernelWidth(simd);
                module.With(mode: ExecutionMode.Kernel);
                Assert.Equal(bits, module.KernelFor(masked: true)!.Simd.Bits);
                foreach (var maskKind in new[] { "none", "partial" })
                foreach (var index in module.Task == LossTask.Multiclass ? new[] { true, false } : new[] { false })
                    CompareWithReference(module, $"{type.Name} [{label}] {bits}-bit", new long[] { 9, 70 }, 4.0, maskKind, index, seed++);
            }
    }

    [Fact]
    public void TheKernelCoversTheTestSpecs()
    {
        foreach (
            var type in new[]
            {
                typeof(Specs.UserTverskyLoss),
                typeof(Specs.NaiveBceLoss),
                typeof(Specs.WeightedCeLoss),
                typeof(Specs.OptionDiceLoss),
                typeof(Specs.MeanFocalLoss),
            }
        )
        {
            using var module = (LossModule)
                Activator.CreateInstance(type, type.GetConstructors().Single().GetParameters().Select(p => p.DefaultValue).ToArray())!;
            Assert.True(module.HasCpuKernel, type.Name);
        }
    }

    [Fact]
    public void KernelResultsAreDeterministic()
    {
        using var scope = NewDisposeScope();
        using var loss = new Specs.OptionDiceLoss { Mode = ExecutionMode.Kernel };
        var (x, t, m) = Inputs(LossTask.Multiclass, new long[] { 64, 300 }, true, true, 5);
        var a = x.to(float32).requires_grad_(true);
        var b = x.to(float32).requires_grad_(true);
        var va = loss.forward(a, t, m);
        va.backward();
        var vb = loss.forward(b, t, m);
        vb.backward();
        Assert.Equal(va.ToSingle(), vb.ToSingle());
        Assert.Equal(0.0, (a.grad! - b.grad!).abs().max().ToDouble());
    }

    [Fact]
    public void ForcingTheKernelWhereItCannotRunSaysWhy()
    {
        using var scope = NewDisposeScope();
        using var loss = new Specs.UserTverskyLoss { Mode = ExecutionMode.Kernel };
        var x = randn(2, 1, 8, 8, dtype: float64).requires_grad_(true);
        var ex = Assert.Throws<InvalidOperationException>(() =>
        {
            loss.forward(x, rand(2, 1, 8, 8, dtype: float64).gt(0.5).to(float64));
        });
        Assert.Contains("float32", ex.Message);
    }

    [Fact]
    public void UpstreamGradientScalesTheKernelGradient()
    {
        using var scope = NewDisposeScope();
        using var loss = new Specs.NaiveBceLoss();
        var x = randn(2, 1, 16, 16).requires_grad_(true);
        var t = rand(2, 1, 16, 16).gt(0.5).to(float32);
        (3 * loss.forward(x, t)).backward();
        var expected = (sigmoid(x.detach()) - t) * 3 / 512.0;
        Assert.True(x.grad!.allclose(expected, rtol: 1e-4, atol: 1e-7));
    }
}
