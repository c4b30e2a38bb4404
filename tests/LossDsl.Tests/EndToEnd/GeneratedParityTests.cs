using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using LossDsl.Tests.Specs;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.EndToEnd;

/// <summary>
/// For every generated loss in the repository (catalog and test specs): generated code ≡ the reference
/// interpreter on random float64 inputs (1e-10 relative), and so are their autograd gradients.
/// </summary>
public class GeneratedParityTests
{
    public static IEnumerable<Type> GeneratedLossTypes() =>
        new[] { typeof(LossModule).Assembly, typeof(TestSpecs).Assembly }
            .SelectMany(a => a.GetTypes())
            .Where(t =>
                t is { IsAbstract: false }
                && typeof(LossModule).IsAssignableFrom(t)
                && t.GetCustomAttributes(typeof(System.CodeDom.Compiler.GeneratedCodeAttribute), false).Length > 0
            )
            .OrderBy(t => t.FullName, StringComparer.Ordinal);

    public static TheoryData<string> LossNames()
    {
        var data = new TheoryData<string>();
        foreach (var t in GeneratedLossTypes())
            data.Add(t.FullName!);
        return data;
    }

    [Fact]
    public void TheRepositoryHasGeneratedLosses() => Assert.Contains(GeneratedLossTypes(), t => t == typeof(Specs.UserTverskyLoss));

    /// <summary>The module with default options, plus one variant per bool flipped and per enum value.</summary>
    internal static IEnumerable<(string Label, LossModule Module)> Variants(Type type, Reduction reduction)
    {
        var ctor = type.GetConstructors().Single();
        var ps = ctor.GetParameters();
        object?[] Defaults() => ps.Select(p => p.Name == "reduction" ? reduction : p.DefaultValue).ToArray();
        yield return ("defaults", (LossModule)ctor.Invoke(Defaults()));
        for (var i = 0; i < ps.Length; i++)
        {
            var p = ps[i];
            IEnumerable<object> values =
                p.ParameterType == typeof(bool) ? new object[] { !(bool)p.DefaultValue! }
                : p.ParameterType.IsEnum && p.ParameterType != typeof(Reduction)
                    ? Enum.GetValues(p.ParameterType).Cast<object>().Where(v => !v.Equals(p.DefaultValue))
                : Array.Empty<object>();
            foreach (var v in values)
            {
                var args = Defaults();
                args[i] = v;
                // A value the spec's Require rules reject (e.g. focalActivation = None) is no variant
                // (HyperparameterValidationTests covers the rejection).
                LossModule module;
                try
                {
                    module = (LossModule)ctor.Invoke(args);
                }
                catch (System.Reflection.TargetInvocationException ex) when (ex.InnerException is ArgumentOutOfRangeException)
                {
                    continue;
                }
                yield return ($"{p.Name}={v}", module);
            }
        }
    }

    /// <summary>
    /// Random maps for a module whose spec reads named maps (normal values: a map may hold any finite value), shaped
    /// like the input per class or per pixel; null for a module that reads none.
    /// </summary>
    internal static Dictionary<string, Tensor>? MapsFor(LossModule module, Tensor x, int seed)
    {
        if (module.Maps.Count == 0)
            return null;
        var g = new Generator((ulong)seed + 7919);
        var pixel = x.shape.ToArray();
        pixel[1] = 1;
        return module.Maps.ToDictionary(
            m => m.Key,
            m => torch.randn(m.Value ? x.shape : pixel, dtype: float64, generator: g),
            StringComparer.Ordinal
        );
    }

    /// <summary>The module's forward, with the maps its spec reads.</summary>
    internal static Tensor Forward(LossModule module, Tensor x, Tensor t, Tensor? m, IReadOnlyDictionary<string, Tensor>? maps) =>
        maps is null ? module.forward(x, t, m) : module.forward(x, t, m, null, maps);

    /// <summary>The module's reference interpreter, with the maps its spec reads.</summary>
    internal static Tensor Reference(LossModule module, Tensor x, Tensor t, Tensor? m, IReadOnlyDictionary<string, Tensor>? maps) =>
        maps is null ? module.Reference(x, t, m) : module.Reference(x, t, m, null, maps);

