using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using static TorchSharp.torch;

namespace LossDsl;

/// <summary>
/// A weighted sum of losses, Σ wᵢ·lossᵢ(input, target, mask), built with <c>+</c> and <c>*</c> on
/// <see cref="LossFunction"/>s. Each part applies its own reduction, so mix only parts whose reduced
/// shapes broadcast (the usual case: every part reduces to a scalar).
/// </summary>
public sealed class CombinedLoss : LossFunction
{
    private CombinedLoss(ImmutableArray<(double Weight, LossFunction Loss)> parts)
        : base("CombinedLoss")
    {
        Parts = parts;
        for (var i = 0; i < parts.Length; i++)
            register_module($"part{i}", parts[i].Loss);
    }

    /// <summary>The weighted parts, in order.</summary>
    public ImmutableArray<(double Weight, LossFunction Loss)> Parts { get; }

    internal static CombinedLoss Of(LossFunction a, LossFunction b) => new(PartsOf(a).AddRange(PartsOf(b)));

    internal static CombinedLoss Scale(double w, LossFunction loss)
    {
        if (!double.IsFinite(w))
            throw new ArgumentOutOfRangeException(nameof(w), w, "a loss weight must be finite");
        return new(PartsOf(loss).Select(p => (p.Weight * w, p.Loss)).ToImmutableArray());
    }

    private static ImmutableArray<(double Weight, LossFunction Loss)> PartsOf(LossFunction f) =>
        f is CombinedLoss c ? c.Parts : ImmutableArray.Create((1.0, f));

    /// <inheritdoc />
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask) => forward(input, target, mask, null);

    /// <inheritdoc />
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask, Tensor? weight) => forward(input, target, mask, weight, null);

    /// <summary>The names of the maps the parts read (a part is given only its own).</summary>
    public override IReadOnlyDictionary<string, bool> Maps
    {
        get
        {
            var maps = new SortedDictionary<string, bool>(StringComparer.Ordinal);
            foreach (var (_, loss) in Parts)
            foreach (var (name, perClass) in loss.Maps)
            {
                if (maps.TryGetValue(name, out var known) && known != perClass)
                    throw new InvalidOperationException(
                        $"CombinedLoss: one part reads '{name}' as a per-pixel map and another as a per-class map; rename one."
                    );
                maps[name] = perClass;
            }
            return maps;
        }
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask, Tensor? weight, IReadOnlyDictionary<string, Tensor>? maps)
    {
        var all = Maps;
        if (maps is not null)
            foreach (var name in maps.Keys)
                if (!all.ContainsKey(name))
                    throw new ArgumentException(
                        all.Count == 0
                            ? $"CombinedLoss: a map '{name}' was given, but no part reads maps; remove it."
                            : $"CombinedLoss: a map '{name}' was given, but the parts read only {string.Join(", ", all.Keys.Select(k => $"'{k}'"))}; check the name.",
                        nameof(maps)
                    );
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var (w, loss) in Parts)
        {
            var own =
                loss.Maps.Count == 0 || maps is null
                    ? null
                    : maps.Where(m => loss.Maps.ContainsKey(m.Key)).ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
            var part = TensorMath.Mul(loss.forward(input, target, mask, weight, own), w);
            total = total is null ? part : TensorMath.Add(total, part);
        }
        return total!.MoveToOuterDisposeScope();
    }
}
