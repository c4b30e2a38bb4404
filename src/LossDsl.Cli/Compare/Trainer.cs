using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>How every network of a task is built and trained (the same for every loss and seed).</summary>
/// <param name="MaxEpochs">The epoch cap: passes over the training split at most.</param>
/// <param name="Patience">Early stopping: stop when the validation headline score has not improved for this many epochs.</param>
/// <param name="BatchSize">Images per optimiser step.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="BaseChannels">U-Net channels at full resolution (doubling per level).</param>
/// <param name="Levels">U-Net resolution levels.</param>
/// <param name="CropWidth">Train on random crops this wide (0: whole images); evaluation always uses whole images.</param>
/// <param name="FinalLearningRateShare">The learning rate follows a cosine from <paramref name="LearningRate"/> at epoch 1 down to this share of it at the cap.</param>
internal sealed record TrainingPlan(
    int MaxEpochs,
    int Patience,
    int BatchSize,
    double LearningRate,
    int BaseChannels,
    int Levels,
    int CropWidth,
    double FinalLearningRateShare = 0.02
)
{
    /// <summary>
    /// Patience for a cap: a third of the cap, at least <see cref="MinPatience"/> epochs (so a run
    /// that has not started to find the foreground yet, or is crossing a plateau, is not stopped early).
    /// </summary>
    public static int PatienceFor(int maxEpochs) => Math.Max(MinPatience, (maxEpochs + 2) / 3);

    /// <summary>Smallest patience.</summary>
    public const int MinPatience = 6;
}

/// <summary>Progress of one training run, reported after each epoch.</summary>
internal sealed record EpochProgress(
    string Loss,
    int Seed,
    int Epoch,
    int MaxEpochs,
    double TrainLoss,
    double ValidationScore,
    double Seconds
);

/// <summary>The outcome of training one network with one loss and one seed.</summary>
/// <param name="Loss">The loss's CLI name.</param>
/// <param name="Seed">The training seed.</param>
/// <param name="EpochLoss">Mean training loss per epoch run.</param>
/// <param name="EpochValidationScore">Validation headline score after each epoch run (untuned rule).</param>
/// <param name="EpochValidationTuned">Validation headline score after each epoch run with the rule tuned on it (what selects the kept epoch).</param>
/// <param name="BestEpoch">The epoch (1-based) whose weights were kept: the best tuned validation score, the first on ties.</param>
/// <param name="SecondsPerEpoch">Training time per epoch (without evaluation).</param>
/// <param name="Rule">The decision rule tuned on the validation split at the kept epoch.</param>
/// <param name="Test">Test counts per image of the kept weights, untuned rule (threshold 0.5 / arg-max).</param>
/// <param name="TestTuned">Test counts per image of the kept weights with <paramref name="Rule"/>.</param>
/// <param name="Previews">Predicted class indices (H·W bytes, untuned rule) of the preview test images, when asked for.</param>
/// <param name="WallSeconds">The whole run: building, training, validating, scoring.</param>
internal sealed record RunResult(
    string Loss,
    int Seed,
    ImmutableArray<double> EpochLoss,
    ImmutableArray<double> EpochValidationScore,
    ImmutableArray<double> EpochValidationTuned,
    int BestEpoch,
    double SecondsPerEpoch,
    DecisionRule Rule,
    ImageCounts Test,
    ImageCounts TestTuned,
    ImmutableArray<byte[]> Previews,
    double WallSeconds = 0
)
{
    /// <summary>Epochs trained (early stopping or the cap).</summary>
    public int EpochsRun => EpochLoss.Length;

    /// <summary>Validation headline score of the kept weights, untuned rule.</summary>
    public double ValidationBest => EpochValidationScore[BestEpoch - 1];

    /// <summary>Validation headline score of the kept weights with the tuned rule.</summary>
    public double ValidationTuned => EpochValidationTuned[BestEpoch - 1];

    /// <summary>Test scores per class, pooled over the test images, untuned rule.</summary>
    public ImmutableArray<ClassScores> Scores => Test.AllScores();

    /// <summary>Test scores per class with the tuned rule.</summary>
    public ImmutableArray<ClassScores> TunedScores => TestTuned.AllScores();
}

