using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// Published reference values for the cross-entropy family from Keras's test suite
/// (keras-team/keras, keras/src/losses/losses_test.py: BinaryCrossentropyTest,
/// CategoricalCrossentropyTest, SparseCategoricalCrossentropyTest). Keras's rows of a 2-D tensor are
/// samples and its last axis the reduced one; here a row is a sample whose last axis is spatial
/// (binary) or whose rows are pixels (multiclass), which gives the same numbers. Tolerances are the
/// precision Keras asserts them with (its assertAlmostEqual compares to 3 decimals; values it prints
/// with more digits are compared to those digits).
/// </summary>
public class KerasReferenceTests
{
    private static double[] Flat(Tensor t) => t.to(float64).flatten().data<double>().ToArray();

    // y_true [[1, 0, 1], [0, 1, 1]], logits [[10, -10, 10], [10, 10, -10]] (test_unweighted, test_no_reduction).
    private static (Tensor X, Tensor T) BinaryCase() =>
        (
            tensor(new[] { 10.0, -10, 10, 10, 10, -10 }, dtype: float64).reshape(2, 1, 3),
            tensor(new[] { 1.0, 0, 1, 0, 1, 1 }, dtype: float64).reshape(2, 1, 3)
        );

    [Fact]
    public void BinaryCrossEntropyFromLogitsMean()
    {
        using var scope = NewDisposeScope();
        var (x, t) = BinaryCase();
        using var loss = new BceLoss();
        Assert.Equal(3.3333, loss.forward(x, t).ToDouble(), 3);
    }

    [Fact]
    public void BinaryCrossEntropyFromLogitsPerSample()
    {
        using var scope = NewDisposeScope();
        var (x, t) = BinaryCase();
        using var loss = new BceLoss(reduction: Reduction.None);
        var perSample = Flat(loss.forward(x, t).mean(new long[] { 1, 2 }));
        Assert.Equal(0.0, perSample[0], 3);
        Assert.InRange(perSample[1], 6.666 - 1e-3, 6.666 + 1e-3);
    }

    [Fact]
    public void BinaryCrossEntropyWithLabelSmoothing()
    {
        using var scope = NewDisposeScope();
        // logits [[10, -10, -10]], y_true [[1, 0, 1]], label_smoothing 0.1: (10 + 5 * 0.1) / 3.
        using var loss = new BceLoss(labelSmoothing: 0.1);
        var value = loss.forward(
                tensor(new[] { 10.0, -10, -10 }, dtype: float64).reshape(1, 1, 3),
                tensor(new[] { 1.0, 0, 1 }, dtype: float64).reshape(1, 1, 3)
            )
            .ToDouble();
        Assert.Equal((10.0 + 5.0 * 0.1) / 3.0, value, 4);
    }

    // logits [[8, 1, 1], [0, 9, 1], [2, 3, 5]] for labels [0, 1, 2]: one sample of three pixels, C = 3.
    private static Tensor MulticlassLogits() =>
        tensor(new[] { 8.0, 1, 1, 0, 9, 1, 2, 3, 5 }, dtype: float64).reshape(3, 3).t().reshape(1, 3, 3);

    [Fact]
    public void CrossEntropyPerPixel()
    {
        using var scope = NewDisposeScope();
        using var loss = new CrossEntropyLoss(reduction: Reduction.None);
        var values = Flat(loss.forward(MulticlassLogits(), tensor(new long[] { 0, 1, 2 }).reshape(1, 3)));
        Assert.Equal(0.001822, values[0], 6);
        Assert.Equal(0.000459, values[1], 6);
        Assert.Equal(0.169846, values[2], 6);
    }

    [Fact]
    public void CrossEntropyMeanAndOneHotTargets()
    {
        using var scope = NewDisposeScope();
        using var loss = new CrossEntropyLoss();
        var oneHot = eye(3, dtype: float64).reshape(1, 3, 3); // pixel s has class s
        var value = loss.forward(MulticlassLogits(), oneHot).ToDouble();
        Assert.InRange(value, 0.0573 - 1e-3, 0.0573 + 1e-3);
    }

    [Fact]
    public void CrossEntropyIgnoredClass()
    {
        using var scope = NewDisposeScope();
        // y_true [[-1, 2]], logits [[0.854, 0.698, 0.598], [0.088, 0.86, 0.018]], ignore_class -1: [[0, 1.480129]].
        var x = tensor(new[] { 0.854, 0.698, 0.598, 0.088, 0.86, 0.018 }, dtype: float64).reshape(2, 3).t().reshape(1, 3, 2);
        using var loss = new CrossEntropyLoss(reduction: Reduction.None, ignoreIndex: -1);
        var values = Flat(loss.forward(x, tensor(new long[] { -1, 2 }).reshape(1, 2)));
        Assert.Equal(0.0, values[0], 6);
        Assert.Equal(1.480129, values[1], 5);
    }

    [Fact]
    public void CrossEntropyWithLabelSmoothing()
    {
        using var scope = NewDisposeScope();
        // logits [[100, -100, -100]], y_true [[1, 0, 0]], label_smoothing 0.1: 400 * 0.1 / 3.
        using var loss = new CrossEntropyLoss(labelSmoothing: 0.1);
        var value = loss.forward(
                tensor(new[] { 100.0, -100, -100 }, dtype: float64).reshape(1, 3, 1),
                tensor(new long[] { 0 }).reshape(1, 1)
            )
            .ToDouble();
        Assert.Equal(400.0 * 0.1 / 3.0, value, 6);
    }
}
