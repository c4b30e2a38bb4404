using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl;

/// <summary>
/// The validated, normalised inputs of one loss evaluation, in the layout every spec sees:
/// prediction <c>N, C, *spatial</c> in the compute dtype, target in per-class form (or class
/// indices), an optional validity mask <c>N, 1, *spatial</c>, and class weights <c>1, C, 1…</c>.
/// Generated code and the reference interpreter both evaluate against it. Tensors it creates are
/// owned by the caller's dispose scope.
/// </summary>
public sealed class LossContext : IDisposable
{
    private readonly List<Tensor> _owned = new();
    private Tensor? _denseTarget;
    private Tensor? _zero;
    private readonly Tensor? _classWeights;

    private LossContext(
        LossTask task,
        Tensor input,
        Tensor? denseTarget,
        Tensor? targetIndex,
        Tensor? mask,
        Tensor? classWeights,
        bool inputHadClassAxis,
        long? deferredIgnore
    )
    {
        DeferredIgnore = deferredIgnore;
        Task = task;
        Input = input;
        _denseTarget = denseTarget;
        TargetIndex = targetIndex;
        Mask = mask;
        _classWeights = classWeights;
        InputHadClassAxis = inputHadClassAxis;
    }

    /// <summary>The layout the inputs were read with.</summary>
    public LossTask Task { get; }

    /// <summary>The prediction, <c>N, C, *spatial</c>, in the compute dtype (float32 or float64).</summary>
    public Tensor Input { get; }

    /// <summary>Class indices <c>N, 1, *spatial</c> (int64, ignored pixels replaced by 0), or null for per-class targets.</summary>
    public Tensor? TargetIndex { get; }

    /// <summary>The validity mask <c>N, 1, *spatial</c> (bool), or null when every pixel is valid.</summary>
    public Tensor? Mask { get; }

    /// <summary>
    /// Set when the class indices are used as given, with the ignore index not yet applied: a fused kernel
    /// pass flags any pixel holding it (the caller then prepares the inputs again with it applied).
    /// </summary>
    internal long? DeferredIgnore { get; }

    /// <summary>False when a binary input came without its class axis (it was unsqueezed).</summary>
    public bool InputHadClassAxis { get; }

    private long[]? _shape;

    /// <summary>
    /// The prediction's shape, read once (each read of a tensor's shape is a native call that allocates, and a
    /// call asks for it many times). Shared: not to be written to.
    /// </summary>
    internal long[] Shape => _shape ??= Input.shape;

    /// <summary>Batch size N.</summary>
    public long N => Shape[0];

    /// <summary>Number of classes C (1 for binary).</summary>
    public long C => Shape[1];

    /// <summary>Number of spatial axes (0–3).</summary>
    public int SpatialRank => Shape.Length - 2;

    /// <summary>Compute dtype.</summary>
    public ScalarType DType => Input.dtype;

    /// <summary>The target in per-class form <c>N, C, *spatial</c> (one-hot of indices, made on first use).</summary>
    public Tensor Target
    {
        get
        {
            if (_denseTarget is null)
            {
                using var oh = nn.functional.one_hot(TargetIndex!.squeeze(1), C);
                var dims = new long[oh.dim()];
                dims[0] = 0;
                dims[1] = oh.dim() - 1;
                for (var i = 2; i < dims.Length; i++)
                    dims[i] = i - 1;
                _denseTarget = Adopt(oh.permute(dims).to(DType));
            }
            return _denseTarget;
        }
    }

    /// <summary>
    /// Class weights shaped <c>1, C, 1…</c> (ones when the module has none): a new handle on each read, which the caller
    /// owns and may dispose (generated code reads it once per block).
    /// </summary>
    public Tensor ClassWeights => _classWeights?.alias() ?? ones(ClassShape(), dtype: DType, device: Input.device);

    /// <summary>The per-class positive weights shaped <c>1, C, 1…</c> in the compute dtype (all ones when not given; a new handle on each read).</summary>
    public Tensor PosWeights => _posWeights?.alias() ?? ones(ClassShape(), dtype: DType, device: Input.device);

    private Tensor? _posWeights;

    /// <summary>Attaches positive weights (a vector of length C, values checked by the module at construction).</summary>
    internal void AttachPosWeights(string loss, Tensor weights)
    {
        if (weights.dim() != 1 || weights.shape[0] != C)
            throw new ArgumentException(
                $"{loss}: posWeights has shape {InputValidation.Show(weights.shape)}; expected [{C}] (one positive weight per class, C = {C})",
                "posWeights"
            );
        if (weights.device_type != Input.device_type || weights.device_index != Input.device_index)
            throw new ArgumentException(
                $"{loss}: posWeights is on {weights.device}, the input on {Input.device}; move the module with .to(device).",
                "posWeights"
            );
        _posWeights = Adopt(weights.to(DType).reshape(ClassShape()));
    }