/// <summary>
/// Trains the U-Net with one loss. Everything that could differ between losses is fixed by the
/// seed: the initial weights (torch.manual_seed before construction), the batch order, the crops
/// and the flips (a System.Random with the same seed). So for one seed every loss starts from the
/// very same network and sees the very same batches; only the loss differs. After each epoch the
/// validation split is scored; the weights of the best epoch are kept (a copy of the state dict),
/// training stops when the score has not improved for <see cref="TrainingPlan.Patience"/> epochs or
/// at the cap, and the kept weights are scored once on the test split.
/// </summary>
internal static class Trainer
{
    /// <summary>Trains one network and scores its best validation checkpoint on the test split.</summary>
    public static RunResult Run(
        CompareTask task,
        TaskTensors splits,
        string lossName,
        LossFunction loss,
        int seed,
        TrainingPlan plan,
        int[] previewIndices,
        Action<EpochProgress>? onEpoch,
        Device device
    )
    {
        var wall = Stopwatch.StartNew();
        var train = splits.Train;
        torch.manual_seed(seed);
        using var model = new UNet((int)train.Images.shape[1], task.OutputChannels, plan.BaseChannels, plan.Levels);
        model.to(device);
        using var optimizer = optim.Adam(model.parameters(), lr: plan.LearningRate);
        var schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, plan.MaxEpochs, plan.LearningRate * plan.FinalLearningRateShare);
        var rng = new Random(seed);
        var epochLoss = ImmutableArray.CreateBuilder<double>();
        var epochScore = ImmutableArray.CreateBuilder<double>();
        var epochTuned = ImmutableArray.CreateBuilder<double>();
        var trainSeconds = 0.0;
        var best = (Epoch: 0, Score: double.NegativeInfinity, Rule: DecisionRule.Default(task.Kind, task.NumClasses));
        var kept = new Dictionary<string, Tensor>();
        var val = splits.Validation.Set;
        var untunedRule = DecisionRule.Default(task.Kind, task.NumClasses);
        try
        {
            for (var epoch = 1; epoch <= plan.MaxEpochs; epoch++)
            {
                var watch = Stopwatch.StartNew();
                var mean = TrainEpoch(task, model, optimizer, loss, train, plan, rng, device);
                schedule.step();
                var seconds = watch.Elapsed.TotalSeconds;
                trainSeconds += seconds;
                var (score, tunedScore, rule) = Validate(task, model, splits.Validation, plan.BatchSize, untunedRule);
                epochLoss.Add(mean);
                epochScore.Add(score);
                epochTuned.Add(tunedScore);
                if (tunedScore > best.Score)
                {
                    best = (epoch, tunedScore, rule);
                    Keep(model, kept);
                }
                onEpoch?.Invoke(new EpochProgress(lossName, seed, epoch, plan.MaxEpochs, mean, tunedScore, seconds));
                if (epoch - best.Epoch >= plan.Patience)
                    break;
            }
            Restore(model, kept);
        }
        finally
        {
            foreach (var t in kept.Values)
                t.Dispose();
        }

