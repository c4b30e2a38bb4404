using static LossDsl.Dsl;

namespace LossDsl.Properties.Tests.UserSpecs;

/// <summary>
/// Losses declared in this test project, outside the catalog, the way a user declares their own: the kit's
/// laws apply to them exactly as to the catalog's.
/// </summary>
public static partial class UserLosses
{
    /// <summary>Poly-1 loss (Leng et al.): cross-entropy plus epsilon·(1 - p_t).</summary>
    [Loss(LossTask.Multiclass)]
    public static Expr Poly1(Expr logits, Expr target, double epsilon = 1.0)
    {
        var logp = LogSoftmax(logits);
        var ce = -Sum(logp * OneHot(target), Over.Classes);
        var pt = Sum(Exp(logp) * OneHot(target), Over.Classes);
        return ce + epsilon * (1 - pt);
    }

    /// <summary>Soft Jaccard (IoU) loss per sample, with smoothing.</summary>
    [Loss(LossTask.Binary)]
    public static Expr SoftJaccard(Expr logits, Expr target, double smooth = 1.0)
    {
        var p = Sigmoid(logits);
        var intersection = Sum(p * target, Over.Spatial);
        var union = Sum(p * (1 - target), Over.Spatial) + Sum(target, Over.Spatial);
        return 1 - (intersection + smooth) / (union + smooth);
    }

    /// <summary>
    /// A deliberately defective Dice loss without smoothing: 0/0 on an empty mask. The kit's self-tests
    /// check that the laws catch it.
    /// </summary>
    [Loss(LossTask.Binary)]
    public static Expr UnsmoothedDice(Expr logits, Expr target)
    {
        var p = Sigmoid(logits);
        return 1 - 2 * Sum(p * target, Over.Spatial) / Sum(p + target, Over.Spatial);
    }

    /// <summary>
    /// A deliberately defective focal loss that focuses on the wrong term ((p_t)^γ instead of (1 - p_t)^γ):
    /// it grows as the prediction improves, which the monotonicity law must catch.
    /// </summary>
    [Loss(LossTask.Binary)]
    public static Expr InvertedFocal(Expr logits, Expr target, double gamma = 2.0)
    {
        var pt = target * Sigmoid(logits) + (1 - target) * Sigmoid(-logits);
        var ce = target * Softplus(-logits) + (1 - target) * Softplus(logits);
        return Pow(pt, gamma) * ce;
    }

    /// <summary>BCE written literally with Log(1 - p): correct, and made stable by the generator.</summary>
    [Loss(LossTask.Binary)]
    public static Expr LiteralBce(Expr logits, Expr target)
    {
        var p = Sigmoid(logits);
        return -(target * Log(p) + (1 - target) * Log(1 - p));
    }
}
