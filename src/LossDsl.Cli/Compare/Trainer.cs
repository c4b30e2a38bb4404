using System;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>How every network of a comparison is built and trained (the same for every loss).</summary>
/// <param name="Epochs">Passes over the training split.</param>
/// <param name="BatchSize">Images per optimiser step.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="BaseChannels">U-Net channels at full resolution (doubling per level).</param>
/// <param name="Levels">U-Net resolution levels.</param>
/// <param name="CropWidth">Train on random crops this wide (0: whole images); evaluation always uses whole images.</param>
internal sealed record TrainingPlan(int Epochs, int BatchSize, double LearningRate, int BaseChannels, int Levels, int CropWidth);

/// <summary>Progress of one training run, reported after each epoch.</summary>
internal sealed record EpochProgress(string Loss, int Seed, int Epoch, int Epochs, double TrainLoss, double HeldOutScore, double Seconds);

/// <summary>The outcome of training one network with one loss and one seed.</summary>
/// <param name="Loss">The loss's CLI name.</param>
/// <param name="Seed">The training seed.</param>
/// <param name="EpochLoss">Mean training loss per epoch.</param>
/// <param name="EpochHeldOutScore">Held-out headline Dice after each epoch.</param>
/// <param name="SecondsPerEpoch">Training time per epoch (without the held-out evaluation).</param>
/// <param name="Scores">Held-out scores per class after the last epoch.</param>
/// <param name="Previews">Predicted class indices (H·W bytes) of the preview images, when asked for.</param>
internal sealed record RunResult(
    string Loss,
    int Seed,
    ImmutableArray<double> EpochLoss,
    ImmutableArray<double> EpochHeldOutScore,
    double SecondsPerEpoch,
    ImmutableArray<ClassScores> Scores,
    ImmutableArray<byte[]> Previews);

/// <summary>A split as tensors, created once and shared by every run.</summary>
internal sealed class SplitTensors : IDisposable
{
    /// <summary>Copies <paramref name="set"/> into tensors.</summary>
    public SplitTensors(SegmentationSet set)
    {
        Images = set.ImageTensor();
        Labels = set.LabelTensor();
        Valid = set.ValidTensor();
        Count = set.Count;
    }

    /// <summary>Float32 N, C, H, W.</summary>
    public Tensor Images { get; }

    /// <summary>Int64 class indices N, H, W.</summary>
    public Tensor Labels { get; }

    /// <summary>Bool validity mask N, H, W.</summary>
    public Tensor Valid { get; }

    /// <summary>N.</summary>
    public int Count { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        Valid.Dispose();
    }
}

/// <summary>
/// Trains the U-Net with one loss. Everything that could differ between losses is fixed by the
/// seed: the initial weights (torch.manual_seed before construction), the batch order, the crops
/// and the flips (a System.Random with the same seed). So for one seed every loss starts from the
/// very same network and sees the very same batches; only the loss differs.
/// </summary>
internal static class Trainer
{
    /// <summary>Trains one network and scores it on <paramref name="heldOut"/>.</summary>
    public static RunResult Run(CompareTask task, SplitTensors train, SplitTensors heldOut, string lossName,
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
        var width = (int)train.Images.shape[3];
        var crop = plan.CropWidth > 0 && plan.CropWidth < width ? plan.CropWidth : 0;
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
                if (crop > 0)
                {
                    // One crop offset per batch (the batch stays one tensor); a multiple of the
                    // network's downsampling factor, so crops align with pooling cells.
                    var step = 1 << (plan.Levels - 1);
                    var offset = rng.Next((width - crop) / step + 1) * step;
                    x = x.narrow(3, offset, crop);
                    y = y.narrow(2, offset, crop);
                    m = m.narrow(2, offset, crop);
                }
                if (rng.NextDouble() < 0.5)
                {
                    x = x.flip(3);
                    y = y.flip(2);
                    m = m.flip(2);
                }
                var logits = model.call(x.contiguous());
                var target = task.Kind == LossTask.Binary ? y.unsqueeze(1).to(ScalarType.Float32) : y.contiguous();
                var value = loss.forward(logits, target, m.contiguous());
                optimizer.zero_grad();
                value.backward();
                optimizer.step();
                lossSum += value.item<float>();
                batches++;
            }
            trainSeconds += watch.Elapsed.TotalSeconds;
            var seconds = watch.Elapsed.TotalSeconds;
            confusion = Evaluate(task, model, heldOut, plan.BatchSize);
            var score = Metrics.Headline(task, confusion);
            epochLoss.Add(lossSum / batches);
            epochScore.Add(score);
            onEpoch?.Invoke(new EpochProgress(lossName, seed, epoch, plan.Epochs, lossSum / batches, score, seconds));
        }
        var previews = Predict(task, model, heldOut, previewIndices);
        return new RunResult(lossName, seed, epochLoss.MoveToImmutable(), epochScore.MoveToImmutable(),
            trainSeconds / plan.Epochs, confusion.AllScores(), previews);
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
