using System;
using System.Collections.Generic;
using System.Linq;

namespace LossDsl.Cli.Compare;

/// <summary>One task's share of the budget, as the rule sees it.</summary>
/// <param name="Runs">Training runs the task may need: losses × seeds, plus the sweep's reserved runs.</param>
/// <param name="SecondsPerEpoch">Measured seconds of one epoch (training plus validation).</param>
internal readonly record struct TaskCost(int Runs, double SecondsPerEpoch);

/// <summary>
/// Turns the time budget into one epoch cap per task, planned just before the task's first run, so
/// that every loss and seed of a task gets the same cap (not the same wall time, which
/// would favour fast losses and depend on the machine's load during each run). The rule: the time
/// left (budget minus what has elapsed since the process started, minus <see cref="ReserveSeconds"/>
/// for scoring, statistics, plots and report) is shared equally by all runs still to come, this
/// task's and the later tasks'; a task's
/// cap is its share divided by its measured epoch time (times <see cref="Safety"/>), less
/// <see cref="ScoringEpochs"/> for the final scoring. Early stopping usually ends runs before the
/// cap, so the comparison finishes well inside the budget.
/// </summary>
internal static class EpochBudget
{
    /// <summary>Seconds kept back for the work after training.</summary>
    public const double ReserveSeconds = 10;

    /// <summary>Headroom on the measured epoch time (losses differ a little in cost; the machine's load varies).</summary>
    public const double Safety = 1.15;

    /// <summary>Epochs' worth of time per run for building the network and the final scoring and tuning.</summary>
    public const int ScoringEpochs = 1;

    /// <summary>Largest cap.</summary>
    public const int MaxEpochs = 1000;

    /// <summary>The caps of <paramref name="tasks"/> given <paramref name="secondsLeft"/> (at least 1 each).</summary>
    public static int[] Caps(double secondsLeft, IReadOnlyList<TaskCost> tasks)
    {
        var runs = tasks.Sum(t => t.Runs);
        if (runs == 0)
            return tasks.Select(_ => 1).ToArray();
        var perRun = Math.Max(0, secondsLeft - ReserveSeconds) / runs;
        return tasks
            .Select(t =>
            {
                var epochs = Math.Floor(perRun / (Math.Max(t.SecondsPerEpoch, 1e-4) * Safety)) - ScoringEpochs;
                return (int)Math.Clamp(epochs, 1, MaxEpochs);
            })
            .ToArray();
    }
}
