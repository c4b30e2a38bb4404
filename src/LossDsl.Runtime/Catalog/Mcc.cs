using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// Matthews correlation loss (Abhishek and Hamarneh; segmentation_models_pytorch's <c>MCCLoss</c>), binary:
    /// 1 - (tp·tn - fp·fn) / √((tp + fp)(tp + fn)(tn + fp)(tn + fn)) from soft counts, each plus eps.
    /// </summary>
    /// <param name="input">Logits (or probabilities), <c>N, 1, *spatial</c> or <c>N, *spatial</c>.</param>
    /// <param name="target">Hard or soft targets in [0, 1].</param>
    /// <param name="fromLogits">True: sigmoid of the input; false: the input holds probabilities (clamped to [0, 1]).</param>
    /// <param name="batch">Count over the whole batch (as segmentation_models_pytorch does) instead of per sample.</param>
    /// <param name="eps">Added to each of tp, tn, fp, fn.</param>
    [Loss(LossTask.Binary, Name = "MccLoss")]
    public static Expr Mcc(Expr input, Expr target, bool fromLogits = true, bool batch = false, double eps = 1e-5)
    {
        var p = fromLogits ? Sigmoid(input) : Clamp(input, 0.0, 1.0);
        var tp = RegionSum(p * target, batch) + eps;
        var tn = RegionSum((1.0 - p) * (1.0 - target), batch) + eps;
        var fp = RegionSum(p * (1.0 - target), batch) + eps;
        var fn = RegionSum((1.0 - p) * target, batch) + eps;
        var numerator = tp * tn - fp * fn;
        var denominator = Sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
        return 1.0 - numerator / denominator;
    }
}
