using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Reliability;

/// <summary>
/// Hyperparameters are checked at construction: NaN and ±∞ everywhere, and each catalog spec's
/// Require rules (the ranges docs/catalog.md lists). A value outside its range throws
/// ArgumentOutOfRangeException naming the loss and the parameter, from the module constructor, the
/// functional form and the spec method itself, before any tensor is allocated.
/// </summary>
public class HyperparameterValidationTests
{
    // (catalog name, option, a value outside the range, the other options needed for that value to break a rule).
    private static readonly (string Loss, string Option, double Bad, (string, object)[] With)[] OutOfRange =
    {
        ("bce", "posWeight", -1, new (string, object)[0]),
        ("bce", "negWeight", -0.5, new (string, object)[0]),
        ("bce", "labelSmoothing", -0.1, new (string, object)[0]),
        ("bce", "labelSmoothing", 1.5, new (string, object)[0]),
        ("cross-entropy", "labelSmoothing", 1.01, new (string, object)[0]),
        ("cross-entropy", "labelSmoothing", -1, new (string, object)[0]),
        ("binary-focal", "gamma", -1, new (string, object)[0]),
        ("binary-focal", "alpha", 1.5, new (string, object)[0]),
        ("binary-focal", "posWeight", -1, new (string, object)[0]),
        ("focal", "gamma", -0.5, new (string, object)[0]),
        ("focal", "labelSmoothing", 2, new (string, object)[0]),
        ("dice", "smoothNr", -1e-5, new (string, object)[0]),
        ("dice", "smoothDr", -1, new (string, object)[0]),
        ("generalized-dice", "smoothDr", -1, new (string, object)[0]),
        ("log-cosh-dice", "smoothNr", -1, new (string, object)[0]),
        ("tversky", "alpha", -0.1, new (string, object)[0]),
        ("tversky", "beta", -0.1, new (string, object)[0]),
        ("tversky", "smoothDr", 0, new (string, object)[] { ("alpha", 0.0), ("beta", 0.0) }),
        ("tversky", "gamma", 0, new (string, object)[0]),
        ("tversky", "gamma", -1, new (string, object)[0]),
        ("focal-tversky", "gamma", 0, new (string, object)[0]),
        ("focal-tversky", "gamma", -1, new (string, object)[0]),
        ("focal-tversky", "beta", -1, new (string, object)[0]),
        ("bce-dice", "diceWeight", 1.5, new (string, object)[0]),
        ("bce-dice", "posWeight", -2, new (string, object)[0]),
        ("bce-dice", "smooth", -1, new (string, object)[0]),
        ("dice-ce", "lambdaDice", -1, new (string, object)[0]),
        ("dice-ce", "lambdaCe", -1, new (string, object)[0]),
        ("dice-ce", "smoothDr", -1, new (string, object)[0]),
        ("dice-ce", "labelSmoothing", 1.5, new (string, object)[0]),
        ("dice-ce", "labelSmoothing", -0.1, new (string, object)[0]),
        ("dice-focal", "lambdaFocal", -1, new (string, object)[0]),
        ("dice-focal", "gamma", -2, new (string, object)[0]),
        ("dice-focal", "alpha", 1.5, new (string, object)[0]),
        ("multilabel-bce", "posWeight", -1, new (string, object)[0]),
        ("multilabel-bce", "labelSmoothing", 1.5, new (string, object)[0]),
        ("multilabel-focal", "gamma", -1, new (string, object)[0]),
        ("multilabel-focal", "alpha", 1.5, new (string, object)[0]),
        ("multilabel-focal", "reducedThreshold", 1, new (string, object)[0]),
        ("multilabel-focal", "posWeight", -0.5, new (string, object)[0]),
        ("multilabel-focal", "reducedThreshold", -0.1, new (string, object)[0]),
        ("topk-cross-entropy", "k", 0, new (string, object)[0]),
        ("topk-cross-entropy", "k", 150, new (string, object)[0]),
        ("mcc", "eps", 0, new (string, object)[0]),
        ("mcc", "eps", -1e-5, new (string, object)[0]),
    };