        // The kept weights, with the rule tuned on validation at that epoch: score the test split once, with both rules.
        var testLogits = Logits(model, splits.Test, plan.BatchSize);
        var test = splits.Test.Set;
        var untuned = untunedRule.Predict(testLogits, test.Count, task.NumClasses);
        var tuned = best.Rule.Predict(testLogits, test.Count, task.NumClasses);
        var pixels = test.PixelsPerImage;
        var previews = previewIndices.Select(i => untuned.AsSpan(i * pixels, pixels).ToArray()).ToImmutableArray();
        return new RunResult(
            lossName,
            seed,
            epochLoss.ToImmutable(),
            epochScore.ToImmutable(),
            epochTuned.ToImmutable(),
            best.Epoch,
            trainSeconds / epochLoss.Count,
            best.Rule,
            ImageCounts.FromPredictions(untuned, test.Labels, test.Valid, test.Count, task.NumClasses),
            ImageCounts.FromPredictions(tuned, test.Labels, test.Valid, test.Count, task.NumClasses),
            previews,
            wall.Elapsed.TotalSeconds
        );
    }

    /// <summary>The validation headline score with the untuned rule, with the rule tuned on it, and that rule.</summary>
    private static (double Untuned, double Tuned, DecisionRule Rule) Validate(
        CompareTask task,
        UNet model,
        SplitTensors split,
        int batchSize,
        DecisionRule untunedRule
    )
    {
        var set = split.Set;
        var logits = Logits(model, split, batchSize);
        var untuned = ImageCounts
            .FromPredictions(untunedRule.Predict(logits, set.Count, task.NumClasses), set.Labels, set.Valid, set.Count, task.NumClasses)
            .Headline(task.ForegroundClasses);
        var rule = Calibration.Tune(task, set.Count, logits, set.Labels, set.Valid);
        var tuned = ImageCounts
            .FromPredictions(rule.Predict(logits, set.Count, task.NumClasses), set.Labels, set.Valid, set.Count, task.NumClasses)
            .Headline(task.ForegroundClasses);
        // The search starts from the untuned rule and only accepts improvements; guard float ties anyway.
        return tuned >= untuned ? (untuned, tuned, rule) : (untuned, untuned, untunedRule);
    }

    /// <summary>
    /// Seconds one epoch of <paramref name="plan"/> takes on this machine, training plus validation:
    /// a throw-away network is trained for one epoch to warm up (first calls allocate, pick kernels and
    /// compile), then three more epochs are timed and the fastest is taken (a burst of other work on a
    /// shared machine only ever makes an epoch slower; sustained load slows all three).
    /// </summary>
    public static double TimeEpoch(CompareTask task, TaskTensors splits, LossFunction loss, TrainingPlan plan, Device device)
    {
        torch.manual_seed(0);
        using var model = new UNet((int)splits.Train.Images.shape[1], task.OutputChannels, plan.BaseChannels, plan.Levels);
        model.to(device);
        using var optimizer = optim.Adam(model.parameters(), lr: plan.LearningRate);
        var rng = new Random(0);
        var untuned = DecisionRule.Default(task.Kind, task.NumClasses);
        TrainEpoch(task, model, optimizer, loss, splits.Train, plan, rng, device);
        Validate(task, model, splits.Validation, plan.BatchSize, untuned);
        var fastest = double.PositiveInfinity;
        for (var k = 0; k < 3; k++)
        {
            var watch = Stopwatch.StartNew();
            TrainEpoch(task, model, optimizer, loss, splits.Train, plan, rng, device);
            Validate(task, model, splits.Validation, plan.BatchSize, untuned);
            fastest = Math.Min(fastest, watch.Elapsed.TotalSeconds);
        }
        return fastest;
    }

    private static double TrainEpoch(
        CompareTask task,
        UNet model,
        optim.Optimizer optimizer,
        LossFunction loss,
        SplitTensors train,
        TrainingPlan plan,
        Random rng,
        Device device
    )
    {
        model.train();
        var width = (int)train.Images.shape[3];
        var crop = plan.CropWidth > 0 && plan.CropWidth < width ? plan.CropWidth : 0;
        var order = Enumerable.Range(0, train.Count).ToArray();
        rng.Shuffle(order);
        double lossSum = 0;
        var batches = 0;
        for (var start = 0; start < order.Length; start += plan.BatchSize)
        {
            using var scope = NewDisposeScope();
            var idx = tensor(order.Skip(start).Take(plan.BatchSize).Select(i => (long)i).ToArray(), device: device);
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
        return lossSum / batches;
    }

    private static void Keep(UNet model, Dictionary<string, Tensor> kept)
    {
        using var _ = no_grad();
        foreach (var (name, t) in model.state_dict())
        {
            if (kept.TryGetValue(name, out var copy))
                copy.copy_(t);
            else
                kept[name] = t.detach().clone();
        }
    }

    private static void Restore(UNet model, Dictionary<string, Tensor> kept)
    {
        using var _ = no_grad();
        foreach (var (name, t) in model.state_dict())
            t.copy_(kept[name]);
    }

    /// <summary>The confusion matrix of the model's predictions on a split (untuned rule), valid pixels only.</summary>
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

    /// <summary>The model's logits on a split, on the host: images × channels × pixels.</summary>
    public static float[] Logits(UNet model, SplitTensors split, int batchSize)
    {
        model.eval();
        using var _ = no_grad();
        float[]? result = null;
        var offset = 0;
        for (var start = 0; start < split.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var length = Math.Min(batchSize, split.Count - start);
            var logits = model.call(split.Images.narrow(0, start, length)).cpu().contiguous();
            result ??= new float[split.Count * (logits.numel() / length)];
            var values = logits.data<float>().ToArray();
            Array.Copy(values, 0, result, offset, values.Length);
            offset += values.Length;
        }
        return result ?? Array.Empty<float>();
    }
}