    /// <summary>The class indices 0…C-1 shaped <c>1, C, 1…</c>, in the compute dtype.</summary>
    public Tensor ClassIndex => arange(C, dtype: DType, device: Input.device).reshape(ClassShape());

    /// <summary>The dimensions of the named axes.</summary>
    public long[] Dims(Over over)
    {
        var dims = new List<long>(5);
        if ((over & Over.Batch) != 0)
            dims.Add(0);
        if ((over & Over.Classes) != 0)
            dims.Add(1);
        if ((over & Over.Spatial) != 0)
            for (var i = 0; i < SpatialRank; i++)
                dims.Add(2 + i);
        return dims.ToArray();
    }

    /// <summary>A 0-dimensional tensor holding <paramref name="value"/> in the compute dtype and device.</summary>
    public Tensor Scalar(double value) => full(Array.Empty<long>(), value, dtype: DType, device: Input.device);

    /// <summary>A plain sum over the named axes, keeping them as size-1 axes (no masking).</summary>
    public Tensor Sum(Tensor x, Over over)
    {
        var dims = Dims(over);
        return dims.Length == 0 ? x.alias() : x.sum(dims, keepdim: true);
    }

    /// <summary>
    /// The per-pixel weight map <c>N, 1, *spatial</c> in the compute dtype, or null. It scales every pixel's
    /// contribution to a sum over pixels (<see cref="Masked"/>); counts and weighted-mean denominators are not
    /// scaled (torch's elementwise <c>weight</c>: Mean = Σ w·ℓ / N).
    /// </summary>
    public Tensor? PixelWeight { get; private set; }

    /// <summary>
    /// The value as it enters a sum over pixels: invalid pixels set to zero and, with a weight map, each pixel
    /// scaled by its weight (a copy of the handle when there is neither).
    /// </summary>
    public Tensor Masked(Tensor x)
    {
        if (PixelWeight is null)
            return Valid(x);
        using var weighted = x * PixelWeight;
        return Valid(weighted);
    }

    /// <summary>The value with invalid pixels set to zero, never weighted (for denominators).</summary>
    internal Tensor Valid(Tensor x)
    {
        if (Mask is null)
            return x.alias();
        _zero ??= Adopt(zeros(Array.Empty<long>(), dtype: DType, device: Input.device));
        return where(Mask, x, _zero);
    }

    /// <summary>
    /// Validates a per-pixel weight map (shape <c>N, *spatial</c> or <c>N, 1, *spatial</c> of the normalised input,
    /// floating point, same device; with <paramref name="checkValues"/> finite and ≥ 0, one host read) and attaches
    /// it in the compute dtype.
    /// </summary>
    internal void AttachPixelWeight(string loss, Tensor weight, bool checkValues)
    {
        ArgumentNullException.ThrowIfNull(weight);
        CheckBeside(loss, "weight", "weight", weight, "weight map");
        var (pixelShape, pixelShape1) = PixelShapes();
        if (!(weight.shape.SequenceEqual(pixelShape) || weight.shape.SequenceEqual(pixelShape1)))
            throw new ArgumentException(
                $"{loss}: weight has shape {InputValidation.Show(weight.shape)}; expected {InputValidation.Show(pixelShape)} or {InputValidation.Show(pixelShape1)} (N, *spatial: one weight per pixel).",
                "weight"
            );
        var w = weight.detach().to(DType).reshape(pixelShape1).contiguous();
        if (checkValues)
        {
            using var zero = 0.0.ToScalar();
            using var bad = w.lt(zero).logical_or(w.isfinite().logical_not());
            if (FirstOffending(bad, w) is { } found)
            {
                var (at, value) = found;
                w.Dispose();
                throw new ArgumentException(
                    $"{loss}: weight holds {value} at flat position {at}; a pixel weight must be finite and >= 0.",
                    "weight"
                );
            }
        }
        PixelWeight = Adopt(w);
    }

    // The shapes of a per-pixel tensor beside the input: N, *spatial and N, 1, *spatial.
    private (long[] Plain, long[] WithChannel) PixelShapes()
    {
        var shape = Shape;
        return (shape.Take(1).Concat(shape.Skip(2)).ToArray(), shape.Take(1).Append(1L).Concat(shape.Skip(2)).ToArray());
    }

