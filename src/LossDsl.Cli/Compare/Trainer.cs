using System;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>How every network of a comparison is built and trained (the same for every loss).</summary>
internal sealed record TrainingPlan(int Epochs, int BatchSize, double LearningRate, int BaseChannels, int Levels);

/// <summary>Progress of one training run, reported after each epoch.</summary>
internal sealed record EpochProgress(string Loss, int Seed, int Epoch, int Epochs, double TrainLoss, double HeldOutScore, double Seconds);

/// <summary>The outcome of training one network with one loss and one seed.</summary>
internal sealed record RunResult(
    string Loss,
    int Seed,
    ImmutableArray<double> EpochLoss,
    ImmutableArray<double> EpochHeldOutScore,
    double SecondsPerEpoch,
    Confusion Confusion,
    ImmutableArray<ClassScores> Scores,
    ImmutableArray<byte[]> Previews);

/// <summary>A split as tensors, created once and shared by every run.</summary>
internal sealed class SplitTensors : IDisposable
{
    public SplitTensors(SegmentationSet set)
    {
        Images = set.ImageTensor();
        Labels = set.LabelTensor();
        Valid = set.ValidTensor();
        Count = set.Count;
    }

    public Tensor Images { get; }
    public Tensor Labels { get; }
    public Tensor Valid { get; }
    public int Count { get; }

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        Valid.Dispose();
    }
}

/// <summary>
/// Trains the U-Net with one loss. Everything that could differ between losses is fixed by the
/// seed: the initial weights (torch.manual_seed before construction), the batch order and the
/// flips (a System.Random with the same seed). So for one seed, every loss starts from the very
/// same network and sees the very same batches; only the loss differs.
/// </summary>
internal static class Trainer
{
    public static RunResult Run(CompareTask task, SplitTensors train, SplitTensors heldOut, LossEntry entry,
                                LossFunction loss, int seed, TrainingPlan plan, int[] previewIndices,
                                Action<EpochProgress>? onEpoch)
    {
        torch.manual_seed(seed);
        using var model = new UNet((int)train.Images.shape[1], task.OutputChannels, plan.BaseChannels, plan.Levels);
        using var optimizer = optim.Adam(model.parameters(), lr: plan.LearningRate);
        var rng = new Random(seed);
        var epochLoss = ImmutableArray.CreateBuilder<double>(plan.Epochs);
        var epochScore = ImmutableArray.CreateBuilder<double>(plan.Epochs);
        var trainSeconds = 0.0;
        Confusion confusion = new(task.NumClasses);
        for (var epoch = 1; epoch <= plan.Epochs; epoch++)
        {
            var watch = Stopwatch.StartNew();
            model.train();
            var order = Enumerable.Range(0, train.Count).ToArray();
            rng.Shuffle(order);
            double lossSum = 0;
            var batches = 0;
            for (var start = 0; start < order.Length; start += plan.BatchSize)
            {
                using var scope = NewDisposeScope();
                var idx = tensor(order.Skip(start).Take(plan.BatchSize).Select(i => (long)i).ToArray());
                var x = train.Images.index_select(0, idx);
                var y = train.Labels.index_select(0, idx);
                var m = train.Valid.index_select(0, idx);
                if (rng.NextDouble() < 0.5)
                {
                    x = x.flip(3);
                    y = y.flip(2);
                    m = m.flip(2);
                }
                var logits = model.call(x);
                var target = task.Kind == LossTask.Binary ? y.unsqueeze(1).to(ScalarType.Float32) : y;
                var value = loss.forward(logits, target, m);
                optimizer.zero_grad();
                value.backward();
                optimizer.step();
                lossSum += value.item<float>();
                batches++;
            }
            trainSeconds += watch.Elapsed.TotalSeconds;
            confusion = Evaluate(task, model, heldOut, plan.BatchSize);
            var score = Metrics.Headline(task, confusion);
            epochLoss.Add(lossSum / batches);
            epochScore.Add(score);
            onEpoch?.Invoke(new EpochProgress(entry.Name, seed, epoch, plan.Epochs, lossSum / batches, score, watch.Elapsed.TotalSeconds));
        }
        var previews = Predict(task, model, heldOut, previewIndices);
        return new RunResult(entry.Name, seed, epochLoss.MoveToImmutable(), epochScore.MoveToImmutable(),
            trainSeconds / plan.Epochs, confusion, confusion.AllScores(), previews);
    }

    /// <summary>The confusion matrix of the model's predictions on a split, valid pixels only.</summary>
    public static Confusion Evaluate(CompareTask task, UNet model, SplitTensors split, int batchSize)
    {
        model.eval();
        using var _ = no_grad();
        var confusion = new Confusion(task.NumClasses);
        for (var start = 0; start < split.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var length = Math.Min(batchSize, split.Count - start);
            var logits = model.call(split.Images.narrow(0, start, length));
            confusion.Add(Metrics.Predict(logits, task.Kind), split.Labels.narrow(0, start, length), split.Valid.narrow(0, start, length));
        }
        return confusion;
    }

    private static ImmutableArray<byte[]> Predict(CompareTask task, UNet model, SplitTensors split, int[] indices)
    {
        model.eval();
        using var _ = no_grad();
        var result = ImmutableArray.CreateBuilder<byte[]>(indices.Length);
        foreach (var i in indices)
        {
            using var scope = NewDisposeScope();
            var logits = model.call(split.Images.narrow(0, i, 1));
            result.Add(Metrics.Predict(logits, task.Kind).to(ScalarType.Byte).data<byte>().ToArray());
        }
        return result.MoveToImmutable();
    }
}
