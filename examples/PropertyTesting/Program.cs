using System;
using LossDsl;
using LossDsl.Testing;
using static LossDsl.Dsl;
using Reduction = TorchSharp.torch.nn.Reduction;

// Property-testing a loss of your own with LossDsl.Testing: each law runs on generated inputs (100 cases
// by default; QUICK=1 for 20) and throws with a shrunk, printed counterexample if it fails.
var laws = new (string Name, Action Check)[]
{
    ("non-negative", () => LossLaws.NonNegative(() => new SoftJaccardLoss()).Verify()),
    ("zero at a perfect prediction", () => LossLaws.ZeroAtPerfectPrediction(() => new SoftJaccardLoss()).Verify()),
    ("monotone toward the target", () => LossLaws.MonotoneTowardTarget(() => new SoftJaccardLoss(reduction: Reduction.None)).Verify()),
    ("mask = crop", () => LossLaws.MaskEquivalence(() => new SoftJaccardLoss()).Verify()),
    ("gradient = finite differences", () => LossLaws.GradientMatchesFiniteDifferences(() => new SoftJaccardLoss()).Verify()),
    ("finite at extreme logits", () => LossLaws.FiniteAtExtremeLogits(() => new SoftJaccardLoss()).Verify()),
    ("reductions consistent", () => LossLaws.ReductionConsistency(r => new SoftJaccardLoss(reduction: r)).Verify()),
};

var failed = 0;
foreach (var (name, check) in laws)
{
    try
    {
        check();
        Console.WriteLine($"law holds: {name}");
    }
    catch (Exception ex)
    {
        failed++;
        Console.WriteLine($"law FAILS: {name}\n{ex.Message}");
    }
}
Console.WriteLine(failed == 0 ? "all laws hold" : $"{failed} law(s) failed");
return failed == 0 ? 0 : 1;

/// <summary>The loss under test: a soft Jaccard (IoU) loss per sample, declared with the DSL.</summary>
public static partial class MyLosses
{
    /// <summary>1 - soft IoU of sigmoid probabilities, per sample, with smoothing.</summary>
    [Loss(LossTask.Binary)]
    public static Expr SoftJaccard(Expr logits, Expr target, double smooth = 1.0)
    {
        var p = Sigmoid(logits);
        var intersection = Sum(p * target, Over.Spatial);
        var union = Sum(p + target, Over.Spatial) - intersection;
        return 1 - (intersection + smooth) / (union + smooth);
    }
}