    // A tensor passed beside the input (a weight or a named map): on the input's device and floating point.
    private void CheckBeside(string loss, string label, string parameter, Tensor tensor, string what)
    {
        if (tensor.device_type != Input.device_type || tensor.device_index != Input.device_index)
            throw new ArgumentException(
                $"{loss}: {label} is on {tensor.device}, the input on {Input.device}; move both to one device.",
                parameter
            );
        if (!tensor.is_floating_point())
            throw new ArgumentException($"{loss}: {label} has dtype {tensor.dtype}; expected a floating-point {what}.", parameter);
    }

    // The flat position and value of the first element flagged in bad, or null when none is (one host
    // read when none is; a few more to name the offender).
    private static (long At, double Value)? FirstOffending(Tensor bad, Tensor values)
    {
        using var any = bad.any();
        if (!any.cpu().item<bool>())
            return null;
        using var first = bad.flatten().nonzero()[0, 0];
        var at = first.item<long>();
        using var flat = values.flatten();
        using var element = flat[at];
        return (at, element.to(ScalarType.Float64).cpu().item<double>());
    }

    private readonly Dictionary<string, Tensor> _maps = new(StringComparer.Ordinal);

    /// <summary>
    /// The named map <paramref name="name"/> a spec reads (<see cref="Dsl.PixelMap"/>: <c>N, 1, *spatial</c>;
    /// <see cref="Dsl.ClassMap"/>: <c>N, C, *spatial</c>), in the compute dtype, detached.
    /// </summary>
    /// <param name="name">The map's name in the spec.</param>
    public Tensor Map(string name) =>
        _maps.TryGetValue(name, out var map)
            ? map
            : throw new ArgumentException(
                $"the spec reads the map '{name}', which this call did not pass (maps: {{ [\"{name}\"] = ... }}).",
                "maps"
            );

    /// <summary>
    /// Validates a named map (same device; floating point; a per-pixel map <c>N, *spatial</c> or <c>N, 1, *spatial</c>
    /// of the normalised input, a per-class map <c>N, C, *spatial</c> (or <c>N, *spatial</c> for one channel); with
    /// <paramref name="checkValues"/> finite, one host read) and attaches it in the compute dtype.
    /// </summary>
    internal void AttachMap(string loss, string name, bool perClass, Tensor map, bool checkValues)
    {
        ArgumentNullException.ThrowIfNull(map, name);
        var label = $"maps[\"{name}\"]";
        var shape = Shape;
        CheckBeside(loss, label, "maps", map, "map");
        var (pixelShape, pixelShape1) = PixelShapes();
        long[] target;
        if (perClass)
        {
            if (map.shape.SequenceEqual(shape))
                target = shape;
            else if (C == 1 && map.shape.SequenceEqual(pixelShape))
                target = shape;
            else
                throw new ArgumentException(
                    $"{loss}: {label} has shape {InputValidation.Show(map.shape)}; expected {InputValidation.Show(shape)} (N, C, *spatial: one value per pixel and class, the input's layout).",
                    "maps"
                );
        }
        else if (map.shape.SequenceEqual(pixelShape) || map.shape.SequenceEqual(pixelShape1))
            target = pixelShape1;
        else
            throw new ArgumentException(
                $"{loss}: {label} has shape {InputValidation.Show(map.shape)}; expected {InputValidation.Show(pixelShape)} or {InputValidation.Show(pixelShape1)} (N, *spatial: one value per pixel).",
                "maps"
            );
        var m = map.detach().to(DType).reshape(target).contiguous();
        if (checkValues)
        {
            using var bad = m.isfinite().logical_not();
            if (FirstOffending(bad, m) is { } found)
            {
                var (at, value) = found;
                m.Dispose();
                throw new ArgumentException(
                    $"{loss}: {label} holds {value} at [{string.Join(", ", InputValidation.Unravel(at, target))}] ({(perClass ? "N, C" : "N, 1")}, *spatial); a map's values must be finite.",
                    "maps"
                );
            }
        }
        if (_maps.ContainsKey(name))
            throw new ArgumentException($"{loss}: {label} is attached twice.", "maps");
        _maps[name] = Adopt(m);
    }

    /// <summary>
    /// The number of elements over the named axes, kept as size-1 axes: valid pixels only when
    /// <paramref name="valid"/>, every position otherwise. Never below 1, so a mean over no valid
    /// element is 0, not NaN.
    /// </summary>
    public Tensor Count(Over over, bool valid = true) => Count(over, valid, atLeastOne: true);

