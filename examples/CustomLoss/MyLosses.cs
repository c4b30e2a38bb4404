using LossDsl;
using static LossDsl.Dsl;

namespace CustomLoss;

/// <summary>
/// Two losses declared in a few lines each. The generator turns every <c>[Loss]</c> method into a
/// module (<c>MyFocalTverskyLoss</c>, <c>MyLogCoshDiceLoss</c>) and a functional form
/// (<c>MyLosses.MyFocalTverskyLoss(input, target, …)</c>); the method itself still builds the
/// expression the reference interpreter evaluates.
/// </summary>
public static partial class MyLosses
{
    /// <summary>
    /// Focal Tversky (Abraham and Khan, 2019): (1 - TI)^γ per sample, where the Tversky index
    /// TI = (tp + s) / (tp + α fp + β fn + s). β &gt; α punishes missed foreground more than false alarms;
    /// γ &lt; 1 keeps the gradient large when the index is already high; the floor on 1 - TI keeps the
    /// derivative γ·(1 - TI)^(γ-1) finite at a perfect prediction.
    /// </summary>
    [Loss(LossTask.Binary)]
    public static Expr MyFocalTversky(
        Expr logits,
        Expr target,
        double alpha = 0.3,
        double beta = 0.7,
        double gamma = 0.75,
        double smooth = 1.0
    )
    {
        var p = Sigmoid(logits);
        var tp = Sum(p * target, Over.Spatial);
        var fp = Sum(p * (1 - target), Over.Spatial);
        var fn = Sum((1 - p) * target, Over.Spatial);
        var index = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth);
        return Pow(Max(1 - index, 1e-12), gamma);
    }

    /// <summary>Log-cosh Dice (Jadon, 2020): log(cosh(1 - Dice)) per sample, a smoothed Dice loss.</summary>
    [Loss(LossTask.Binary)]
    public static Expr MyLogCoshDice(Expr logits, Expr target, double smooth = 1.0)
    {
        var p = Sigmoid(logits);
        var dice = (2 * Sum(p * target, Over.Spatial) + smooth) / (Sum(p, Over.Spatial) + Sum(target, Over.Spatial) + smooth);
        return LogCosh(1 - dice);
    }
}
