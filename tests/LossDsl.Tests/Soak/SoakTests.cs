using System;
using System.Diagnostics;
using System.Linq;
using LossDsl.Tests.EndToEnd;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Soak;

/// <summary>
/// Runs the soak tests alone: resident memory is a process-wide measure, and tests running alongside
/// (new threads with their own allocator arenas and OpenMP teams) would move it.
/// </summary>
[CollectionDefinition(nameof(SoakCollection), DisableParallelization = true)]
public sealed class SoakCollection;

/// <summary>
/// Thousands of forward+backward steps of every generated loss, with and without masks, and of failing
/// calls: the number of live TorchSharp tensors must not grow (every temporary is disposed on every path)
/// and neither may the process's resident memory beyond allocator noise.
/// </summary>
[Collection(nameof(SoakCollection))]
public class SoakTests
{
    private const int Steps = 1000;

    private static long LiveTensors => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    private static long RssBytes()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64;
    }

    [Fact]
    public void EveryGeneratedLossLeavesNoTensorBehind()
    {
        var types = GeneratedParityTests.GeneratedLossTypes().ToList();
        Assert.NotEmpty(types);
        var modules = types.SelectMany(t => GeneratedParityTests.Variants(t, Reduction.Mean).Take(1)).Select(v => v.Module).ToList();

        void Step(LossModule module, int i)
        {
            using var scope = NewDisposeScope();
            var (x, t, m) = GeneratedParityTests.Inputs(module.Task, indexTarget: i % 2 == 0, masked: i % 3 != 0, seed: i);
            var xf = x.to(float32).detach().requires_grad_(true);
            var tf = t.dtype == int64 ? t : t.to(float32);
            var maps = GeneratedParityTests.MapsFor(module, x, i)?.ToDictionary(kv => kv.Key, kv => kv.Value.to(float32));
            var loss = GeneratedParityTests.Forward(module, xf, tf, m, maps);
            loss.backward();
        }

        // Warm up: first calls allocate caches (autograd engine, thread pools) that are not leaks.
        foreach (var module in modules)
            for (var i = 0; i < 20; i++)
                Step(module, i);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var liveBefore = LiveTensors;

        // Two equal halves: allocator pools, JIT and GC heap sizing settle in the first; a leak grows
        // the second as much as the first.
        foreach (var module in modules)
            for (var i = 0; i < Steps / 2; i++)
                Step(module, i);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var rssMiddle = RssBytes();
        foreach (var module in modules)
            for (var i = Steps / 2; i < Steps; i++)
                Step(module, i);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var liveAfter = LiveTensors;
        var rssAfter = RssBytes();
        foreach (var m in modules)
            m.Dispose();

        Assert.Equal(liveBefore, liveAfter);
        // Each step allocates a few KB of tensors; leaking even one small tensor per step would add
        // more than 16 MB over the second half's steps (Steps / 2 x modules, about 10 000).
        Assert.True(
            rssAfter - rssMiddle < 16L << 20,
            $"resident memory grew by {(rssAfter - rssMiddle) >> 20} MB over the second {Steps / 2 * modules.Count} steps"
        );
    }

    [Fact]
    public void FailingCallsLeaveNoTensorBehind()
    {
        using var loss = new Specs.UserTverskyLoss();
        void Fail()
        {
            using var scope = NewDisposeScope();
            var x = randn(2, 1, 4, 4);
            var t = ones(2, 1, 4, 5); // wrong shape: throws after normalising the input
            Assert.Throws<ArgumentException>(() =>
            {
                loss.forward(x, t);
            });
            var nan = full(new long[] { 2, 1, 4, 4 }, double.NaN);
            Assert.Throws<ArgumentException>(() =>
            {
                loss.forward(nan, ones(2, 1, 4, 4));
            });
        }
        for (var i = 0; i < 10; i++)
            Fail();
        var before = LiveTensors;
        for (var i = 0; i < 500; i++)
            Fail();
        Assert.Equal(before, LiveTensors);
    }
}
