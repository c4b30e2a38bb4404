using System;
using System.Collections.Immutable;
using System.Linq;

namespace LossDsl.Cli.Compare;

/// <summary>
/// What the networks are trained to do: binary (class 1 = foreground) or multiclass segmentation
/// with <see cref="NumClasses"/> classes, class 0 being the background.
/// </summary>
internal sealed record CompareTask(LossTask Kind, ImmutableArray<string> ClassNames)
{
    public int NumClasses => ClassNames.Length;

    /// <summary>Output channels of the network: one logit for binary, one per class otherwise.</summary>
    public int OutputChannels => Kind == LossTask.Binary ? 1 : NumClasses;

    /// <summary>The classes the headline metric averages over: every class but the background.</summary>
    public ImmutableArray<int> ForegroundClasses => Enumerable.Range(1, NumClasses - 1).ToImmutableArray();

    public string Name => Kind == LossTask.Binary ? "binary" : "multiclass";

    public static CompareTask Binary(string foreground = "object") => new(LossTask.Binary, ImmutableArray.Create("background", foreground));

    public static CompareTask Multiclass(params string[] classNames)
    {
        if (classNames.Length < 2)
            throw new ArgumentException("a multiclass task needs at least two classes", nameof(classNames));
        return new(LossTask.Multiclass, classNames.ToImmutableArray());
    }
}

/// <summary>
/// Label statistics of the training split, over valid pixels only: what class-balancing losses
/// (weighted BCE's pos_weight, weighted cross-entropy's class weights) are computed from.
/// </summary>
internal sealed record TrainingStats(ImmutableArray<double> ClassFractions, double InvalidFraction, long ValidPixels)
{
    /// <summary>Fraction of valid training pixels that are foreground (class 1 for binary; non-background for multiclass).</summary>
    public double ForegroundFraction => 1.0 - ClassFractions[0];

    /// <summary>
    /// BCE's pos_weight: negatives per positive, so both classes carry equal total weight. Capped at
    /// 1000 so a training split with (almost) no foreground does not produce an infinite weight.
    /// </summary>
    public double PosWeight => Math.Min(1000.0, (1.0 - ForegroundFraction) / Math.Max(ForegroundFraction, 1e-12));

    /// <summary>
    /// "Balanced" class weights, 1 / (C · fraction): every class carries the same total weight and a
    /// class of average frequency gets weight 1. Absent classes get the largest finite weight.
    /// </summary>
    public ImmutableArray<double> BalancedClassWeights
    {
        get
        {
            var c = ClassFractions.Length;
            var w = ClassFractions.Select(f => f > 0 ? 1.0 / (c * f) : double.NaN).ToArray();
            var max = w.Where(double.IsFinite).DefaultIfEmpty(1.0).Max();
            return w.Select(x => double.IsFinite(x) ? x : max).ToImmutableArray();
        }
    }
}
