using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;

namespace LossDsl.Benchmarks;

/// <summary>
/// What the value checks cost, as interleaved pairs (--checks [filter]): each round times one step with
/// <c>CheckValues</c> on and one with it off, the order alternating, so both see the same machine state; the
/// ratio of the two medians and the median of the per-round ratios. On the 2-core VM rows run one after
/// the other drift by ±20 % (an A/A pair of the same row included), which hides a cost of a few per cent.
/// With <c>--aa</c> both steps of a round are checked, from two module instances: the method's own resolution.
/// </summary>
public static class CheckPairs
{
    public static void Run(string filter, bool aa, int rounds = 61)
    {
        foreach (var c in Cases.All().Where(c => c.ToString().Contains(filter, StringComparison.OrdinalIgnoreCase)))
        {
            var bench = new CheckCost { Loss = c };
            bench.Setup();
            if (aa)
                bench.CheckTheUncheckedModuleToo();
            for (var i = 0; i < 5; i++)
            {
                bench.Checked();
                bench.Unchecked_();
            }
            var on = new List<double>();
            var off = new List<double>();
            var ratios = new List<double>();
            for (var i = 0; i < rounds; i++)
            {
                double a,
                    b;
                if (i % 2 == 0)
                {
                    a = Time(bench.Checked);
                    b = Time(bench.Unchecked_);
                }
                else
                {
                    b = Time(bench.Unchecked_);
                    a = Time(bench.Checked);
                }
                on.Add(a);
                off.Add(b);
                ratios.Add(a / b);
            }
            Console.WriteLine(
                $"{c, -36} checked {Median(on), 8:F2} ms   {(aa ? "checked again" : "unchecked")} {Median(off), 8:F2} ms   ratio of medians {Median(on) / Median(off), 5:F2}   median ratio {Median(ratios), 5:F2}"
            );
        }
    }

    private static double Time(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[sorted.Count / 2];
    }
}
