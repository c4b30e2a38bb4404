using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace LossDsl.Tests.Core;

/// <summary>
/// The emitter's typed plan of every catalog loss (forward and analytic backward, hyperparameters at their
/// defaults): each operation has one operand per child of its node, and the lifetimes the plan states are
/// sound — no tensor local is read after its disposal or disposed twice, and every one the method makes is
/// disposed, handed to a choice's result, or returned.
/// </summary>
public class EmitPlanTests
{
    public static TheoryData<string> CatalogNames()
    {
        var data = new TheoryData<string>();
        // Spec-declared losses (hand-written ones, the Lovász hinge and top-k, have no spec to plan).
        foreach (var e in LossCatalog.All.Where(e => typeof(LossModule).IsAssignableFrom(e.Type)))
            data.Add(e.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CatalogNames))]
    public void PlannedLifetimesAreSound(string name)
    {
        var entry = LossCatalog.Find(name)!;
        using var loss = entry.Create();
        var module = Assert.IsAssignableFrom<LossModule>(loss);
        var spec = new LossSpec(
            null,
            EquatableArray.From(new[] { new ContainingType("class", "Specs", "public static partial") }),
            "Spec",
            "SpecLoss",
            module.Task,
            EquatableArray.From(Array.Empty<SpecParameter>()),
            module.BuildSpec(),
            null
        );
        var compiled = Compiler.Compile(spec);
        var plans = new List<PlanBlock> { Emitter.PlanEvaluate(spec, compiled) };
        if (Emitter.PlanGradient(spec, compiled) is { } gradient)
            plans.Add(gradient);
        foreach (var plan in plans)
        {
            var steps = Check(plan, new HashSet<string>(), result: null);
            Assert.True(steps > 0);
            Assert.IsType<Step.Return>(plan.Steps.Where(s => s is not Step.Dispose).Last());
        }
    }

    // Checks one block; returns how many steps it (and its branches) hold.
    private static int Check(PlanBlock block, HashSet<string> outer, string? result)
    {
        var live = new HashSet<string>();
        var made = new List<string>();
        var disposed = new HashSet<string>();
        var handedOver = new HashSet<string>();
        var returned = new HashSet<string>();
        var count = 0;
        void Read(string name) => Assert.True(live.Contains(name) || outer.Contains(name), $"{name} is read where it is not live");
        void Make(string name)
        {
            Assert.DoesNotContain(name, made);
            made.Add(name);
            live.Add(name);
        }
        IEnumerable<string> Locals(Operand? o) => o is Operand.Local l ? new[] { l.Name } : Array.Empty<string>();
        foreach (var step in block.Steps)
        {
            count++;
            switch (step)
            {
                case Step.Let l:
                    Assert.Equal(Structure.Children(l.Value.Node).Length, l.Value.Operands.Length);
                    foreach (var n in l.Value.Operands.SelectMany(Locals))
                        Read(n);
                    Make(l.Name);
                    break;
                case Step.Copy c:
                    foreach (var n in Locals(c.Source))
                        Read(n);
                    if (c.Declare)
                        Make(c.Name);
                    else
                        Assert.Equal(result, c.Name);
                    break;
                case Step.Choose k:
                    var visible = new HashSet<string>(outer);
                    visible.UnionWith(live);
                    count += Check(k.Then, visible, k.Result) + Check(k.Else, visible, k.Result);
                    Make(k.Result);
                    break;
                case Step.Move m:
                    Read(m.Source);
                    Assert.Equal(result, m.Result);
                    Assert.True(live.Remove(m.Source), $"{m.Source} handed over but not made here");
                    handedOver.Add(m.Source);
                    break;
                case Step.Return r:
                    foreach (var n in Locals(r.Value).Concat(Locals(r.Weight)))
                    {
                        Read(n);
                        returned.Add(n);
                    }
                    break;
                case Step.Dispose d:
                    Assert.True(live.Remove(d.Name), $"{d.Name} disposed twice or never made in this block");
                    disposed.Add(d.Name);
                    break;
            }
        }
        foreach (var n in made)
            Assert.True(disposed.Contains(n) || handedOver.Contains(n) || returned.Contains(n), $"{n} is never disposed");
        return count;
    }
}
