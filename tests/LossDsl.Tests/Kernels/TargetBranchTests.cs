using System;
using System.Linq;
using LossDsl.Kernels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Kernels;

/// <summary>
/// A one-pass binary loss branches on each pixel vector's targets (all 0, all 1, or read): the results are those of
/// the pass without the branch, value bit for bit and gradient equal element for element (a zero may change sign),
/// at every vector width, with hard, soft and -0 targets, masks, both reductions, and what the checks find.
/// </summary>
public class TargetBranchTests
{
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var loss in new[] { "bce", "weighted-bce", "binary-focal", "reduced-focal" })
        foreach (var simd in Simd.All)
            data.Add(loss, simd.Bits);
        return data;
    }

    private static LossModule Module(string name) =>
        name switch
        {
            "bce" => new BceLoss(),
            "weighted-bce" => new BceLoss(posWeight: 7.3),
            "binary-focal" => new BinaryFocalLoss(gamma: 2.0, alpha: 0.3),
            "reduced-focal" => new BinaryFocalLoss(gamma: 1.5, reducedThreshold: 0.4),
            _ => throw new ArgumentException(name),
        };

    // Targets laid out in runs of `lanes` pixels: all 0, all 1, mixed, soft, -0 among zeros; then a ragged tail.
    private static Tensor Targets(Generator g, long[] shape, int lanes, bool soft)
    {
        var count = (int)shape.Aggregate(1L, (a, b) => a * b);
        var values = new float[count];
        var random = rand(new long[] { count }, generator: g).data<float>().ToArray();
        for (var i = 0; i < count; i++)
        {
            var run = i / lanes % 5;
            values[i] = run switch
            {
                0 => i % 3 == 0 ? -0f : 0f,
                1 => 1f,
                2 => random[i] > 0.8f ? 1f : 0f,
                3 => soft ? random[i] : 0f,
                _ => 0f,
            };
        }
        return tensor(values, shape);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheBranchGivesTheResultsOfThePassWithoutIt(string name, int bits)
    {
        using var module = Module(name);
        var simd = Simd.OfBits(bits)!;
        var g = new Generator(17);
        var shape = new long[] { 3, 1, 7, 29 * simd.Lanes / 4 + 3 };
        var x = randn(shape, generator: g) * 4;
        foreach (var masked in new[] { false, true })
        foreach (var soft in new[] { false, true })
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum })
        {
            using var scope = NewDisposeScope();
            var t = Targets(g, shape, simd.Lanes, soft);
            var mask = masked ? rand(new long[] { shape[0], shape[2], shape[3] }, generator: g) > 0.25 : null;
            var compiled = Compiler.Compile(module.BuildSpec(), module.Task);
            var branching = CpuKernel.TryCreate(compiled, masked, simd, branch: true)!;
            var plain = CpuKernel.TryCreate(compiled, masked, simd, branch: false)!;
            Assert.True(branching.IsCompiled(1, 1, index: false, check: true));
            using var ctx = LossContext.Create(name, LossTask.Binary, x, t, mask, null, -100, checkValues: false);
            var v1 = branching.Forward(ctx, reduction, check: true, out var g1, out var f1);
            var v2 = plain.Forward(ctx, reduction, check: true, out var g2, out var f2);
            var what = $"{name}, {bits}-bit, masked {masked}, soft {soft}, {reduction}";
            // A -0 target is flagged by its bits (the module then checks it the precise way and accepts it).
            Assert.Equal(f2, f1);
            Assert.True(
                BitConverter.SingleToInt32Bits(v1.item<float>()) == BitConverter.SingleToInt32Bits(v2.item<float>()),
                $"{what}: value {v1.item<float>():R} with the branch, {v2.item<float>():R} without"
            );
            var a = g1.data<float>().ToArray();
            var b = g2.data<float>().ToArray();
            for (var i = 0; i < a.Length; i++)
                Assert.True(a[i] == b[i], $"{what}: gradient element {i} is {a[i]:R} with the branch, {b[i]:R} without");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WhatTheChecksFindIsTheSameWithTheBranch(string name, int bits)
    {
        using var module = Module(name);
        var simd = Simd.OfBits(bits)!;
        var shape = new long[] { 2, 1, 4, 8 * simd.Lanes };
        var compiled = Compiler.Compile(module.BuildSpec(), module.Task);
        var branching = CpuKernel.TryCreate(compiled, false, simd, branch: true)!;
        var plain = CpuKernel.TryCreate(compiled, false, simd, branch: false)!;
        foreach (var (bad, value) in new[] { (0, float.NaN), (0, float.PositiveInfinity), (1, float.NaN), (1, 1.5f) })
        {
            using var scope = NewDisposeScope();
            var x = randn(shape);
            var t = zeros(shape); // every vector all 0: the branch's own body
            (bad == 0 ? x : t)[1, 0, 2, 3] = value;
            using var ctx = LossContext.Create(name, LossTask.Binary, x, t, null, null, -100, checkValues: false);
            branching.Forward(ctx, Reduction.Mean, check: true, out _, out var f1);
            plain.Forward(ctx, Reduction.Mean, check: true, out _, out var f2);
            Assert.NotEqual(CheckFlags.None, f2);
            Assert.Equal(f2, f1);
        }
    }

    [Fact]
    public void OnlyOnePassBinaryLossesBranch()
    {
        // Three bodies (all 0, all 1, read) evaluate the shared exponential once each; a region loss has one body.
        using var focal = new BinaryFocalLoss();
        using var dice = new DiceLoss();
        var simd = Simd.Native;
        var focalKernel = CpuKernel.TryCreate(Compiler.Compile(focal.BuildSpec(), focal.Task), false, simd, branch: true)!;
        var plainKernel = CpuKernel.TryCreate(Compiler.Compile(focal.BuildSpec(), focal.Task), false, simd, branch: false)!;
        Assert.Equal(3, focalKernel.ExponentialsIn(1, 1, index: false));
        Assert.Equal(1, plainKernel.ExponentialsIn(1, 1, index: false));
        var diceKernel = CpuKernel.TryCreate(Compiler.Compile(dice.BuildSpec(), dice.Task), false, simd, keep: false, branch: true)!;
        Assert.Equal(1, diceKernel.ExponentialsIn(1, 1, index: false));
    }
}
