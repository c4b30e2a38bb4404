using Xunit;
using static LossDsl.Tests.Catalog.Hand;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// Published values from other libraries' test suites, where the semantics match. Their expected values
/// are printed to 5–6 decimals from float32 runs, so the tolerance is 1e-5 absolute (MONAI asserts
/// rtol 1e-5, atol 1e-4 for focal); inputs here are float64.
/// </summary>
public class PublishedReferenceTests
{
    private const double Tol = 1e-5;

    // The inputs MONAI's Dice-family tests share.
    private static Tensor X1 => T(new[] { 1.0, -1.0, -1.0, 1.0 }, 1, 1, 2, 2);
    private static Tensor Y1 => T(new[] { 1.0, 0.0, 1.0, 1.0 }, 1, 1, 2, 2);
    private static Tensor X2 => T(new[] { 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0 }, 2, 1, 2, 2);
    private static Tensor Y2 => T(new[] { 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0 }, 2, 1, 2, 2);
    private static Tensor X3 => T(new[] { -1.0, 0.0, 1.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0 }, 2, 2, 3);
    private static Tensor Y3 => L(new long[] { 1, 0, 0, 1, 1, 0 }, 2, 3);
    private static Tensor P4 => T(new[] { 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0 }, 2, 2, 3);
    private static Tensor Y4 => L(new long[] { 0, 0, 1, 0, 1, 0 }, 2, 3);

    // ---- MONAI tests/losses/test_dice_loss.py (DiceLoss; our activation = its sigmoid/softmax flags)

    [Fact]
    public void MonaiDiceSigmoidSingleImage()
    {
        using var l = new DiceLoss(activation: Activation.Sigmoid, smoothNr: 1e-6, smoothDr: 1e-6);
        Close(0.307576, l.forward(X1, Y1).item<double>(), Tol);
    }

    [Fact]
    public void MonaiDiceSigmoidBatch()
    {
        using var l = new DiceLoss(activation: Activation.Sigmoid, smoothNr: 1e-4, smoothDr: 1e-4);
        Close(0.416657, l.forward(X2, Y2).item<double>(), Tol);
    }

    [Fact]
    public void MonaiDiceWithoutBackgroundOnProbabilities()
    {
        using var l = new DiceLoss(activation: Activation.None, includeBackground: false, smoothNr: 0, smoothDr: 0);
        Close(0.0, l.forward(P4, Y4).item<double>(), Tol);
    }

    [Fact]
    public void MonaiDiceSigmoidOneHotIndexTargetsMeanAndNone()
    {
        using var mean = new DiceLoss(activation: Activation.Sigmoid, smoothNr: 1e-4, smoothDr: 1e-4);
        Close(0.435050, mean.forward(X3, Y3).item<double>(), Tol);
        using var none = new DiceLoss(activation: Activation.Sigmoid, smoothNr: 1e-4, smoothDr: 1e-4, reduction: Reduction.None);
        var v = none.forward(X3, Y3);
        Assert.Equal(new long[] { 2, 2 }, v.shape); // MONAI keeps (2, 2, 1); ours is N, C
        Close(new[] { 0.296529, 0.415136, 0.599976, 0.428559 }, v, Tol);
    }

    [Fact]
    public void MonaiDiceSoftmaxMeanAndSum()
    {
        using var mean = new DiceLoss(activation: Activation.Softmax, smoothNr: 1e-4, smoothDr: 1e-4);
        Close(0.383713, mean.forward(X3, Y3).item<double>(), Tol);
        using var sum = new DiceLoss(activation: Activation.Softmax, smoothNr: 1e-4, smoothDr: 1e-4, reduction: Reduction.Sum);
        Close(1.534853, sum.forward(X3, Y3).item<double>(), Tol);
    }

    [Fact]
    public void MonaiDiceSquaredPredAndJaccard()
    {
        using var squared = new DiceLoss(activation: Activation.Sigmoid, squaredPred: true);
        Close(0.178337, squared.forward(X1, Y1).item<double>(), Tol);
        using var jaccard = new DiceLoss(activation: Activation.Sigmoid, jaccard: true);
        Close(0.470451, jaccard.forward(X1, Y1).item<double>(), Tol);
    }

