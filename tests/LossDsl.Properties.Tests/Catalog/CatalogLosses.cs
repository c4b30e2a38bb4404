using System;
using System.Collections.Generic;
using System.Linq;
using LossDsl.Testing;
using Xunit;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Properties.Tests.Catalog;

/// <summary>A catalog loss configuration and which generic laws apply to it.</summary>
/// <param name="Name">A readable name (the theory's row).</param>
/// <param name="Make">Builds the loss with a reduction.</param>
/// <param name="Lower">Lower bound of every value.</param>
/// <param name="Upper">Upper bound of every value.</param>
/// <param name="ZeroAtPerfect">Whether a perfect prediction of a hard target scores 0.</param>
/// <param name="Monotone">Whether moving toward a hard target never increases the loss.</param>
/// <param name="ClassSymmetric">Whether relabelling classes (with their weights) leaves it unchanged.</param>
/// <param name="Options">Input options (probability inputs, binary-sized multiclass), or null for the defaults.</param>
public sealed record CatalogLoss(
    string Name,
    Func<Reduction, LossFunction> Make,
    double Lower,
    double Upper,
    bool ZeroAtPerfect = true,
    bool Monotone = true,
    bool ClassSymmetric = true,
    LossCaseOptions? Options = null
)
{
    public LossFunction Create() => Make(Reduction.Mean);

    public LossTask Task => ((LossModule)Make(Reduction.Mean)).Task;

    public override string ToString() => Name;
}

/// <summary>The catalog's losses under test, each with a few non-default options.</summary>
public static class CatalogLosses
{
    private const double Inf = double.PositiveInfinity;

    /// <summary>Probabilities in, for <c>Activation.None</c>.</summary>
    private static readonly LossCaseOptions Probabilities = new() { Task = LossTask.Multiclass, Input = InputSpace.Probabilities };

    /// <summary>One channel with float targets: a multiclass-layout loss used for binary segmentation.</summary>
    private static readonly LossCaseOptions OneChannel = new()
    {
        Task = LossTask.Multiclass,
        MinClasses = 1,
        MaxClasses = 1,
    };

    public static readonly IReadOnlyList<CatalogLoss> All = new CatalogLoss[]
    {
        new("BceLoss", r => new BceLoss(reduction: r), 0, Inf),
        new("BceLoss(posWeight 2.5, negWeight 0.4)", r => new BceLoss(posWeight: 2.5, negWeight: 0.4, reduction: r), 0, Inf),
        new("BinaryFocalLoss(gamma 2)", r => new BinaryFocalLoss(gamma: 2, reduction: r), 0, Inf),
        new("BinaryFocalLoss(gamma 1.5, alpha 0.25)", r => new BinaryFocalLoss(gamma: 1.5, alpha: 0.25, reduction: r), 0, Inf),
        new("MccLoss", r => new MccLoss(reduction: r), 0, 2, ZeroAtPerfect: false, Monotone: false),
        new("MccLoss(per sample)", r => new MccLoss(batch: false, reduction: r), 0, 2, ZeroAtPerfect: false, Monotone: false),
        new("BceDiceLoss", r => new BceDiceLoss(reduction: r), 0, Inf),
        new("CrossEntropyLoss", r => new CrossEntropyLoss(reduction: r), 0, Inf),
        new(
            "CrossEntropyLoss(labelSmoothing 0.1)",
            r => new CrossEntropyLoss(labelSmoothing: 0.1, reduction: r),
            0,
            Inf,
            ZeroAtPerfect: false,
            Monotone: false
        ),
        new("FocalLoss(gamma 2)", r => new FocalLoss(gamma: 2, reduction: r), 0, Inf),
        new("MultiLabelBceLoss(posWeight 2)", r => new MultiLabelBceLoss(posWeight: 2, reduction: r), 0, Inf),
        new("MultiLabelFocalLoss(gamma 2, alpha 0.25)", r => new MultiLabelFocalLoss(gamma: 2, alpha: 0.25, reduction: r), 0, Inf),
        new("DiceLoss(softmax)", r => new DiceLoss(activation: Activation.Softmax, reduction: r), 0, 1),
        new("DiceLoss(sigmoid)", r => new DiceLoss(activation: Activation.Sigmoid, reduction: r), 0, 1),
        new("DiceLoss(sigmoid, one channel)", r => new DiceLoss(activation: Activation.Sigmoid, reduction: r), 0, 1, Options: OneChannel),
        new("DiceLoss(probabilities)", r => new DiceLoss(activation: Activation.None, reduction: r), 0, 1, Options: Probabilities),
        new("DiceLoss(jaccard)", r => new DiceLoss(activation: Activation.Softmax, jaccard: true, reduction: r), 0, 1),
        new("DiceLoss(squaredPred)", r => new DiceLoss(activation: Activation.Softmax, squaredPred: true, reduction: r), 0, 1),
        new("DiceLoss(batch)", r => new DiceLoss(activation: Activation.Softmax, batch: true, reduction: r), 0, 1),
        new(
            "DiceLoss(no background)",
            r => new DiceLoss(activation: Activation.Softmax, includeBackground: false, reduction: r),
            0,
            1,
            ClassSymmetric: false
        ),
        new(
            "GeneralizedDiceLoss(square)",
            r => new GeneralizedDiceLoss(weightType: DiceWeightType.Square, activation: Activation.Softmax, reduction: r),
            0,
            1
        ),
        new(
            "GeneralizedDiceLoss(simple)",
            r => new GeneralizedDiceLoss(weightType: DiceWeightType.Simple, activation: Activation.Softmax, reduction: r),
            0,
            1
        ),
        new(
            "GeneralizedDiceLoss(uniform)",
            r => new GeneralizedDiceLoss(weightType: DiceWeightType.Uniform, activation: Activation.Softmax, reduction: r),
            0,
            1
        ),
        new("TverskyLoss(0.3, 0.7)", r => new TverskyLoss(alpha: 0.3, beta: 0.7, activation: Activation.Softmax, reduction: r), 0, 1),
        new(
            "FocalTverskyLoss",
            r => new FocalTverskyLoss(alpha: 0.7, beta: 0.3, gamma: 0.75, activation: Activation.Softmax, reduction: r),
            0,
            1
        ),
        new("LogCoshDiceLoss", r => new LogCoshDiceLoss(activation: Activation.Softmax, reduction: r), 0, Math.Log(Math.Cosh(1))),
        new("DiceCeLoss", r => new DiceCeLoss(reduction: r), 0, Inf),
        new("DiceFocalLoss", r => new DiceFocalLoss(reduction: r), 0, Inf),
    };

    public static TheoryData<string> Names(Func<CatalogLoss, bool> where)
    {
        var data = new TheoryData<string>();
        foreach (var l in All.Where(where))
            data.Add(l.Name);
        return data;
    }

    public static CatalogLoss Get(string name) => All.Single(l => l.Name == name);
}
