using static LossDsl.Dsl;

namespace LossDsl;

public static partial class Losses
{
    /// <summary>
    /// (1 - diceWeight)·BCE + diceWeight·Dice on sigmoid probabilities, binary: the mean BCE over valid pixels
    /// plus the mean soft Dice loss over samples. Already a scalar: every reduction gives the same value.
    /// </summary>
    /// <param name="input">Logits <c>N, 1, *spatial</c> or <c>N, *spatial</c>.</param>
    /// <param name="target">Hard or soft targets in [0, 1].</param>
    /// <param name="diceWeight">Weight of the Dice part; the BCE part weighs 1 - diceWeight.</param>
    /// <param name="posWeight">BCE weight of positives (PyTorch's <c>pos_weight</c>).</param>
    /// <param name="negWeight">BCE weight of negatives.</param>
    /// <param name="batch">Dice over the whole batch instead of per sample.</param>
    /// <param name="smoothNr">Dice numerator smoothing.</param>
    /// <param name="smoothDr">Dice denominator smoothing.</param>
    [Loss(LossTask.Binary, Name = "BceDiceLoss")]
    public static Expr BceDice(Expr input, Expr target, double diceWeight = 0.5, double posWeight = 1.0,
                               double negWeight = 1.0, bool batch = false, double smoothNr = 1e-5, double smoothDr = 1e-5)
    {
        var bce = Mean(Bce(input, target, fromLogits: true, posWeight: posWeight, negWeight: negWeight), Over.All);
        var dice = Mean(DicePerClass(Sigmoid(input), target, false, false, batch, smoothNr, smoothDr), Over.All);
        return (1.0 - diceWeight) * bce + diceWeight * dice;
    }

    /// <summary>
    /// λ_dice·Dice + λ_ce·cross-entropy (MONAI's <c>DiceCELoss</c>): the <see cref="Dice"/> loss averaged over
    /// samples and kept classes plus the <see cref="CrossEntropy"/> loss of the logits with its weighted mean.
    /// Class weights apply to both parts. Already a scalar: every reduction gives the same value.
    /// </summary>
    /// <param name="input">Logits <c>N, C, *spatial</c>.</param>
    /// <param name="target">Class indices <c>N, *spatial</c> or per-class targets <c>N, C, *spatial</c>.</param>
    /// <param name="lambdaDice">Weight of the Dice part.</param>
    /// <param name="lambdaCe">Weight of the cross-entropy part.</param>
    /// <param name="activation">Activation of the Dice part (cross-entropy always takes the logits).</param>
    /// <param name="includeBackground">False drops class 0 from the Dice part.</param>
    /// <param name="squaredPred">Dice with Σp² and Σt².</param>
    /// <param name="jaccard">Jaccard form of the Dice part.</param>
    /// <param name="batch">Dice over the whole batch instead of per sample.</param>
    /// <param name="smoothNr">Dice numerator smoothing.</param>
    /// <param name="smoothDr">Dice denominator smoothing.</param>
    /// <param name="labelSmoothing">Cross-entropy label smoothing.</param>
    [Loss(LossTask.Multiclass, Name = "DiceCeLoss")]
    public static Expr DiceCe(Expr input, Expr target, double lambdaDice = 1.0, double lambdaCe = 1.0,
                              Activation activation = Activation.Softmax, bool includeBackground = true,
                              bool squaredPred = false, bool jaccard = false, bool batch = false,
                              double smoothNr = 1e-5, double smoothDr = 1e-5, double labelSmoothing = 0.0)
    {
        var p = Activate(input, activation);
        var dice = KeptMean(ClassWeights * DicePerClass(p, target, squaredPred, jaccard, batch, smoothNr, smoothDr),
                            KeptClasses(includeBackground));
        var ce = Sum(SoftmaxCrossEntropy(input, target, labelSmoothing), Over.All)
                 / Max(Sum(TargetClassWeight(target), Over.All), WeightFloor);
        return lambdaDice * dice + lambdaCe * ce;
    }

    /// <summary>
    /// λ_dice·Dice + λ_focal·focal (MONAI's <c>DiceFocalLoss</c>). With softmax the focal part is
    /// <see cref="Focal"/> (summed over classes, averaged over pixels); with sigmoid or none it is the
    /// per-channel <see cref="BinaryFocal"/> averaged over pixels and kept classes. Class weights weigh both parts.
    /// Already a scalar: every reduction gives the same value.
    /// </summary>
    /// <param name="input">Logits (or probabilities with <see cref="Activation.None"/>) <c>N, C, *spatial</c>.</param>
    /// <param name="target">Class indices <c>N, *spatial</c> or per-class targets <c>N, C, *spatial</c>.</param>
    /// <param name="lambdaDice">Weight of the Dice part.</param>
    /// <param name="lambdaFocal">Weight of the focal part.</param>
    /// <param name="gamma">Focal exponent γ.</param>
    /// <param name="activation">Sigmoid, softmax or none (probabilities given).</param>
    /// <param name="includeBackground">False drops class 0 from both parts.</param>
    /// <param name="batch">Dice over the whole batch instead of per sample.</param>
    /// <param name="smoothNr">Dice numerator smoothing.</param>
    /// <param name="smoothDr">Dice denominator smoothing.</param>
    [Loss(LossTask.Multiclass, Name = "DiceFocalLoss")]
    public static Expr DiceFocal(Expr input, Expr target, double lambdaDice = 1.0, double lambdaFocal = 1.0,
                                 double gamma = 2.0, Activation activation = Activation.Softmax,
                                 bool includeBackground = true, bool batch = false,
                                 double smoothNr = 1e-5, double smoothDr = 1e-5)
    {
        var kept = KeptClasses(includeBackground);
        var p = Activate(input, activation);
        var dice = KeptMean(ClassWeights * DicePerClass(p, target, false, false, batch, smoothNr, smoothDr), kept);
        Expr focal;
        if (activation == Activation.Softmax)
        {
            var logp = LogSoftmax(input);
            var term = -ClassWeights * kept * Pow(1.0 - Exp(logp), gamma) * logp;
            focal = Mean(Sum(term * OneHot(target), Over.Classes), Over.All);
        }
        else
        {
            var perChannel = BinaryFocal(input, target, gamma: gamma, fromLogits: activation == Activation.Sigmoid);
            focal = KeptMean(ClassWeights * perChannel, kept);
        }
        return lambdaDice * dice + lambdaFocal * focal;
    }

    // A weighted mean over no weight is 0, not NaN: the weight total is floored (the numerator is then 0 too).
    private const double WeightFloor = 1e-12;
}
