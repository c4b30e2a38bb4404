using LossDsl.Testing;
using Xunit;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Properties.Tests.Catalog;

/// <summary>
/// The generic laws that apply to the hand-written Lovász hinge loss (a <see cref="LossFunction"/>, not a
/// generated module, so it has no reference interpreter to match). Hard binary targets: the hinge is
/// defined on labels in {0, 1}.
/// </summary>
public class LovaszLawTests
{
    private static readonly LossCaseOptions Binary = new() { Task = LossTask.Binary, Targets = TargetKinds.Hard };

    [Fact]
    public void NonNegative() => LossLaws.NonNegative(() => new LovaszHingeLoss(), Binary).Verify();

    [Fact]
    public void ZeroAtPerfectPrediction() => LossLaws.ZeroAtPerfectPrediction(() => new LovaszHingeLoss(), Binary).Verify();

    [Fact]
    public void MaskEquivalence() => LossLaws.MaskEquivalence(() => new LovaszHingeLoss(), Binary).Verify();

    [Fact]
    public void FiniteAtExtremeLogits() => LossLaws.FiniteAtExtremeLogits(() => new LovaszHingeLoss(), Binary).Verify();

    [Fact]
    public void InvariantToSamplePermutation() => LossLaws.InvariantToSamplePermutation(() => new LovaszHingeLoss(), Binary).Verify();

    [Fact]
    public void ReductionConsistency() => LossLaws.ReductionConsistency(r => new LovaszHingeLoss(reduction: r), Binary).Verify();

    [Fact]
    public void Float32AgreesWithFloat64() => LossLaws.Float32AgreesWithFloat64(() => new LovaszHingeLoss(), Binary).Verify();
}
