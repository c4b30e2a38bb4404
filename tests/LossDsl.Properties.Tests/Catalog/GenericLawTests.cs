using LossDsl.Testing;
using Xunit;

namespace LossDsl.Properties.Tests.Catalog;

/// <summary>
/// Which catalog losses each generic law applies to. The laws themselves are in several classes so that
/// xunit runs them in parallel; each row of each theory is one property, checked on
/// <see cref="LossCheck.CaseCount"/> generated cases.
/// </summary>
public static class LawRows
{
    public static TheoryData<string> All() => CatalogLosses.Names(_ => true);

    public static TheoryData<string> ZeroAtPerfect() => CatalogLosses.Names(l => l.ZeroAtPerfect);

    public static TheoryData<string> Monotone() => CatalogLosses.Names(l => l.Monotone);

    public static TheoryData<string> Multiclass() => CatalogLosses.Names(l => l.Task == LossTask.Multiclass);

    public static TheoryData<string> ClassSymmetric() => CatalogLosses.Names(l => l.Task == LossTask.Multiclass && l.ClassSymmetric);
}

/// <summary>The kit's generic laws on every catalog loss: Bounded, ZeroAtPerfectPrediction, MonotoneTowardTarget.</summary>
public class ValueLaws
{
    [Theory, MemberData(nameof(LawRows.All), MemberType = typeof(LawRows))]
    public void Bounded(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.Bounded(l.Create, l.Lower, l.Upper, l.Options).Verify(name);
    }

    [Theory, MemberData(nameof(LawRows.ZeroAtPerfect), MemberType = typeof(LawRows))]
    public void ZeroAtPerfectPrediction(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.ZeroAtPerfectPrediction(l.Create, l.Options).Verify(name);
    }

    [Theory, MemberData(nameof(LawRows.Monotone), MemberType = typeof(LawRows))]
    public void MonotoneTowardTarget(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.MonotoneTowardTarget(l.Create, l.Options).Verify(name);
    }
}

/// <summary>The kit's generic laws on every catalog loss: InvariantToSamplePermutation, InvariantToClassPermutationWithWeights.</summary>
public class SymmetryLaws
{
    [Theory, MemberData(nameof(LawRows.All), MemberType = typeof(LawRows))]
    public void InvariantToSamplePermutation(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.InvariantToSamplePermutation(() => l.Make(TorchSharp.torch.nn.Reduction.None), l.Options).Verify(name);
    }

    [Theory, MemberData(nameof(LawRows.ClassSymmetric), MemberType = typeof(LawRows))]
    public void InvariantToClassPermutationWithWeights(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.InvariantToClassPermutationWithWeights(l.Create, l.Options).Verify(name);
    }
}

/// <summary>The kit's generic laws on every catalog loss: MaskEquivalence, IgnoresMaskedPixels, IgnoreIndexEqualsMask, IndexAndOneHotTargetsAgree.</summary>
public class MaskLaws
{
    [Theory, MemberData(nameof(LawRows.All), MemberType = typeof(LawRows))]
    public void MaskEquivalence(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.MaskEquivalence(l.Create, l.Options).Verify(name);
    }

    [Theory, MemberData(nameof(LawRows.All), MemberType = typeof(LawRows))]
    public void IgnoresMaskedPixels(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.IgnoresMaskedPixels(() => l.Make(TorchSharp.torch.nn.Reduction.None), l.Options).Verify(name);
    }

    [Theory, MemberData(nameof(LawRows.Multiclass), MemberType = typeof(LawRows))]
    public void IgnoreIndexEqualsMask(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.IgnoreIndexEqualsMask(l.Create, l.Options).Verify(name);
    }

    [Theory, MemberData(nameof(LawRows.Multiclass), MemberType = typeof(LawRows))]
    public void IndexAndOneHotTargetsAgree(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.IndexAndOneHotTargetsAgree(l.Create, l.Options).Verify(name);
    }
}

/// <summary>The kit's generic laws on every catalog loss: GradientMatchesFiniteDifferences.</summary>
public class GradientLaws
{
    [Theory, MemberData(nameof(LawRows.All), MemberType = typeof(LawRows))]
    public void GradientMatchesFiniteDifferences(string name)
    {
        var l = CatalogLosses.Get(name);
        var options = (l.Options ?? LossCaseOptions.For(l.Task)) with { Range = LogitRange.Moderate, Scale = 3 };
        LossLaws.GradientMatchesFiniteDifferences(l.Create, options).Verify(name);
    }
}

/// <summary>The kit's generic laws on every catalog loss: FiniteAtExtremeLogits, Float32AgreesWithFloat64.</summary>
public class NumericLaws
{
    [Theory, MemberData(nameof(LawRows.All), MemberType = typeof(LawRows))]
    public void FiniteAtExtremeLogits(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.FiniteAtExtremeLogits(l.Create, l.Options).Verify(name);
    }

    [Theory, MemberData(nameof(LawRows.All), MemberType = typeof(LawRows))]
    public void Float32AgreesWithFloat64(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.Float32AgreesWithFloat64(l.Create, l.Options).Verify(name);
    }
}

/// <summary>The kit's generic laws on every catalog loss: ReductionConsistency.</summary>
public class ReductionLaws
{
    [Theory, MemberData(nameof(LawRows.All), MemberType = typeof(LawRows))]
    public void ReductionConsistency(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.ReductionConsistency(l.Make, l.Options).Verify(name);
    }
}

/// <summary>The kit's generic laws on every catalog loss: MatchesReference.</summary>
public class ReferenceLaws
{
    [Theory, MemberData(nameof(LawRows.All), MemberType = typeof(LawRows))]
    public void MatchesReference(string name)
    {
        var l = CatalogLosses.Get(name);
        LossLaws.MatchesReference(() => (LossModule)l.Create(), l.Options).Verify(name);
    }
}
