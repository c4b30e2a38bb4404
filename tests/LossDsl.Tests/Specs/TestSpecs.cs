using static LossDsl.Dsl;

namespace LossDsl.Tests.Specs;

/// <summary>Specs declared outside the catalog, as a user would, compiled by the generator as an analyzer.</summary>
public static partial class TestSpecs
{
    /// <summary>Tversky loss: alpha weighs false positives, beta false negatives.</summary>
    [Loss(LossTask.Binary)]
    public static Expr UserTversky(Expr logits, Expr target, double alpha = 0.3, double beta = 0.7, double smooth = 1.0)
    {
        var p = Sigmoid(logits);
        var tp = Sum(p * target, Over.Spatial);
        var fp = Sum(p * (1 - target), Over.Spatial);
        var fn = Sum((1 - p) * target, Over.Spatial);
        return 1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth);
    }

    /// <summary>Pixel-wise BCE written naively: the simplifier makes it stable.</summary>
    [Loss(LossTask.Binary)]
    public static Expr NaiveBce(Expr logits, Expr target) => -(target * Log(Sigmoid(logits)) + (1 - target) * Log(1 - Sigmoid(logits)));

    /// <summary>A per-sample term plus a mean over everything (a scalar added to an N, 1 value).</summary>
    [Loss(LossTask.Binary)]
    public static Expr SampleTermPlusGlobalMean(Expr logits, Expr target) =>
        Sum(Sigmoid(logits) * target, Over.Spatial) + Mean(Softplus(-logits) * target, Over.All);

    /// <summary>A tensor exponent whose base reaches 0 (empty targets): d/dp p^t at p = 0, t = 0 is 0 by convention.</summary>
    [Loss(LossTask.Binary)]
    public static Expr TensorExponent(Expr logits, Expr target) => Mean(Pow(target, Sigmoid(logits)) * Sigmoid(logits), Over.All);

    /// <summary>Softmax cross-entropy with class weights (PyTorch's weighted mean).</summary>
    [Loss(LossTask.Multiclass)]
    public static Expr WeightedCe(Expr logits, Expr target)
    {
        var nll = -Sum(LogSoftmax(logits) * OneHot(target), Over.Classes);
        var w = Sum(ClassWeights * OneHot(target), Over.Classes);
        return WeightedMean(w * nll, w);
    }

    /// <summary>Soft Dice with construction-time options.</summary>
    [Loss(LossTask.Multiclass)]
    public static Expr OptionDice(Expr logits, Expr target, bool squared = false, bool batch = false, double smooth = 1e-5)
    {
        var p = Softmax(logits);
        var tp = batch ? Sum(p * target, Over.Batch | Over.Spatial) : Sum(p * target, Over.Spatial);
        var pp = squared ? p * p : p;
        var den = batch ? Sum(pp + target, Over.Batch | Over.Spatial) : Sum(pp + target, Over.Spatial);
        return 1 - (2 * tp + smooth) / (den + smooth);
    }

    /// <summary>Focal-style spec using Pow and a mean over classes.</summary>
    [Loss(LossTask.Multiclass)]
    public static Expr MeanFocal(Expr logits, Expr target, double gamma = 2.0)
    {
        var logp = LogSoftmax(logits);
        var p = Exp(logp);
        return Mean(-Pow(1 - p, gamma) * logp * target, Over.Classes) * NumClasses;
    }

    /// <summary>Statement-form options: an enum switch in an if/else chain, an early return, an inlined helper.</summary>
    [Loss(LossTask.Binary)]
    public static Expr Switched(Expr logits, Expr target, Squash squash = Squash.Sigmoid, bool blend = true, int power = 2)
    {
        Expr p;
        if (squash == Squash.Sigmoid)
        {
            p = Sigmoid(logits);
        }
        else if (squash == Squash.Clamped)
        {
            p = Clamp(logits, 0.0, 1.0);
        }
        else
        {
            p = Sigmoid(2 * logits);
        }
        var dice = SoftDice(p, target, 1.0);
        if (!blend)
            return dice;
        var bce = Mean(-(target * LogSigmoid(logits) + (1 - target) * LogSigmoid(-logits)), Over.Spatial);
        bce *= power;
        return 0.5 * dice + 0.5 * bce;
    }

    /// <summary>A helper the generator inlines: soft Dice over the spatial axes.</summary>
    public static Expr SoftDice(Expr p, Expr target, double smooth) =>
        1 - (2 * Sum(p * target, Over.Spatial) + smooth) / (Sum(p + target, Over.Spatial) + smooth);

    /// <summary>Soft Dice of tanh-activated logits mapped to (0, 1): exercises Tanh on every path.</summary>
    [Loss(LossTask.Binary)]
    public static Expr TanhDice(Expr logits, Expr target)
    {
        var p = (Tanh(logits) + 1) / 2;
        return 1 - (2 * Sum(p * target, Over.Spatial) + 1) / (Sum(p + target, Over.Spatial) + 1);
    }

    /// <summary>
    /// A logistic loss whose logit scale is a hyperparameter-only expression: exercises the generated C# forms
    /// (doubles) of the operator table's functions and arithmetic, and their folding.
    /// </summary>
    [Loss(LossTask.Binary)]
    public static Expr ScaledLogistic(Expr logits, Expr target, double gamma = 2.0, double alpha = 0.25)
    {
        var scale = Max(Exp(-gamma) + Pow(alpha, 2), 0.1) / Min(Sqrt(gamma + 1), 3) + Log1p(alpha) * Tanh(gamma);
        return Mean(Softplus(-scale * logits) * target + Softplus(scale * logits) * (1 - target), Over.All);
    }

    /// <summary>
    /// A construction-time choice whose untaken branch divides by a hyperparameter that is 0 by default: the
    /// generated backward must not evaluate that branch's derivative (0 · ∞ would be NaN).
    /// </summary>
    [Loss(LossTask.Binary)]
    public static Expr Thresholded(Expr logits, Expr target, double threshold = 0.0)
    {
        var p = Sigmoid(logits);
        var scaled = threshold > 0 ? Pow(p / threshold, 2) + Log(threshold * p + 1) : p;
        return (scaled - target) * (scaled - target);
    }

    /// <summary>A probit-link squared error, p = Φ(x) = (1 + erf(x / √2)) / 2: exercises Erf on every path.</summary>
    [Loss(LossTask.Binary)]
    public static Expr ProbitBrier(Expr logits, Expr target)
    {
        var p = (1 + Erf(logits * 0.7071067811865476)) / 2;
        return (p - target) * (p - target);
    }

    /// <summary>Kervadec's boundary loss with the signed distance map of the target passed as a per-class map.</summary>
    [Loss(LossTask.Multiclass)]
    public static Expr MapBoundary(Expr logits, Expr target) => Mean(Softmax(logits) * ClassMap("distance"), Over.All);

    /// <summary>BCE with logits, each pixel scaled by a per-pixel map (torch's elementwise weight).</summary>
    [Loss(LossTask.Binary)]
    public static Expr MapWeightedBce(Expr logits, Expr target) => PixelMap("weight") * (Softplus(logits) - logits * target);

    /// <summary>A soft Dice whose false positives cost a per-pixel penalty, plus a per-class prior term: two maps.</summary>
    [Loss(LossTask.Multiclass)]
    public static Expr MapPenalizedDice(Expr logits, Expr target, double smooth = 1.0)
    {
        var p = Softmax(logits);
        var penalty = PixelMap("penalty") * PixelMap("penalty");
        var tp = Sum(p * target, Over.Spatial);
        var fp = Sum(penalty * p * (1 - target), Over.Spatial);
        var fn = Sum((1 - p) * target, Over.Spatial);
        var dice = 1 - (2 * tp + smooth) / (2 * tp + fp + fn + smooth);
        return Mean(dice, Over.Classes) + Mean(ClassMap("prior") * p, Over.Spatial | Over.Classes);
    }

    /// <summary>
    /// MONAI's DiceLoss with <c>other_act=torch.tanh</c>: the soft Dice of tanh(x), whose smoothed denominator can still
    /// reach 0 for some predictions (tanh values have either sign). The catalog's Dice losses do not offer it; a spec
    /// declares it in two lines.
    /// </summary>
    [Loss(LossTask.Binary)]
    public static Expr MonaiTanhDice(Expr logits, Expr target, double smoothNr = 1e-5, double smoothDr = 1e-5)
    {
        var p = Tanh(logits);
        return 1 - (2 * Sum(p * target, Over.Spatial) + smoothNr) / (Sum(p, Over.Spatial) + Sum(target, Over.Spatial) + smoothDr);
    }
}

/// <summary>How <see cref="TestSpecs.Switched"/> squashes its logits.</summary>
public enum Squash
{
    /// <summary>Sigmoid.</summary>
    Sigmoid,

    /// <summary>Clamp to [0, 1].</summary>
    Clamped,

    /// <summary>Sigmoid of twice the logits.</summary>
    Steep,
}