    public static TheoryData<int> OutOfRangeCases()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < OutOfRange.Length; i++)
            data.Add(i);
        return data;
    }

    public static TheoryData<string, string> RealOptions()
    {
        var data = new TheoryData<string, string>();
        foreach (var e in LossCatalog.All)
        foreach (var o in e.Options.Where(o => o.Type == typeof(double)))
            data.Add(e.Name, o.Name);
        return data;
    }

    private static Dictionary<string, object?> Options(string option, object value, (string, object)[] with)
    {
        var d = with.ToDictionary(w => w.Item1, w => (object?)w.Item2, StringComparer.OrdinalIgnoreCase);
        d[option] = value;
        return d;
    }

    private static ArgumentOutOfRangeException Rejects(string loss, Dictionary<string, object?> options)
    {
        var entry = LossCatalog.Find(loss)!;
        var ex = Assert.ThrowsAny<ArgumentException>(() => entry.Create(options).Dispose());
        // The catalog's Create unwraps the reflection call: the constructor's own exception arrives.
        return Assert.IsType<ArgumentOutOfRangeException>(ex);
    }

    [Theory]
    [MemberData(nameof(OutOfRangeCases))]
    public void AValueOutsideTheCatalogRangeIsRejectedAtConstruction(int index)
    {
        var (loss, option, bad, with) = OutOfRange[index];
        var ex = Rejects(loss, Options(option, bad, with));
        var module = LossCatalog.Find(loss)!.Type.Name;
        // A rule over several hyperparameters reports the first it reads (and lists them all).
        Assert.Equal(with.Length == 0 ? option : with[0].Item1, ex.ParamName);
        Assert.StartsWith(module + ":", ex.Message);
        Assert.Contains(option, ex.Message);
        Assert.Contains("must be", ex.Message);
    }

    [Theory]
    [MemberData(nameof(OutOfRangeCases))]
    public void TheBoundaryOfEachRangeIsAccepted(int index)
    {
        // The nearest allowed value on the same side: each rule rejects exactly what it says.
        var (loss, option, bad, with) = OutOfRange[index];
        var entry = LossCatalog.Find(loss)!;
        var rule = (loss, option);
        double ok = rule switch
        {
            ("binary-focal" or "multilabel-focal" or "dice-focal", "alpha") => 1.0,
            (_, "labelSmoothing") or ("bce-dice", "diceWeight") => bad > 1 ? 1.0 : 0.0,
            ("focal-tversky" or "tversky", "gamma") or ("mcc", "eps") => 1e-9,
            ("topk-cross-entropy", "k") => bad > 100 ? 100 : 1e-9,
            ("tversky", "smoothDr") => 1e-12,
            (_, "reducedThreshold") => bad >= 1 ? 0.999 : 0.0,
            _ => 0.0,
        };
        using var module = entry.Create(Options(option, ok, with));
        var c = entry.Task == LossTask.Binary ? 1 : 3;
        var x = randn(2, c, 4, 4, dtype: float64);
        var t =
            entry.Task == LossTask.Binary ? (rand(2, 1, 4, 4, dtype: float64) > 0.5).to(float64) : randint(0, 3, new long[] { 2, 4, 4 });
        var value = module.forward(x, t).item<double>();
        Assert.True(double.IsFinite(value), $"{loss} with {option} = {ok}: {value}");
    }

    [Theory]
    [MemberData(nameof(RealOptions))]
    public void NaNAndInfinityAreRejectedForEveryRealOption(string loss, string option)
    {
        foreach (var bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            var ex = Rejects(loss, Options(option, bad, Array.Empty<(string, object)>()));
            Assert.Equal(option, ex.ParamName);
            Assert.Contains(option, ex.Message);
        }
    }

    [Fact]
    public void TheFunctionalFormChecksTheSameRules()
    {
        var x = randn(2, 1, 4, 4);
        var t = (rand(2, 1, 4, 4) > 0.5).to(float32);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.MccLoss(x, t, eps: 0));
        Assert.Equal("eps", ex.ParamName);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.BinaryFocalLoss(x, t, gamma: double.NaN));
        Assert.Equal("gamma", ex.ParamName);
        Assert.True(double.IsFinite(Losses.MccLoss(x, t, eps: 1e-3).item<float>()));
    }

    [Fact]
    public void TheSpecMethodChecksItsRulesOnTheInterpreterPath()
    {
        // Calling the declaration directly (what the interpreter and the kit do) evaluates Dsl.Require.
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.Tversky(Dsl.Prediction, Dsl.Target, alpha: -1));
        Assert.Equal("alpha", ex.ParamName);
        Assert.Contains("Tversky", ex.Message);
        Assert.Contains("alpha must be >= 0", ex.Message);
        // A helper's rule reports the helper and the spec's argument.
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.Dice(Dsl.Prediction, Dsl.Target, smoothDr: -1));
        Assert.Equal("smoothDr", ex.ParamName);
    }

    [Fact]
    public void AGuardedRuleAppliesOnlyUnderItsCondition()
    {
        // tversky: smoothDr = 0 is fine while alpha + beta > 0, rejected when alpha = beta = 0.
        using (var ok = new TverskyLoss(smoothDr: 0, smoothNr: 0))
            Assert.Equal(0.0, ok.SmoothDr);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new TverskyLoss(alpha: 0, beta: 0, smoothDr: 0));
        Assert.Contains("alpha = 0", ex.Message);
        Assert.Contains("smoothDr = 0", ex.Message);
    }

    [Fact]
    public void TheCatalogDefaultsSatisfyEveryRule()
    {
        foreach (var e in LossCatalog.All)
        {
            using var m = e.Create();
            Assert.NotNull(m);
        }
    }
}