    // ---- MONAI tests/losses/test_generalized_dice_loss.py (GeneralizedDiceLoss)

    [Fact]
    public void MonaiGeneralizedDiceSigmoid()
    {
        using var a = new GeneralizedDiceLoss(activation: Activation.Sigmoid, smoothNr: 1e-6, smoothDr: 1e-6);
        Close(0.307576, a.forward(X1, Y1).item<double>(), Tol);
        using var b = new GeneralizedDiceLoss(activation: Activation.Sigmoid, smoothNr: 1e-4, smoothDr: 1e-4);
        Close(0.416597, b.forward(X2, Y2).item<double>(), Tol);
        Close(0.469964, b.forward(X3, Y3).item<double>(), Tol);
    }

    [Fact]
    public void MonaiGeneralizedDiceSoftmaxMeanSumNone()
    {
        using var mean = new GeneralizedDiceLoss(activation: Activation.Softmax, smoothNr: 1e-4, smoothDr: 1e-4);
        Close(0.414507, mean.forward(X3, Y3).item<double>(), Tol);
        using var sum = new GeneralizedDiceLoss(activation: Activation.Softmax, smoothNr: 1e-4, smoothDr: 1e-4, reduction: Reduction.Sum);
        Close(0.829015, sum.forward(X3, Y3).item<double>(), Tol);
        using var none = new GeneralizedDiceLoss(activation: Activation.Softmax, smoothNr: 1e-4, smoothDr: 1e-4, reduction: Reduction.None);
        var v = none.forward(X3, Y3);
        Assert.Equal(new long[] { 2 }, v.shape); // MONAI keeps (2, 1, 1); ours is N
        Close(new[] { 0.273476, 0.555539 }, v, Tol);
    }

    [Fact]
    public void MonaiGeneralizedDiceSimpleWeightsAndAbsentClasses()
    {
        using var simple = new GeneralizedDiceLoss(
            weightType: DiceWeightType.Simple,
            activation: Activation.Softmax,
            smoothNr: 0,
            smoothDr: 0
        );
        Close(
            0.250023,
            simple.forward(T(new[] { 0.0, 10, 10, 10, 10, 0, 0, 0 }, 1, 2, 4), L(new long[] { 1, 1, 0, 0 }, 1, 4)).item<double>(),
            Tol
        );
        // Every foreground class absent: MONAI gives 0; so does our absent-class weight of 0.
        using var empty = new GeneralizedDiceLoss(activation: Activation.None, includeBackground: false, smoothNr: 1e-8, smoothDr: 1e-8);
        Close(0.0, empty.forward(P4, L(new long[] { 0, 0, 0, 0, 0, 0 }, 2, 3)).item<double>(), Tol);
    }

    // ---- MONAI tests/losses/test_tversky_loss.py (TverskyLoss). That suite asserts rtol 1e-4 (its
    // alpha = beta = 0.5 values are the Dice ones, which differ from Tversky's smoothing by ~1e-5).
    private const double TverskyTol = 1e-4;

    [Fact]
    public void MonaiTverskySigmoid()
    {
        using var a = new TverskyLoss(activation: Activation.Sigmoid, smoothNr: 1e-6, smoothDr: 1e-6);
        Close(0.307576, a.forward(X1, Y1).item<double>(), TverskyTol);
        using var b = new TverskyLoss(activation: Activation.Sigmoid, smoothNr: 1e-4, smoothDr: 1e-4);
        Close(0.416657, b.forward(X2, Y2).item<double>(), TverskyTol);
        Close(0.435050, b.forward(X3, Y3).item<double>(), TverskyTol);
        using var sum = new TverskyLoss(activation: Activation.Sigmoid, smoothNr: 1e-4, smoothDr: 1e-4, reduction: Reduction.Sum);
        Close(1.74013, sum.forward(X3, Y3).item<double>(), TverskyTol);
        using var batch = new TverskyLoss(activation: Activation.Sigmoid, batch: true);
        Close(0.422979, batch.forward(X3, Y3).item<double>(), TverskyTol);
    }