    /// <summary>A module whose activation is None takes probabilities: squash the test logits for it.</summary>
    internal static Tensor ForModule(LossModule module, Tensor x) =>
        module.GetType().GetProperty("Activation")?.GetValue(module) is Activation.None ? sigmoid(x) : x;

    internal static (Tensor Input, Tensor Target, Tensor? Mask) Inputs(
        LossTask task,
        bool indexTarget,
        bool masked,
        int seed,
        double scale = 3
    )
    {
        var g = new Generator((ulong)seed);
        long n = 2,
            c = task == LossTask.Binary ? 1 : 4,
            h = 5,
            w = 6;
        var input = (torch.rand(new[] { n, c, h, w }, dtype: float64, generator: g) * 2 - 1) * scale;
        Tensor target;
        if (task == LossTask.Multiclass && indexTarget)
            target = torch.randint(0, c, new[] { n, h, w }, dtype: int64, generator: g);
        else if (task == LossTask.Multiclass)
            target = torch.softmax(torch.rand(new[] { n, c, h, w }, dtype: float64, generator: g) * 4, 1);
        else
            target = torch.rand(new[] { n, c, h, w }, dtype: float64, generator: g).gt(0.6).to(float64);
        Tensor? mask = masked ? torch.rand(new[] { n, h, w }, dtype: float64, generator: g).gt(0.3) : null;
        return (input, target, mask);
    }

    [Theory]
    [MemberData(nameof(LossNames))]
    public void GeneratedCodeEqualsInterpreterWithGradients(string typeName)
    {
        var type = GeneratedLossTypes().Single(t => t.FullName == typeName);
        var seed = 10;
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        foreach (var (label, module) in Variants(type, reduction))
            using (module)
                foreach (var masked in new[] { false, true })
                foreach (var indexTarget in module.Task == LossTask.Multiclass ? new[] { true, false } : new[] { false })
                {
                    using var scope = NewDisposeScope();
                    var (x, t, m) = Inputs(module.Task, indexTarget, masked, seed++);
                    x = ForModule(module, x);
                    if (module.Task == LossTask.Multiclass && module.UsesClassWeights)
                        module.With(classWeights: torch.tensor(new[] { 0.5, 2.0, 1.0, 3.0 }, float64));
                    var what = $"{type.Name} [{label}] reduction={reduction} masked={masked} indexTarget={indexTarget}";

                    var maps = MapsFor(module, x, seed);
                    var xg = x.detach().requires_grad_(true);
                    var generated = Forward(module, xg, t, m, maps);
                    var xr = x.detach().requires_grad_(true);
                    var reference = Reference(module, xr, t, m, maps);
                    Assert.Equal(reference.shape, generated.shape);
                    AssertClose(reference, generated, 1e-10, what + " value");

                    generated.sum().backward();
                    reference.sum().backward();
                    AssertClose(xr.grad!, xg.grad!, 1e-8, what + " gradient");
                }
    }

    /// <summary>
    /// Element-wise relative closeness. With <paramref name="stableWins"/>, elements where the
    /// reference is not finite (a naive form overflowing that the simplifier made stable) are skipped;
    /// the actual value must still be finite.
    /// </summary>
    internal static void AssertClose(Tensor expected, Tensor actual, double rel, string what, bool stableWins = false)
    {
        var e = expected.detach().to(float64).flatten().data<double>().ToArray();
        var a = actual.detach().to(float64).flatten().data<double>().ToArray();
        Assert.Equal(e.Length, a.Length);
        for (var i = 0; i < e.Length; i++)
        {
            Assert.False(double.IsNaN(a[i]), $"{what}: NaN at {i}");
            if (stableWins && !double.IsFinite(e[i]))
                continue;
            var tol = rel * Math.Max(1, Math.Abs(e[i]));
            Assert.True(Math.Abs(e[i] - a[i]) <= tol, $"{what}: at {i} expected {e[i]:R}, got {a[i]:R}");
        }
    }
}
