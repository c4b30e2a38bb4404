using System.Collections.Immutable;
using System.Linq;
using LossDsl.Cli.Compare;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Cli.Tests;

/// <summary>Every registered loss builds, takes the tool's layouts and a mask, and gives a finite loss with gradients.</summary>
public class RegistryTests
{
    public static TheoryData<string, LossTask> Entries()
    {
        var data = new TheoryData<string, LossTask>();
        foreach (var e in LossRegistry.All)
            data.Add(e.Name, e.Task);
        return data;
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Loss_is_finite_and_differentiable_on_the_tools_layouts(string name, LossTask task)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var entry = LossRegistry.Find(task, name)!;
        var classes = task == LossTask.Binary ? 2 : 5;
        var fractions = task == LossTask.Binary ? ImmutableArray.Create(0.99, 0.01) : ImmutableArray.Create(0.7, 0.1, 0.1, 0.07, 0.03);
        var stats = new TrainingStats(fractions, 0.5, 1000);
        using var loss = entry.Create(stats, CPU);
        var cs = entry.CSharp(stats);
        Assert.StartsWith("new ", cs);
        Assert.Contains(loss.GetType().Name, cs);
        var logits = randn(2, task == LossTask.Binary ? 1 : classes, 8, 8).requires_grad_(true);
        var labels = randint(0, classes, new long[] { 2, 8, 8 });
        var target = task == LossTask.Binary ? labels.unsqueeze(1).to(ScalarType.Float32) : labels;
        var mask = rand(2, 8, 8).gt(0.3);
        var value = loss.forward(logits, target, mask);
        Assert.Equal(0, value.dim());
        Assert.True(double.IsFinite(value.item<float>()), $"{name}: {value.item<float>()}");
        value.backward();
        Assert.False(logits.grad!.isnan().any().item<bool>());
        Assert.True(logits.grad.abs().sum().item<float>() > 0, $"{name} has no gradient");
    }

    public static TheoryData<string, LossTask, string> SweepVariants()
    {
        var data = new TheoryData<string, LossTask, string>();
        var binary = new TrainingStats(ImmutableArray.Create(0.99, 0.01), 0.5, 1000);
        var multi = new TrainingStats(ImmutableArray.Create(0.7, 0.1, 0.1, 0.07, 0.03), 0.5, 1000);
        foreach (var e in LossRegistry.All)
        foreach (var v in Sweeps.For(e.Task, e.Name, e.Task == LossTask.Binary ? binary : multi).Variants.Where(v => v.Reuse is null))
            data.Add(e.Name, e.Task, v.Entry.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(SweepVariants))]
    public void Sweep_settings_build_finite_differentiable_losses(string family, LossTask task, string variant)
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var classes = task == LossTask.Binary ? 2 : 5;
        var stats =
            task == LossTask.Binary
                ? new TrainingStats(ImmutableArray.Create(0.99, 0.01), 0.5, 1000)
                : new TrainingStats(ImmutableArray.Create(0.7, 0.1, 0.1, 0.07, 0.03), 0.5, 1000);
        var entry = Sweeps.For(task, family, stats).Variants.Single(v => v.Entry.Name == variant).Entry;
        using var loss = entry.Create(stats, CPU);
        Assert.Contains(loss.GetType().Name, entry.CSharp(stats));
        var logits = randn(2, task == LossTask.Binary ? 1 : classes, 8, 8).requires_grad_(true);
        var labels = randint(0, classes, new long[] { 2, 8, 8 });
        var value = loss.forward(
            logits,
            task == LossTask.Binary ? labels.unsqueeze(1).to(ScalarType.Float32) : labels,
            rand(2, 8, 8).gt(0.3)
        );
        Assert.True(double.IsFinite(value.item<float>()), $"{variant}: {value.item<float>()}");
        value.backward();
        Assert.True(logits.grad!.abs().sum().item<float>() > 0, $"{variant} has no gradient");
    }

    [Fact]
    public void Names_are_unique_per_task_and_the_documented_ones()
    {
        Assert.Equal(new[] { "bce", "weighted-bce", "binary-focal", "dice", "bce-dice", "tversky" }, LossRegistry.Names(LossTask.Binary));
        Assert.Equal(
            new[] { "cross-entropy", "weighted-cross-entropy", "focal", "dice", "generalized-dice", "dice-ce" },
            LossRegistry.Names(LossTask.Multiclass)
        );
    }

    [Fact]
    public void Weighted_bce_uses_the_training_splits_imbalance()
    {
        var stats = new TrainingStats(ImmutableArray.Create(0.99, 0.01), 0.5, 1000);
        Assert.Equal(99.0, stats.PosWeight, 1e-9);
        // Balanced weights 1/(C·f): every class the same total weight.
        var multi = new TrainingStats(ImmutableArray.Create(0.5, 0.25, 0.25, 0.0), 0, 100);
        Assert.Equal(new[] { 0.5, 1.0, 1.0, 1.0 }, multi.BalancedClassWeights.ToArray());
    }
}