    /// <summary>
    /// The total of <see cref="Count(Over, bool)"/> over what it keeps, as a number: arithmetic on the shape
    /// where every pixel counts (no tensor, no host read), the mask's sum otherwise.
    /// </summary>
    internal double CountTotal(Over over, bool valid)
    {
        if (valid && Mask is not null && (over & (Over.Batch | Over.Spatial)) != Over.None)
        {
            using var c = Count(over, valid);
            return c.sum().ToDouble();
        }
        return MeanRule.CountDenominator(Positions(over));
    }

    // The number of positions over the named axes, every pixel counted.
    private double Positions(Over over)
    {
        double count = (over & Over.Classes) != 0 ? C : 1L;
        if ((over & Over.Batch) != 0)
            count *= N;
        if ((over & Over.Spatial) != 0)
            for (var i = 0; i < SpatialRank; i++)
                count *= Shape[2 + i];
        return count;
    }

    /// <summary>
    /// As <see cref="Count(Over, bool)"/>; without <paramref name="atLeastOne"/> an empty count is 0 (a sum
    /// to be added up with other parts of a batch, as the data-parallel statistics are).
    /// </summary>
    internal Tensor Count(Over over, bool valid, bool atLeastOne)
    {
        var classes = (over & Over.Classes) != 0 ? C : 1L;
        var pixelAxes = over & (Over.Batch | Over.Spatial);
        if (valid && Mask is not null && pixelAxes != Over.None)
        {
            using var m = Mask.to(DType);
            using var s = m.sum(Dims(pixelAxes), keepdim: true);
            var scaled = s * classes;
            if (!atLeastOne)
                return scaled;
            using (scaled)
            {
                // MeanRule.CountDenominator, elementwise.
                using var one = 1.0.ToScalar(); // held until the call returns (see InputValidation)
                return scaled.clamp_min(one);
            }
        }
        var count = Positions(over);
        return full(Array.Empty<long>(), atLeastOne ? MeanRule.CountDenominator(count) : count, dtype: DType, device: Input.device);
    }

    /// <summary>Σ_c x·onehot(target) over the class axis (kept as size 1): a gather for class indices.</summary>
    public Tensor SelectTarget(Tensor x)
    {
        if (TargetIndex is null)
        {
            using var prod = x * Target;
            return prod.sum(1, keepdim: true);
        }
        var shape = Shape;
        using var full = x.expand(shape);
        return full.gather(1, TargetIndex);
    }

    // A tensor cached on first use must outlive the (possibly inner) dispose scope that happened to
    // be current when it was first asked for.
    // Such tensors are detached from every scope and released by Dispose (or, if the context is
    // never disposed, by the garbage collector).
    private Tensor Adopt(Tensor cached)
    {
        cached.DetachFromDisposeScope();
        _owned.Add(cached);
        return cached;
    }

    /// <summary>Releases the tensors the context made on first use (the one-hot target, constants).</summary>
    public void Dispose()
    {
        foreach (var t in _owned)
            t.Dispose();
        _owned.Clear();
        _maps.Clear();
        _denseTarget = null;
        _zero = null;
    }

    private long[] ClassShape()
    {
        var shape = Enumerable.Repeat(1L, Shape.Length).ToArray();
        shape[1] = C;
        return shape;
    }

    /// <summary>
    /// Validates and normalises raw inputs. Throws <see cref="ArgumentException"/> naming the tensor,
    /// its shape or dtype, and what was expected.
    /// </summary>
    public static LossContext Create(
        string loss,
        LossTask task,
        Tensor input,
        Tensor target,
        Tensor? mask,
        Tensor? classWeights,
        long ignoreIndex,
        bool checkValues
    ) => Create(loss, task, input, target, mask, classWeights, ignoreIndex, checkValues, deferToKernel: false);

    // With deferToKernel the value checks are left to a fused kernel pass, and with deferIgnore the
    // detection of ignored pixels too.
    internal static LossContext Create(
        string loss,
        LossTask task,
        Tensor input,
        Tensor target,
        Tensor? mask,
        Tensor? classWeights,
        long ignoreIndex,
        bool checkValues,
        bool deferToKernel,
        bool deferIgnore = false
    ) =>
        InputValidation.Normalise(
            loss,
            task,
            input,
            target,
            mask,
            classWeights,
            ignoreIndex,
            checkValues,
            (i, dt, ti, m, w, hadC, ign) => new LossContext(task, i, dt, ti, m, w, hadC, ign),
            deferToKernel,
            deferIgnore
        );
}