    [Fact]
    public void MonaiTverskyAlphaBeta()
    {
        using var a = new TverskyLoss(alpha: 0.3, beta: 0.7, activation: Activation.Sigmoid, smoothNr: 1e-6, smoothDr: 1e-6);
        Close(0.3589, a.forward(X1, Y1).item<double>(), 1e-4); // published to 4 decimals
        using var b = new TverskyLoss(alpha: 0.7, beta: 0.3, activation: Activation.Sigmoid, smoothNr: 1e-6, smoothDr: 1e-6);
        Close(0.247366, b.forward(X1, Y1).item<double>(), TverskyTol);
    }

    [Fact]
    public void MonaiTverskySoftmaxNoneAndNoBackground()
    {
        using var mean = new TverskyLoss(activation: Activation.Softmax, smoothNr: 1e-4, smoothDr: 1e-4);
        Close(0.383713, mean.forward(X3, Y3).item<double>(), TverskyTol);
        using var none = new TverskyLoss(activation: Activation.Softmax, smoothNr: 1e-4, smoothDr: 1e-4, reduction: Reduction.None);
        Close(new[] { 0.210961, 0.295339, 0.599952, 0.428547 }, none.forward(X3, Y3), TverskyTol);
        using var nobg = new TverskyLoss(activation: Activation.None, includeBackground: false, smoothNr: 0, smoothDr: 1e-3);
        Close(0.000999, nobg.forward(P4, Y4).item<double>(), 1e-6);
    }

    // ---- MONAI tests/losses/test_focal_loss.py (FocalLoss, gamma 2)

    private static Tensor FocalInput => T(new[] { 1.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.5, 0.0 }, 1, 3, 2, 2);
    private static Tensor FocalIndex => L(new long[] { 0, 1, 2, 0 }, 1, 2, 2);

    private static Tensor FocalOneHot => T(new[] { 1.0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0 }, 1, 3, 2, 2);

    [Fact]
    public void MonaiSigmoidFocalIsOurBinaryFocalPerChannel()
    {
        // MONAI's default (sigmoid) focal loss treats each channel as an independent binary problem; our
        // BinaryFocalLoss reads the (1, 3, 2, 2) tensor as one channel over three spatial axes: same elements.
        using var plain = new BinaryFocalLoss();
        Close(0.34959, plain.forward(FocalInput, FocalOneHot).item<double>(), 1e-4);
        using var alpha = new BinaryFocalLoss(alpha: 0.8);
        Close(0.08423, alpha.forward(FocalInput, FocalOneHot).item<double>(), 1e-4);
        using var none = new BinaryFocalLoss(reduction: Reduction.None);
        Close(
            new[] { 0.02266, 0.70187, 0.37741, 0.17329, 0.70187, 0.02266, 0.37741, 0.17329, 0.70187, 0.70187, 0.06757, 0.17329 },
            none.forward(FocalInput, FocalOneHot),
            1e-4
        );
    }

    [Fact]
    public void MonaiSoftmaxFocalTimesClassCount()
    {
        // MONAI's use_softmax focal loss averages over classes as well as pixels; ours sums over classes
        // (a per-pixel loss), so ours is C = 3 times MONAI's mean. MONAI's alpha gives 1 - alpha to class 0
        // and alpha to the others: our class weights (0.2, 0.8, 0.8).
        using var plain = new FocalLoss();
        Close(3 * 0.16276, plain.forward(FocalInput, FocalIndex).item<double>(), 3e-4);
        using var alpha = new FocalLoss(classWeights: tensor(new[] { 0.2, 0.8, 0.8 }, float64));
        Close(3 * 0.08138, alpha.forward(FocalInput, FocalIndex).item<double>(), 3e-4);
    }
}
