using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;

namespace LossDsl.Cli.Compare;

/// <summary>The "Recommended: " line of a task.</summary>
internal static class Recommendation
{
    private static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>A signed difference: "+0.041", "−0.012".</summary>
    public static string Signed(double v) => v.ToString("+0.000;−0.000;0.000", CultureInfo.InvariantCulture);

    /// <summary>"[−0.012, +0.030]".</summary>
    public static string Interval(PairedDifference d) => $"[{Signed(d.Lower)}, {Signed(d.Upper)}]";

    /// <summary>The decision rule to use with a loss, in words.</summary>
    public static string RuleAdvice(LossSummary loss) =>
        loss.Task.Kind == LossTask.Binary
            ? $"threshold {loss.MedianThreshold.ToString("0.00", CultureInfo.InvariantCulture)} tuned on validation"
        : loss.MedianOffsets.All(o => o == 0) ? "plain arg-max (tuning on validation kept every offset at 0)"
        : $"arg-max with class {loss.TunedRule} tuned on validation";

    /// <summary>
    /// The recommendation of <paramref name="result"/>: a clear winner (every other loss's interval
    /// below 0) with its C# line, margin and interval; or the tied top group and what separates its
    /// members. When a sweep found a setting whose interval against the recommended one is above 0
    /// it is recommended instead.
    /// </summary>
    public static string Line(TaskResult result)
    {
        var task = result.Task.Name;
        var main = result.Main;
        var best = main.Best;
        var scope = Scope(main);
        if (result.Sweep is { } sweep)
        {
            var s = sweep.Comparison;
            var recommendedInSweep = s.Losses.FirstOrDefault(l => l.Name == best.Name);
            if (s.Best.Name != best.Name && recommendedInSweep is not null && s.Of(recommendedInSweep).Status == PairStatus.Worse)
            {
                var d = s.Of(recommendedInSweep);
                return $"Recommended: {task}: {s.Best.Name}, found by the sweep of {sweep.Plan.Option} around {best.Name} — `{s.Best.CSharp}`, {RuleAdvice(s.Best)}; "
                    + $"test {result.ScoreName} {F(s.Best.TunedHeadline.Mean)}, {Signed(-d.Mean)} {Flip(d)} over {best.Name} with its main setting, "
                    + $"ahead on {d.SeedsBehind} of {d.PerSeed.Length} seeds ({Scope(s)}).";
            }
        }
        var suffix = result.Sweep is { } sw
            ? $" The sweep of {sw.Plan.Option} found no setting clearly better (best: {sw.Comparison.Best.Name})."
            : "";
        if (main.Losses.Length == 1)
            return $"Recommended: {task}: {best.Name} — `{best.CSharp}`, {RuleAdvice(best)} — the only loss run, so nothing was compared; test {result.ScoreName} {F(best.TunedHeadline.Mean)}.{suffix}";
        var top = main.Tuned.TopGroup.Select(i => main.Losses[i]).ToArray();
        if (top.Length == 1)
        {
            var runnerUp = main.Losses[main.Tuned.RunnerUp!.Value];
            var d = main.Of(runnerUp);
            return $"Recommended: {task}: {best.Name} — `{best.CSharp}`, {RuleAdvice(best)}; test {result.ScoreName} {F(best.TunedHeadline.Mean)}, "
                + $"{Signed(-d.Mean)} {Flip(d)} over {runnerUp.Name}, the runner-up, ahead of it on {d.SeedsBehind} of {d.PerSeed.Length} seeds ({scope}).{suffix}";
        }
        var members = string.Join(
            "; ",
            top.Select(l =>
                l == best
                    ? $"{l.Name} {F(l.TunedHeadline.Mean)} (`{l.CSharp}`)"
                    : $"{l.Name} {Signed(main.Of(l).Mean)} {Interval(main.Of(l))} (`{l.CSharp}`)"
            )
        );
        var precise = top.OrderByDescending(l => l.Metric(Metric.Precision, tuned: true).Mean).First();
        var recalling = top.OrderByDescending(l => l.Metric(Metric.Recall, tuned: true).Mean).First();
        var fastest = top.OrderBy(l => l.SecondsPerEpoch.Mean).First();
        var slowest = top.OrderByDescending(l => l.SecondsPerEpoch.Mean).First();
        string Pr(LossSummary l) =>
            $"precision {F(l.Metric(Metric.Precision, tuned: true).Mean)} / recall {F(l.Metric(Metric.Recall, tuned: true).Mean)}";
        return $"Recommended: {task}: no single loss — the top group of {top.Length} is tied (each one's interval against the best, {best.Name}, includes 0; {scope}): {members}. "
            + $"What separates them: highest precision {precise.Name} ({Pr(precise)}), highest recall {recalling.Name} ({Pr(recalling)}); "
            + $"fastest {fastest.Name} ({fastest.SecondsPerEpoch.Mean.ToString("F2", CultureInfo.InvariantCulture)} s/epoch, slowest {slowest.SecondsPerEpoch.Mean.ToString("F2", CultureInfo.InvariantCulture)}). "
            + $"{Advice(best, precise, recalling)}{suffix}";
    }

    private static string Advice(LossSummary best, LossSummary precise, LossSummary recalling)
    {
        if (precise == best && recalling == best)
            return $"Take {best.Name}: it is also the most precise and has the highest recall of the group.";
        var parts = new List<string>();
        if (recalling != best)
            parts.Add($"{recalling.Name} when missed foreground costs more than false alarms");
        if (precise != best && precise != recalling)
            parts.Add($"{precise.Name} when false alarms cost more than missed foreground");
        return $"Take {best.Name} by default, {string.Join("; ", parts)}.";
    }

    // The interval of best − other, from other − best.
    private static string Flip(PairedDifference d) => $"[95 % CI {Signed(-d.Upper)}, {Signed(-d.Lower)}]";

    private static string Scope(Comparison c) =>
        $"validation-tuned rule, paired bootstrap over {c.Tuned.Seeds} seed{(c.Tuned.Seeds == 1 ? "" : "s")} × {c.Tuned.Images} test images";
}
