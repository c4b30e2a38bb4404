using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// 1 - Matthews correlation coefficient of soft counts (Abhishek and Hamarneh; as in
    /// segmentation_models_pytorch's MCCLoss, with ε added to every count), over the whole batch by
    /// default or per sample.
    /// </summary>
    [Loss(LossTask.Binary, Name = "MccLoss")]
    public static Expr Mcc(Expr input, Expr target, bool batch = true, double eps = 1e-5)
    {
        Require(eps > 0, "eps must be > 0 (with eps = 0 a batch without positives gives 0/0)");
        var p = Sigmoid(input);
        var tp = (batch ? Sum(p * target, Over.Batch | Over.Spatial) : Sum(p * target, Over.Spatial)) + eps;
        var tn = (batch ? Sum((1 - p) * (1 - target), Over.Batch | Over.Spatial) : Sum((1 - p) * (1 - target), Over.Spatial)) + eps;
        var fp = (batch ? Sum(p * (1 - target), Over.Batch | Over.Spatial) : Sum(p * (1 - target), Over.Spatial)) + eps;
        var fn = (batch ? Sum((1 - p) * target, Over.Batch | Over.Spatial) : Sum((1 - p) * target, Over.Spatial)) + eps;
        return 1 - (tp * tn - fp * fn) / Sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
    }
}
