using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using static TorchSharp.torch;

namespace LossDsl.Testing;

/// <summary>How a <see cref="LossCase"/>'s target is given.</summary>
public enum TargetKind
{
    /// <summary>Float 0/1 values: a binary mask (<c>N, 1, *spatial</c>) or a one-hot target (<c>N, C, *spatial</c>).</summary>
    Hard,

    /// <summary>Float values in [0, 1]: soft binary targets, or per-pixel class distributions (multiclass).</summary>
    Soft,

    /// <summary>int64 class indices <c>N, *spatial</c> (multiclass only).</summary>
    Index,
}

/// <summary>What a <see cref="LossCase"/>'s input holds.</summary>
public enum InputSpace
{
    /// <summary>Logits (any real value).</summary>
    Logits,

    /// <summary>Probabilities in [0, 1] (for losses with <c>Activation.None</c>); multiclass rows sum to 1.</summary>
    Probabilities,
}

/// <summary>
/// One input of a loss, held as plain arrays so that FsCheck can shrink it and print it: the input
/// <c>N, C, *spatial</c> (C = 1 for binary losses), the target, an optional validity mask <c>N, *spatial</c>
/// and optional class weights. <see cref="ToString"/> prints the shapes and every value, so a shrunk
/// counterexample can be read and replayed.
/// </summary>
/// <param name="Task">Binary (C = 1) or multiclass layout.</param>
/// <param name="Batch">N, the number of samples.</param>
/// <param name="Classes">C, the number of channels of the input (1 for binary).</param>
/// <param name="Spatial">The spatial extent (1 to 3 axes).</param>
/// <param name="InputSpace">Whether <see cref="Input"/> holds logits or probabilities.</param>
/// <param name="Input">The input values, row-major <c>N, C, *spatial</c>.</param>
/// <param name="TargetKind">How <see cref="Target"/> is laid out.</param>
/// <param name="Target">
/// Row-major <c>N, C, *spatial</c> floats for <see cref="TargetKind.Hard"/> and <see cref="TargetKind.Soft"/>;
/// class indices <c>N, *spatial</c> (stored as doubles) for <see cref="TargetKind.Index"/>.
/// </param>
/// <param name="Mask">Validity mask <c>N, *spatial</c> (true = valid), or null for none.</param>
/// <param name="ClassWeights">Class weights of length C, or null for none.</param>
public sealed record LossCase(
    LossTask Task,
    int Batch,
    int Classes,
    int[] Spatial,
    InputSpace InputSpace,
    double[] Input,
    TargetKind TargetKind,
    double[] Target,
    bool[]? Mask,
    double[]? ClassWeights
)
{
    /// <summary>The number of pixels of one sample (the product of <see cref="Spatial"/>).</summary>
    public int Pixels => Spatial.Aggregate(1, (a, b) => a * b);

    /// <summary>The input's shape <c>N, C, *spatial</c>.</summary>
    public long[] InputShape =>
        new long[] { Batch, Classes }
            .Concat(Spatial.Select(s => (long)s))
            .ToArray();

    /// <summary>The mask's shape <c>N, *spatial</c> (also the shape of index targets).</summary>
    public long[] PixelShape =>
        new long[] { Batch }
            .Concat(Spatial.Select(s => (long)s))
            .ToArray();

    /// <summary>The number of valid pixels over the batch (every pixel when there is no mask).</summary>
    public int ValidPixels => Mask?.Count(m => m) ?? Batch * Pixels;

    /// <summary>Whether every target value is 0 or 1 (always true for index targets).</summary>
    public bool HasHardTarget => TargetKind == TargetKind.Index || Target.All(t => t == 0 || t == 1);

    /// <summary>A seed derived from the case's values: the same case always gives the same seed.</summary>
    public int Seed
    {
        get
        {
            unchecked
            {
                var h = 17;
                foreach (var v in Input)
                    h = h * 31 + v.GetHashCode();
                foreach (var v in Target)
                    h = h * 31 + v.GetHashCode();
                return h & 0x7fffffff;
            }
        }
    }

    /// <summary>The input as a tensor <c>N, C, *spatial</c>.</summary>
    public Tensor InputTensor(ScalarType dtype = ScalarType.Float64) => Floats(Input, InputShape, dtype);

    /// <summary>
    /// The target as a tensor: int64 <c>N, *spatial</c> for index targets, otherwise <c>N, C, *spatial</c>
    /// of <paramref name="dtype"/>.
    /// </summary>
    public Tensor TargetTensor(ScalarType dtype = ScalarType.Float64) =>
        TargetKind == TargetKind.Index
            ? tensor(Target.Select(t => (long)t).ToArray(), PixelShape, ScalarType.Int64)
            : Floats(Target, InputShape, dtype);

    /// <summary>The mask as a bool tensor <c>N, *spatial</c>, or null.</summary>
    public Tensor? MaskTensor() => Mask is null ? null : tensor(Mask, PixelShape);

    /// <summary>The class weights as a vector of length C, or null.</summary>
    public Tensor? ClassWeightsTensor(ScalarType dtype = ScalarType.Float64) =>
        ClassWeights is null ? null : Floats(ClassWeights, new long[] { ClassWeights.Length }, dtype);

    private static Tensor Floats(double[] values, long[] shape, ScalarType dtype) =>
        dtype == ScalarType.Float64
            ? tensor(values, shape, ScalarType.Float64)
            : tensor(values.Select(v => (float)v).ToArray(), shape, ScalarType.Float32).to(dtype);

    /// <summary>The target in per-class form <c>N, C, *spatial</c> (index targets one-hot encoded).</summary>
    public double[] PerClassTarget()
    {
        if (TargetKind != TargetKind.Index)
            return Target;
        var result = new double[Input.Length];
        for (var n = 0; n < Batch; n++)
        for (var s = 0; s < Pixels; s++)
            result[((n * Classes) + (int)Target[(n * Pixels) + s]) * Pixels + s] = 1;
        return result;
    }

    /// <summary>The same case with index targets replaced by their one-hot floats (other cases unchanged).</summary>
    public LossCase WithOneHotTarget() =>
        TargetKind == TargetKind.Index ? this with { TargetKind = TargetKind.Hard, Target = PerClassTarget() } : this;

    /// <summary>
    /// A prediction that matches the (hard) target: logits of ±<paramref name="margin"/> (the target class
    /// +margin, the others -margin), or, for probability inputs, the target itself.
    /// </summary>
    public LossCase WithPerfectPrediction(double margin = 30)
    {
        RequireHardTarget(nameof(WithPerfectPrediction));
        var y = PerClassTarget();
        var input = InputSpace == InputSpace.Probabilities ? y.ToArray() : y.Select(t => t > 0.5 ? margin : -margin).ToArray();
        return this with { Input = input };
    }

    /// <summary>
    /// The prediction moved toward the (hard) target: logits shift by <paramref name="delta"/> up where the
    /// target is 1 and down where it is 0; probabilities move a fraction <c>min(delta, 1)</c> of the way.
    /// </summary>
    public LossCase MovedTowardTarget(double delta)
    {
        RequireHardTarget(nameof(MovedTowardTarget));
        var y = PerClassTarget();
        var input =
            InputSpace == InputSpace.Probabilities
                ? Input.Select((p, i) => p + (Math.Min(delta, 1) * (y[i] - p))).ToArray()
                : Input.Select((x, i) => x + (delta * ((2 * y[i]) - 1))).ToArray();
        return this with { Input = input };
    }

    /// <summary>The samples reordered: sample <c>i</c> of the result is sample <c>perm[i]</c> of this case.</summary>
    public LossCase PermuteSamples(IReadOnlyList<int> perm)
    {
        CheckPermutation(perm, Batch, nameof(perm));
        var perSample = Classes * Pixels;
        double[] Gather(double[] a, int block) => perm.SelectMany(p => a.Skip(p * block).Take(block)).ToArray();
        return this with
        {
            Input = Gather(Input, perSample),
            Target = Gather(Target, TargetKind == TargetKind.Index ? Pixels : perSample),
            Mask = Mask is null ? null : perm.SelectMany(p => Mask.Skip(p * Pixels).Take(Pixels)).ToArray(),
        };
    }

    /// <summary>
    /// The classes reordered: class <c>c</c> of the result is class <c>perm[c]</c> of this case, in the input,
    /// the target (index targets relabelled) and the class weights alike.
    /// </summary>
    public LossCase PermuteClasses(IReadOnlyList<int> perm)
    {
        CheckPermutation(perm, Classes, nameof(perm));
        double[] Gather(double[] a)
        {
            var r = new double[a.Length];
            for (var n = 0; n < Batch; n++)
            for (var c = 0; c < Classes; c++)
                Array.Copy(a, ((n * Classes) + perm[c]) * Pixels, r, ((n * Classes) + c) * Pixels, Pixels);
            return r;
        }
        var inverse = new int[Classes];
        for (var c = 0; c < Classes; c++)
            inverse[perm[c]] = c;
        return this with
        {
            Input = Gather(Input),
            Target = TargetKind == TargetKind.Index ? Target.Select(t => (double)inverse[(int)t]).ToArray() : Gather(Target),
            ClassWeights = ClassWeights is null ? null : perm.Select(p => ClassWeights[p]).ToArray(),
        };
    }

    /// <summary>
    /// The case with <paramref name="extra"/> pixels appended along the last spatial axis, filled with the
    /// arbitrary (but valid) values <paramref name="random"/> draws, and a mask that marks exactly the original
    /// pixels valid (those of the original mask, if any). A loss that honours masks gives the same value.
    /// </summary>
    public LossCase PaddedWithInvalidPixels(int extra, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (extra < 1)
            throw new ArgumentOutOfRangeException(nameof(extra), extra, "extra must be at least 1");
        var last = Spatial[^1];
        var rows = Pixels / last;
        var newSpatial = Spatial.ToArray();
        newSpatial[^1] = last + extra;
        double[] Pad(double[] a, int blocks, Func<double> fill)
        {
            var r = new List<double>(a.Length / last * (last + extra));
            for (var b = 0; b < blocks; b++)
            {
                r.AddRange(a.Skip(b * last).Take(last));
                for (var e = 0; e < extra; e++)
                    r.Add(fill());
            }
            return r.ToArray();
        }
        double Garbage() => InputSpace == InputSpace.Probabilities ? random.NextDouble() : Math.Round((random.NextDouble() * 10) - 5, 2);
        var input = Pad(Input, Batch * Classes * rows, Garbage);
        double[] target = TargetKind switch
        {
            TargetKind.Index => Pad(Target, Batch * rows, () => random.Next(Classes)),
            TargetKind.Hard when Task == LossTask.Binary => Pad(Target, Batch * rows, () => random.Next(2)),
            _ => Pad(Target, Batch * Classes * rows, () => Math.Round(random.NextDouble(), 2)),
        };
        if (TargetKind == TargetKind.Hard && Task == LossTask.Multiclass)
            target = OneHotPadding(target, newSpatial, last, random);
        else if (TargetKind == TargetKind.Soft && Task == LossTask.Multiclass)
            target = NormalisedPadding(target, newSpatial, last);
        if (InputSpace == InputSpace.Probabilities && Task == LossTask.Multiclass)
            input = NormalisedPadding(input, newSpatial, last);
        var mask = new List<bool>();
        var original = Mask ?? Enumerable.Repeat(true, Batch * Pixels).ToArray();
        for (var b = 0; b < Batch * rows; b++)
        {
            mask.AddRange(original.Skip(b * last).Take(last));
            for (var e = 0; e < extra; e++)
                mask.Add(false);
        }
        return this with { Spatial = newSpatial, Input = input, Target = target, Mask = mask.ToArray() };
    }

    /// <summary>
    /// The case with new arbitrary (but valid) input and target values at every invalid pixel (mask false);
    /// valid pixels are unchanged. A loss that honours masks gives the same value.
    /// </summary>
    public LossCase WithInvalidPixelsScrambled(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (Mask is null)
            return this;
        var input = Input.ToArray();
        var target = Target.ToArray();
        for (var n = 0; n < Batch; n++)
        for (var s = 0; s < Pixels; s++)
        {
            if (Mask[(n * Pixels) + s])
                continue;
            int At(int c) => ((n * Classes) + c) * Pixels + s;
            var raw = Enumerable.Range(0, Classes).Select(_ => random.NextDouble()).ToArray();
            for (var c = 0; c < Classes; c++)
                input[At(c)] =
                    InputSpace == InputSpace.Probabilities
                        ? (Task == LossTask.Multiclass ? raw[c] / raw.Sum() : raw[c])
                        : Math.Round((raw[c] * 10) - 5, 2);
            var hot = random.Next(Classes);
            var hard = random.Next(2);
            var soft = Enumerable.Range(0, Classes).Select(_ => random.NextDouble() + 1e-3).ToArray();
            if (TargetKind == TargetKind.Index)
                target[(n * Pixels) + s] = hot;
            else
                for (var c = 0; c < Classes; c++)
                    target[At(c)] = (TargetKind, Task) switch
                    {
                        (TargetKind.Hard, LossTask.Binary) => hard,
                        (TargetKind.Hard, _) => c == hot ? 1 : 0,
                        (_, LossTask.Binary) => Math.Round(soft[c], 2) > 1 ? 1 : Math.Round(soft[c], 2),
                        _ => soft[c] / soft.Sum(),
                    };
        }
        return this with { Input = input, Target = target };
    }

    // Padded pixels of a one-hot target: a single random class per pixel.
    private double[] OneHotPadding(double[] target, int[] spatial, int last, Random random)
    {
        var pixels = spatial.Aggregate(1, (a, b) => a * b);
        var r = target.ToArray();
        for (var n = 0; n < Batch; n++)
        for (var s = 0; s < pixels; s++)
        {
            if (s % spatial[^1] < last)
                continue;
            var hot = random.Next(Classes);
            for (var c = 0; c < Classes; c++)
                r[((n * Classes) + c) * pixels + s] = c == hot ? 1 : 0;
        }
        return r;
    }

    // Padded pixels of per-class distributions: normalised to sum to 1 over the classes.
    private double[] NormalisedPadding(double[] values, int[] spatial, int last)
    {
        var pixels = spatial.Aggregate(1, (a, b) => a * b);
        var r = values.ToArray();
        for (var n = 0; n < Batch; n++)
        for (var s = 0; s < pixels; s++)
        {
            if (s % spatial[^1] < last)
                continue;
            var total = 0.0;
            for (var c = 0; c < Classes; c++)
                total += r[((n * Classes) + c) * pixels + s] + 1e-3;
            for (var c = 0; c < Classes; c++)
            {
                var i = ((n * Classes) + c) * pixels + s;
                r[i] = (r[i] + 1e-3) / total;
            }
        }
        return r;
    }

    private void RequireHardTarget(string what)
    {
        if (!HasHardTarget)
            throw new InvalidOperationException($"{what} needs a hard (0/1 or class index) target; this case has {TargetKind} targets.");
    }

    private static void CheckPermutation(IReadOnlyList<int> perm, int size, string name)
    {
        ArgumentNullException.ThrowIfNull(perm, name);
        if (perm.Count != size || perm.Distinct().Count() != size || perm.Any(p => p < 0 || p >= size))
            throw new ArgumentException($"expected a permutation of 0..{size - 1}, got [{string.Join(", ", perm)}]", name);
    }

    /// <summary>A short description: layout, shapes, target kind, mask density and class weights.</summary>
    public string Summary
    {
        get
        {
            var mask = Mask is null ? "none" : $"{Mask.Count(m => m)}/{Mask.Length} valid";
            var weights = ClassWeights is null ? "" : $" weights={Format(ClassWeights)}";
            return $"{Task} N={Batch} C={Classes} spatial=[{string.Join("x", Spatial)}] input={InputSpace} target={TargetKind} mask={mask}{weights}";
        }
    }

    /// <summary>
    /// The case in full: its <see cref="Summary"/>, then every value, one line per sample and class (input,
    /// per-class target) or per sample (index target, mask), spatial axes flattened row-major.
    /// </summary>
    public override string ToString()
    {
        var sb = new StringBuilder("LossCase(").Append(Summary).Append(')');
        for (var n = 0; n < Batch; n++)
        for (var c = 0; c < Classes; c++)
            sb.Append("\n  input[")
                .Append(n)
                .Append(',')
                .Append(c)
                .Append("]  = ")
                .Append(Format(Input.Skip(((n * Classes) + c) * Pixels).Take(Pixels)));
        if (TargetKind == TargetKind.Index)
            for (var n = 0; n < Batch; n++)
                sb.Append("\n  target[").Append(n).Append("]   = ").Append(Format(Target.Skip(n * Pixels).Take(Pixels)));
        else
            for (var n = 0; n < Batch; n++)
            for (var c = 0; c < Classes; c++)
                sb.Append("\n  target[")
                    .Append(n)
                    .Append(',')
                    .Append(c)
                    .Append("] = ")
                    .Append(Format(Target.Skip(((n * Classes) + c) * Pixels).Take(Pixels)));
        if (Mask is not null)
            for (var n = 0; n < Batch; n++)
                sb.Append("\n  mask[")
                    .Append(n)
                    .Append("]     = ")
                    .Append(string.Concat(Mask.Skip(n * Pixels).Take(Pixels).Select(m => m ? '1' : '0')));
        return sb.ToString();
    }

    /// <summary>Values as <c>[a, b, …]</c> with up to 6 significant digits.</summary>
    public static string Format(IEnumerable<double> values) =>
        "[" + string.Join(", ", values.Select(v => v.ToString("G6", CultureInfo.InvariantCulture))) + "]";
}
