using System;
using System.Globalization;
using LossDsl;
using TorchSharp;
using static TorchSharp.torch;

namespace Trainer;

/// <summary>
/// Trains a small fully convolutional network on sparse synthetic scenes with the catalog's losses:
/// 0.5 · weighted BCE + 0.5 · soft Dice, the BCE's pos_weight estimated from the training labels.
/// </summary>
public static class Program
{
    private const int Epochs = 8,
        BatchSize = 16;

    public static int Main()
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        random.manual_seed(1);
        set_num_threads(Math.Max(1, Environment.ProcessorCount));

        var train = SparseScenes.Generate(192, seed: 1);
        var valid = SparseScenes.Generate(64, seed: 2);

        // Class balance from the data (valid pixels only): pos_weight = #negatives / #positives.
        var posWeight = ClassWeightEstimators.PosWeight(train.Targets, train.Mask);
        var foreground = train.Targets.masked_select(train.Mask.unsqueeze(1)).mean().item<float>();
        Console.WriteLine($"training pixels: {foreground:P2} foreground; pos_weight = {posWeight:F1}");

        using var loss = 0.5 * new BceLoss(posWeight: posWeight) + 0.5 * new DiceLoss();

        using var model = nn.Sequential(
            nn.Conv2d(2, 16, 3, padding: 1),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding: 2, dilation: 2),
            nn.ReLU(),
            nn.Conv2d(16, 1, 1)
        );
        var optimizer = optim.Adam(model.parameters(), 0.01);

        double firstEpochLoss = 0,
            lastEpochLoss = 0;
        for (var epoch = 1; epoch <= Epochs; epoch++)
        {
            model.train();
            var order = randperm(train.Count);
            double total = 0;
            var batches = 0;
            for (long start = 0; start < train.Count; start += BatchSize)
            {
                using var scope = NewDisposeScope();
                var idx = order.narrow(0, start, Math.Min(BatchSize, train.Count - start));
                optimizer.zero_grad();
                var value = loss.forward(model.forward(train.Inputs[idx]), train.Targets[idx], train.Mask[idx]);
                value.backward();
                optimizer.step();
                total += value.item<float>();
                batches++;
            }
            var epochLoss = total / batches;
            if (epoch == 1)
                firstEpochLoss = epochLoss;
            lastEpochLoss = epochLoss;
            var (dice, precision, recall) = Evaluate(model, valid);
            Console.WriteLine(
                $"epoch {epoch}  train loss {epochLoss:F4}  validation dice {dice:F3}  precision {precision:F3}  recall {recall:F3}"
            );
        }
        Console.WriteLine($"train loss {firstEpochLoss:F4} -> {lastEpochLoss:F4}");
        return lastEpochLoss < firstEpochLoss ? 0 : 1;
    }

    // Hard-thresholded Dice, precision and recall over the valid pixels of the whole set.
    private static (double Dice, double Precision, double Recall) Evaluate(nn.Module<Tensor, Tensor> model, SparseScenes set)
    {
        model.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var predicted = model.forward(set.Inputs).gt(0).squeeze(1).logical_and(set.Mask);
        var actual = set.Targets.squeeze(1).gt(0.5).logical_and(set.Mask);
        var tp = predicted.logical_and(actual).sum().item<long>();
        var fp = predicted.sum().item<long>() - tp;
        var fn = actual.sum().item<long>() - tp;
        double Ratio(double a, double b) => b == 0 ? 0 : a / b;
        return (Ratio(2 * tp, 2 * tp + fp + fn), Ratio(tp, tp + fp), Ratio(tp, tp + fn));
    }
}
