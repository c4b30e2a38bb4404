using System;
using System.Linq;
using System.Threading;
using LossDsl.Kernels;
using Xunit;

namespace LossDsl.Tests.Kernels;

/// <summary>Kernel passes run on libtorch's OpenMP team (Linux), each chunk exactly once, errors surfaced.</summary>
public class ThreadTeamTests
{
    [Fact]
    public void FindsLibtorchsOpenMpTeamOnLinux()
    {
        using var warm = TorchSharp.torch.ones(4); // libtorch (and its libgomp) loaded
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("LOSSDSL_KERNEL_THREADS") != "dotnet")
            Assert.True(ThreadTeam.UsesOpenMp);
    }

    [Fact]
    public void RunsEveryIndexExactlyOnce()
    {
        foreach (var count in new long[] { 1, 2, 3, 17, 1000 })
        {
            var hits = new int[count];
            ThreadTeam.For(count, k => Interlocked.Increment(ref hits[k]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
        ThreadTeam.For(0, _ => throw new InvalidOperationException("no index to run"));
    }

    [Fact]
    public void SmallWorkRunsOnTheCallingThreadInOrderAndLargeWorkOnTheTeam()
    {
        var caller = Environment.CurrentManagedThreadId;
        var order = new System.Collections.Generic.List<long>();
        ThreadTeam.For(
            8,
            ThreadTeam.SerialBelow - 1,
            k =>
            {
                Assert.Equal(caller, Environment.CurrentManagedThreadId);
                order.Add(k);
            }
        );
        Assert.Equal(Enumerable.Range(0, 8).Select(k => (long)k), order);

        // At the bound, with a chunk that waits for a second one, two threads must run them (not one after the other).
        if (TorchSharp.torch.get_num_threads() < 2)
            return;
        using var bothStarted = new CountdownEvent(2);
        var met = new bool[2];
        ThreadTeam.For(
            2,
            ThreadTeam.SerialBelow,
            k =>
            {
                bothStarted.Signal();
                met[k] = bothStarted.Wait(TimeSpan.FromSeconds(10));
            }
        );
        Assert.All(met, Assert.True);
    }

    [Fact]
    public void RethrowsTheBodysException()
    {
        var ex = Assert.Throws<InvalidOperationException>(() =>
            ThreadTeam.For(
                100,
                k =>
                {
                    if (k == 37)
                        throw new InvalidOperationException("chunk 37");
                }
            )
        );
        Assert.Equal("chunk 37", ex.Message);
    }
}
