using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using TorchSharp;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>
/// Base class of every generated loss module. Validates and normalises the inputs (see
/// <see cref="LossContext"/>), evaluates the compiled spec, then applies <see cref="Reduction"/>.
/// </summary>
public abstract partial class LossModule : LossFunction
{
    /// <summary>Creates the module.</summary>
    protected LossModule(string name, LossTask task, Reduction reduction)
        : base(name)
    {
        Task = task;
        Reduction = reduction;
    }

    /// <summary>The layout this loss expects.</summary>
    public LossTask Task { get; }

    /// <summary>How the per-sample/per-pixel values are reduced: Mean (default), Sum or None.</summary>
    public Reduction Reduction { get; }

    private const string ClassWeightsBuffer = "class_weights";

    /// <summary>
    /// Optional class weights, a vector of length C (for specs that use <c>ClassWeights</c>), fixed at
    /// construction. Like torch.nn's <c>weight</c> they are a registered buffer: <c>loss.to(device)</c>
    /// moves them and <c>state_dict()</c> holds them (as <c>class_weights</c>).
    /// </summary>
    public Tensor? ClassWeights
    {
        get => _hasClassWeights ? get_buffer(ClassWeightsBuffer) : null;
        init => SetClassWeights(value);
    }

    private bool _hasClassWeights;

    private void SetClassWeights(Tensor? value)
    {
        if (value is null)
        {
            if (_hasClassWeights)
                _internal_buffers.Remove(ClassWeightsBuffer);
            _hasClassWeights = false;
            return;
        }
        if (_hasClassWeights)
            _internal_buffers.Remove(ClassWeightsBuffer);
        register_buffer(ClassWeightsBuffer, value);
        _hasClassWeights = true;
    }

    private const string PosWeightsBuffer = "pos_weights";

    /// <summary>
    /// Optional positive weights per class, a vector of length C (for specs that read <c>PosWeights</c>: torch's
    /// <c>pos_weight</c> of shape C), fixed at construction and checked then (finite, ≥ 0). A registered buffer
    /// (<c>pos_weights</c>): <c>loss.to(device)</c> moves them and <c>state_dict()</c> holds them.
    /// </summary>
    public Tensor? PosWeights
    {
        get => _hasPosWeights ? get_buffer(PosWeightsBuffer) : null;
        init
        {
            if (value is null)
                return;
            if (value.dim() != 1 || !value.is_floating_point())
                throw new ArgumentException(
                    $"{GetName()}: posWeights has shape {InputValidation.Show(value.shape)} and dtype {value.dtype}; expected a floating-point vector [C] (one positive weight per class)",
                    "posWeights"
                );
            using (var bad = value.lt(0.0).logical_or(value.isfinite().logical_not()))
            using (var any = bad.any())
                if (any.cpu().item<bool>())
                    throw new ArgumentException(
                        $"{GetName()}: posWeights must be finite and >= 0; got [{string.Join(", ", value.to(ScalarType.Float64).cpu().data<double>().ToArray())}]",
                        "posWeights"
                    );
            register_buffer(PosWeightsBuffer, value);
            _hasPosWeights = true;
        }
    }

    private bool _hasPosWeights;

    // The context with this module's positive weights attached (their length checked against C).
    private LossContext WithPosWeights(LossContext ctx)
    {
        if (PosWeights is { } pw)
        {
            try
            {
                ctx.AttachPosWeights(GetName(), pw);
            }
            catch
            {
                ctx.Dispose();
                throw;
            }
        }
        return ctx;
    }

    // The testing kit evaluates one module on cases with different class weights: it swaps them for the
    // duration of a call (not part of the public surface, where weights are fixed at construction).
    internal Tensor? SwapClassWeights(Tensor? weights)
    {
        var previous = ClassWeights;
        SetClassWeights(weights);
        return previous;
    }

    /// <summary>Class index that marks a pixel as void (multiclass index targets): it becomes masked. Fixed at construction.</summary>
    public long IgnoreIndex { get; init; } = -100;

    /// <summary>
    /// Whether to check values too (finite input, target in [0, 1] or a valid class index, weights
    /// >= 0), fixed at construction. Shapes and dtypes are always checked. On the fused CPU kernel the
    /// checks run inside its passes (no extra read); elsewhere all checks read the host once together.
    /// </summary>
    public bool CheckValues { get; init; } = true;

    /// <summary>The spec as an expression, built by calling the spec method with this module's hyperparameters.</summary>
    public abstract Expr BuildSpec();

    /// <summary>The axes the compiled spec's value keeps (before <see cref="Reduction"/>).</summary>
    protected abstract Over ResultAxes { get; }

    /// <summary>
    /// The compiled spec (generated code) evaluated on normalised inputs: its value, and for specs
    /// whose result is <c>WeightedMean(value, weight)</c> the weight the Mean reduction divides by.
    /// </summary>
    protected abstract (Tensor Value, Tensor? MeanWeight) Evaluate(LossContext ctx);

    /// <summary>
    /// How gradients are computed: <see cref="ExecutionMode.Auto"/> (the default) runs the fused CPU
    /// kernel (value and analytic gradient in one or two passes) for float32 CPU inputs with Mean or Sum
    /// reduction, and autograd through the generated forward otherwise; the other modes force a path.
    /// </summary>
    public ExecutionMode Mode { get; init; } = ExecutionMode.Auto;

    /// <summary>True when the generator derived an analytic backward for this spec.</summary>
    public virtual bool HasAnalyticBackward => false;

    private readonly Kernels.CpuKernel?[] _kernels = new Kernels.CpuKernel?[2];
    private readonly bool[] _kernelBuilt = new bool[2];
    private Kernels.ISimd? _kernelWidth;

    // Tests compare the vector widths: the kernels are built again at this one.
    internal void UseKernelWidth(Kernels.ISimd simd)
    {
        lock (_kernels)
        {
            _kernelWidth = simd;
            Array.Clear(_kernelBuilt);
        }
    }

    // The fused CPU kernel for this module's spec and hyperparameters, with or without a mask, found on
    // first use (null when its schedule does not cover the spec). Modules of the same spec share it
    // (Kernels.KernelCache): only the first compiles its passes.
    internal Kernels.CpuKernel? KernelFor(bool masked)
    {
        var i = masked ? 1 : 0;
        lock (_kernels)
        {
            if (!_kernelBuilt[i])
            {
                _kernels[i] = Kernels.KernelCache.Kernel(BuildSpec(), Task, masked, _kernelWidth ?? Kernels.Simd.Native);
                _kernelBuilt[i] = true;
            }
            return _kernels[i];
        }
    }

    private long _kernelRuns,
        _checkedKernelRuns,
        _valueKernelRuns;

    /// <summary>How many times this module ran a kernel: in all, with the checks fused in, and for the value alone (for tests).</summary>
    internal (long All, long Checked, long ValueOnly) KernelRuns =>
        (Interlocked.Read(ref _kernelRuns), Interlocked.Read(ref _checkedKernelRuns), Interlocked.Read(ref _valueKernelRuns));

    // Runs a kernel for the value (valueOnly) or the value and gradient, counting the run.
    private Tensor RunKernel(
        Kernels.CpuKernel kernel,
        LossContext ctx,
        bool check,
        bool valueOnly,
        out Tensor? gradient,
        out Kernels.CheckFlags found
    )
    {
        Interlocked.Increment(ref _kernelRuns);
        if (check)
            Interlocked.Increment(ref _checkedKernelRuns);
        if (valueOnly)
        {
            Interlocked.Increment(ref _valueKernelRuns);
            gradient = null;
            return kernel.Value(ctx, Reduction, check, out found);
        }
        var value = kernel.Forward(ctx, Reduction, check, out var written, out found);
        gradient = written;
        return value;
    }

    /// <summary>True when the fused CPU kernel covers this spec (it runs on float32 CPU tensors with Mean or Sum).</summary>
    public bool HasCpuKernel => HasAnalyticBackward && KernelFor(masked: true) is not null && KernelFor(masked: false) is not null;

    /// <summary>
    /// The generated analytic backward: d loss / d prediction (broadcastable to the normalised input)
    /// given the adjoint <paramref name="seed"/> of the spec's value (already masked and scaled for
    /// the reduction) and, for <c>WeightedMean</c> results, the adjoint of its weight.
    /// </summary>
    protected virtual Tensor Backward(LossContext ctx, Tensor seed, Tensor? weightSeed) =>
        throw new NotSupportedException($"{GetName()} has no analytic backward");

    /// <inheritdoc />
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (Maps.Count > 0)
            CheckMaps(null);
        return Forward(input, target, mask, null);
    }

    // The node's input is a view of the caller's tensor, not the tensor itself. The managed side of a
    // custom autograd node keeps a reference to the gradient it returns, so libtorch, which moves a
    // gradient into a leaf's .grad only when nothing else holds it, would copy the whole gradient
    // there. Through the view, the gradient reaching the leaf is the view's backward (a new handle on
    // the same memory), which libtorch moves in: no copy, half the peak memory. A metadata operation
    // either way; a non-leaf input simply passes the gradient on through the view.
    private static Tensor HandOverView(Tensor input) => input.requires_grad ? input.view(input.shape) : input;

    // The unweighted forward, with the spec's maps (checked by the caller).
    private Tensor Forward(Tensor input, Tensor target, Tensor? mask, IReadOnlyDictionary<string, Tensor>? maps)
    {
        CheckUsage();
        if (UsesFusedPath(input))
        {
            // Inputs are validated before the autograd node exists: a rejected input leaves nothing
            // half-built behind.
            using var outer = NewDisposeScope();
            var call = Prepare(ForKernel(input), target, mask, maps);
            using var lctx = call.Context;
            var output = FusedLossFunction.apply(this, HandOverView(input), target, mask!, call);
            return output.MoveToOuterDisposeScope();
        }
        if (UsesValueKernel(input))
        {
            // No gradient wanted (no_grad, or an input that does not require one: validation, metrics): the
            // kernel's value-only passes, with the same checks, instead of the generated forward's eager ops.
            using var outer = NewDisposeScope();
            var call = Prepare(ForKernel(input), target, mask, maps, valueOnly: true);
            using var lctx = call.Context;
            if (call.Loss is { } loss)
                return loss.MoveToOuterDisposeScope();
            var (v, w) = Evaluate(lctx);
            return Reductions.Apply(lctx, v, ResultAxes, Reduction, w).MoveToOuterDisposeScope();
        }
        using var scope = NewDisposeScope();
        using var ctx = Context(input, target, mask, null, maps);
        CheckLayout(ctx.C);
        var (value, weight) = Evaluate(ctx);
        return Reductions.Apply(ctx, value, ResultAxes, Reduction, weight).MoveToOuterDisposeScope();
    }

    // The input as the kernel reads it: detached and contiguous (a strided view is copied once rather than
    // sent down the slower path that recomputes in the backward), its class count checked. (An input
    // without a class axis is rejected, naming its shape, by the validation in Prepare.)
    private Tensor ForKernel(Tensor input)
    {
        var detached = input.detach();
        if (!detached.is_contiguous())
            detached = detached.contiguous();
        if (Task == LossTask.Multiclass && detached.dim() >= 2)
            CheckLayout(detached.shape[1]);
        return detached;
    }

    // A call that wants no gradient, on inputs the CPU kernel reads, in a mode that lets it run.
    private bool UsesValueKernel(Tensor input) =>
        (!input.requires_grad || !is_grad_enabled())
        && Mode is ExecutionMode.Auto or ExecutionMode.Kernel
        && Maps.Count == 0
        && Kernels.CpuKernel.Reads(input, Reduction);

    /// <summary>
    /// The loss with a per-pixel weight map (see <see cref="LossFunction.forward(Tensor, Tensor, Tensor?, Tensor?)"/>):
    /// inside the spec every sum over pixels is weighted, and so are the Mean and Sum reductions' sums; the Mean's
    /// count (and a <c>WeightedMean</c>'s denominator) is not. Weighted calls run the generated forward with
    /// autograd (the fused kernel does not read weight maps yet); <see cref="ExecutionMode.Kernel"/> refuses them.
    /// </summary>
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask, Tensor? weight) => forward(input, target, mask, weight, null);

    /// <summary>
    /// The loss with the named maps its spec reads (<see cref="Dsl.PixelMap"/>, <see cref="Dsl.ClassMap"/>; see
    /// <see cref="Maps"/>) and an optional per-pixel weight map. Each map is checked (device, floating point, layout,
    /// finite values when <see cref="CheckValues"/>); a map the spec does not read is rejected, naming it, and so is a
    /// missing one. Maps take the generated analytic backward (saved like the input, so changing one in place before
    /// <c>backward()</c> is caught); the fused CPU kernel does not read maps yet, so <see cref="ExecutionMode.Kernel"/>
    /// refuses a spec with maps, and a weight map runs the generated forward with autograd.
    /// </summary>
    public override Tensor forward(Tensor input, Tensor target, Tensor? mask, Tensor? weight, IReadOnlyDictionary<string, Tensor>? maps)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        CheckMaps(maps);
        if (weight is null)
            return Forward(input, target, mask, maps);
        CheckUsage();
        if (Mode == ExecutionMode.Kernel)
            throw new NotSupportedException(
                $"{GetName()}: the fused kernel reads neither a per-pixel weight map nor named maps; use ExecutionMode.Auto."
            );
        using var scope = NewDisposeScope();
        using var ctx = Context(input, target, mask, weight, maps);
        CheckLayout(ctx.C);
        var (value, meanWeight) = Evaluate(ctx);
        return Reductions.Apply(ctx, value, ResultAxes, Reduction, meanWeight).MoveToOuterDisposeScope();
    }

    // The validated inputs of an autograd or reference call, with the weight map and the maps attached.
    private LossContext Context(
        Tensor input,
        Tensor target,
        Tensor? mask,
        Tensor? weight,
        IReadOnlyDictionary<string, Tensor>? maps,
        bool? checkValues = null
    )
    {
        var check = checkValues ?? CheckValues;
        var ctx = WithPosWeights(LossContext.Create(GetName(), Task, input, target, mask, ClassWeights, IgnoreIndex, check));
        try
        {
            if (weight is not null)
                ctx.AttachPixelWeight(GetName(), weight, check);
            foreach (var (name, perClass) in Maps)
                ctx.AttachMap(GetName(), name, perClass, maps![name], check);
            return ctx;
        }
        catch
        {
            ctx.Dispose();
            throw;
        }
    }

    private IReadOnlyDictionary<string, bool>? _maps;

    /// <summary>
    /// The named maps the spec reads, each with whether it is per class (<see cref="Dsl.ClassMap"/>, <c>N, C, *spatial</c>)
    /// or per pixel (<see cref="Dsl.PixelMap"/>, <c>N, 1, *spatial</c>); empty for most losses.
    /// </summary>
    public override IReadOnlyDictionary<string, bool> Maps => _maps ??= MapsOf(BuildSpec(), GetName());

    internal static IReadOnlyDictionary<string, bool> MapsOf(Expr spec, string loss)
    {
        var maps = new SortedDictionary<string, bool>(StringComparer.Ordinal);
        foreach (var e in Structure.PostOrder(spec))
            if (e is Input { IsMap: true } map)
            {
                var perClass = map.Kind == InputKind.ClassMap;
                if (maps.TryGetValue(map.Name!, out var known) && known != perClass)
                    throw new InvalidOperationException(
                        $"{loss}: its spec reads '{map.Name}' both as a PixelMap and as a ClassMap; give the two maps different names."
                    );
                maps[map.Name!] = perClass;
            }
        return maps;
    }

    // Every map the spec reads is given, and nothing else.
    private void CheckMaps(IReadOnlyDictionary<string, Tensor>? maps)
    {
        var given = maps ?? new Dictionary<string, Tensor>();
        foreach (var name in given.Keys)
            if (!Maps.ContainsKey(name))
                throw new ArgumentException(
                    Maps.Count == 0
                        ? $"{GetName()}: a map '{name}' was given, but this loss reads no maps (its spec has no PixelMap or ClassMap); remove it."
                        : $"{GetName()}: a map '{name}' was given, but this loss reads only {Describe(Maps)}; check the name.",
                    nameof(maps)
                );
        var missing = Maps.Keys.Where(n => !given.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException(
                $"{GetName()}: this loss reads {Describe(Maps)}, and {string.Join(", ", missing.Select(n => $"'{n}'"))} was not given; pass it: loss.forward(input, target, mask, weight: null, maps: new Dictionary<string, Tensor> {{ [\"{missing[0]}\"] = ... }}).",
                nameof(maps)
            );
    }

    private static string Describe(IReadOnlyDictionary<string, bool> maps) =>
        string.Join(", ", maps.Select(m => $"the map '{m.Key}' ({(m.Value ? "N, C" : "N, 1")}, *spatial)"));

    /// <summary>
    /// True for a loss whose spec switches a softmax part to a sigmoid one on a single channel (DiceCeLoss, as MONAI):
    /// its one-channel inputs are not rejected for the softmax.
    /// </summary>
    private protected virtual bool OneChannelIsBinary => false;

    /// <summary>A check of the class count a spec's options need beyond the common ones (none by default).</summary>
    /// <param name="classes">The input's channel count C.</param>
    private protected virtual void CheckClassCount(long classes) { }

    // Options that cannot mean anything for this input's layout.
    private void CheckLayout(long classes)
    {
        CheckClassCount(classes);
        if (classes == 1 && this is IClassSelection { IncludeBackground: false })
            throw new ArgumentException(
                $"{GetName()}: includeBackground is false, but the input has a single channel (C = 1): dropping channel 0 leaves no class to score (the loss would be 0, or NaN). Keep includeBackground: true (the default) for one-channel binary segmentation; MONAI ignores the option here with a warning.",
                "input"
            );
        if (classes == 1 && Task == LossTask.Multiclass && SoftmaxOfPrediction && !OneChannelIsBinary)
            throw new ArgumentException(
                $"{GetName()}: the input has a single channel (C = 1), and the loss takes a softmax over the channels: the softmax of one channel is 1, so that part of the loss is constant (its gradient is 0 and training learns nothing from it). For one-channel binary segmentation use a sigmoid loss (BceLoss, BceDiceLoss, BinaryFocalLoss, or DiceLoss/TverskyLoss with activation: Sigmoid), or give the background its own channel; MONAI's DiceCELoss switches its cross-entropy to BCE here.",
                "input"
            );
    }

    // Set once a call had pixels at the ignore index: later calls prepare the class indices for them
    // up front instead of letting the kernel's checks find them (and running again).
    private volatile bool _expectIgnored;

    // The validated inputs of a fused call and, where the CPU kernel runs, its value and gradient. The
    // value checks run inside the kernel's last pass; only when that pass flags something are the inputs
    // checked again the slow way, which names the tensor, the value and its position, or (when the only
    // finding was ignored pixels) prepares them and runs the kernel once more.
    private FusedCall Prepare(
        Tensor detached,
        Tensor target,
        Tensor? mask,
        IReadOnlyDictionary<string, Tensor>? maps,
        bool valueOnly = false
    )
    {
        if (Maps.Count > 0)
        {
            // The kernel does not read maps: the generated forward and analytic backward run on the checked inputs.
            if (Mode == ExecutionMode.Kernel)
                throw new NotSupportedException($"{GetName()}: the fused kernel does not read named maps; use ExecutionMode.Auto.");
            var context = Context(detached, target, mask, null, maps);
            return new FusedCall(context, null, null) { Maps = Maps.Keys.Select(n => (n, maps![n])).ToArray() };
        }
        // Not CpuKernel.Reads: a half-precision input qualifies too, since its context holds it as float32.
        if (Mode != ExecutionMode.TorchSharp && Reduction is Reduction.Mean or Reduction.Sum && detached.device_type == DeviceType.CPU)
        {
            // Ignored pixels are left for the kernel's pass to find (with or without CheckValues: the fused
            // detection costs less than an eager comparison and a host read); the kernel then checks the class
            // indices even when the values are not checked, and only its index finding matters there.
            var deferred = WithPosWeights(
                LossContext.Create(
                    GetName(),
                    Task,
                    detached,
                    target,
                    mask,
                    ClassWeights,
                    IgnoreIndex,
                    CheckValues,
                    deferToKernel: true,
                    deferIgnore: !_expectIgnored
                )
            );
            if (Kernels.CpuKernel.Accepts(deferred, Reduction) && KernelFor(deferred.Mask is not null) is { } kernel)
            {
                var check = CheckValues || deferred.DeferredIgnore is not null;
                var loss = RunKernel(kernel, deferred, check, valueOnly, out var gradient, out var found);
                if (found == Kernels.CheckFlags.None || (!CheckValues && (found & Kernels.CheckFlags.Index) == 0))
                    return new FusedCall(deferred, loss, gradient);
                loss.Dispose();
                gradient?.Dispose();
                deferred.Dispose();
                // Throws the precise error for a bad value; otherwise (ignored pixels) prepares them.
                var checkedCtx = WithPosWeights(
                    LossContext.Create(GetName(), Task, detached, target, mask, ClassWeights, IgnoreIndex, CheckValues)
                );
                if ((found & Kernels.CheckFlags.Index) != 0)
                    _expectIgnored = true;
                if (Kernels.CpuKernel.Accepts(checkedCtx, Reduction) && KernelFor(checkedCtx.Mask is not null) is { } again)
                {
                    var loss2 = RunKernel(again, checkedCtx, check: false, valueOnly, out var gradient2, out _);
                    return new FusedCall(checkedCtx, loss2, gradient2);
                }
                return new FusedCall(checkedCtx, null, null);
            }
            deferred.Dispose();
        }
        return new FusedCall(
            WithPosWeights(LossContext.Create(GetName(), Task, detached, target, mask, ClassWeights, IgnoreIndex, CheckValues)),
            null,
            null
        );
    }

    private bool? _usesClassWeights;

    /// <summary>Whether the spec reads <c>ClassWeights</c> (a module whose spec does not rejects them).</summary>
    public bool UsesClassWeights => _usesClassWeights ??= Structure.Any(BuildSpec(), e => e is Input { Kind: InputKind.ClassWeights });

    private bool? _usesPosWeights;

    /// <summary>Whether the spec reads <c>PosWeights</c> (a module whose spec does not rejects them).</summary>
    public bool UsesPosWeights => _usesPosWeights ??= Structure.Any(BuildSpec(), e => e is Input { Kind: InputKind.PositiveWeights });

    private bool? _softmaxOfPrediction;

    // Whether the spec takes a softmax (or log-softmax) over the channels of the prediction: constant for one channel.
    private bool SoftmaxOfPrediction =>
        _softmaxOfPrediction ??= Structure.Any(
            BuildSpec(),
            e =>
                e is Unary { Op: UnaryOp.Softmax or UnaryOp.LogSoftmax } u
                && Structure.Any(u.Arg, a => a is Input { Kind: InputKind.Prediction })
        );

    // Misuse that would otherwise be silently ignored.
    private void CheckUsage()
    {
        if (ClassWeights is not null && !UsesClassWeights)
            throw new ArgumentException(
                $"{GetName()}: classWeights were given, but this loss does not use class weights (its spec never reads ClassWeights); remove them or choose a loss that weights classes",
                nameof(ClassWeights)
            );
        if (PosWeights is not null && !UsesPosWeights)
            throw new ArgumentException(
                $"{GetName()}: posWeights were given, but this loss does not use them (its spec never reads PosWeights); remove them or choose a loss with per-class positive weights",
                nameof(PosWeights)
            );
    }

    // Auto uses the analytic backward where the CPU kernel can run (measured fastest there); elsewhere
    // autograd through the generated forward, which measured faster than the analytic TorchSharp path
    // on both CPU and CUDA (docs/benchmarks.md). The other modes force a path.
    private bool UsesFusedPath(Tensor input)
    {
        if (!HasAnalyticBackward || !input.requires_grad || !is_grad_enabled())
            return false;
        return Mode switch
        {
            ExecutionMode.Autograd => false,
            ExecutionMode.Auto => input.device_type == DeviceType.CPU
                && Reduction != Reduction.None
                && input.dtype is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16,
            _ => true,
        };
    }

    // The forward of the fused path on validated inputs: the value without an autograd graph, and what
    // the backward needs besides the saved tensors (the kernel's gradient, or the two totals of a
    // weighted mean).
    internal Tensor FusedForward(FusedCall call, long[] inputShape, ScalarType inputType, out FusedState state)
    {
        using var scope = NewDisposeScope();
        var ctx = call.Context;
        if (call.Loss is { } loss && call.Gradient is { } gradient)
        {
            // The kernel ran before the autograd node was made (one or two passes over memory): the value,
            // and the gradient for an upstream gradient of 1.
            state = new FusedState(this, true, false, 0, 1, inputShape, inputType)
            {
                Gradient = gradient.reshape(inputShape).to(inputType).DetachFromDisposeScope(),
            };
            return loss; // owned by the caller's scope, like the context
        }
        if (Mode == ExecutionMode.Kernel)
            throw new InvalidOperationException(
                $"{GetName()}: the CPU kernel cannot run here (it needs float32 CPU tensors, reduction Mean or Sum, and a spec its schedule covers); use ExecutionMode.Auto"
            );
        var (value, weight) = Evaluate(ctx);
        var axes = ResultAxes;
        double sumValue = 0,
            sumWeight = 1;
        if (weight is not null && Reduction == Reduction.Mean)
        {
            var pixelwise = Axes.IsPixelwise(axes);
            using var masked = pixelwise ? ctx.Masked(value) : value.alias();
            sumValue = masked.sum().ToDouble();
            using var total = Reductions.WeightTotal(ctx, weight, value, pixelwise);
            sumWeight = total.ToDouble();
        }
        var output = Reductions.Apply(ctx, value, axes, Reduction, weight).MoveToOuterDisposeScope();
        state = new FusedState(this, false, weight is not null, sumValue, sumWeight, inputShape, inputType);
        return output;
    }

    // The backward of the fused path: the gradient for the upstream gradient, shaped and typed like the
    // original input. The saved tensors are read only when the forward did not compute the gradient
    // already (the generated analytic backward, or a second backward through the same graph).
    // A gradient computed for an upstream gradient of 1, for the actual one (handed over as is when it is 1).
    private static Tensor Scaled(Tensor gradient, Tensor upstream) =>
        upstream.numel() == 1 && upstream.ToDouble() == 1.0 ? gradient.alias() : gradient * upstream.to(gradient.dtype);

    internal Tensor FusedBackward(FusedState s, Func<SavedInputs> saved, Tensor grad)
    {
        if (is_grad_enabled())
        {
            // create_graph: the gradient must itself be differentiable (gradient penalties, meta-learning),
            // so it is taken by autograd through the generated forward on the saved (attached) input.
            using var scope2 = NewDisposeScope();
            var (input2, target2, mask2, maps2) = saved();
            using var ctx2 = Context(input2, target2, mask2, null, maps2, checkValues: false);
            var (value2, weight2) = Evaluate(ctx2);
            var loss2 = Reductions.Apply(ctx2, value2, ResultAxes, Reduction, weight2);
            var grads = autograd.grad(
                new[] { loss2 },
                new[] { input2 },
                new[] { grad.reshape(loss2.shape) },
                retain_graph: true,
                create_graph: true
            );
            return grads[0].MoveToOuterDisposeScope();
        }
        if (s.Gradient is { } computed)
        {
            // The kernel's gradient, computed in the forward pass: scale it (or hand it over as is). It is
            // handed over once; a second backward through the graph computes it again from the saved inputs.
            // The result joins the caller's dispose scope, like every other tensor the backward makes.
            s.Gradient = null;
            using (computed)
                return Scaled(computed, grad);
        }
        using var scope = NewDisposeScope();
        var (input, target, mask, maps) = saved();
        var detached = input.detach();
        if (!detached.is_contiguous())
            detached = detached.contiguous();
        using var ctx = Context(detached, target, mask, null, maps, checkValues: false);
        if (s.UsedKernel && KernelFor(ctx.Mask is not null) is { } kernel)
        {
            using var again = RunKernel(kernel, ctx, check: false, valueOnly: false, out var gradient, out _);
            using var g1 = gradient!.reshape(s.InputShape).to(s.InputType);
            return Scaled(g1, grad).MoveToOuterDisposeScope();
        }
        var axes = ResultAxes;
        var pixelwise = Axes.IsPixelwise(axes);
        var g = grad.to(ctx.DType);
        Tensor seed;
        Tensor? weightSeed = null;
        switch (Reduction)
        {
            case Reduction.Sum:
                seed = g.reshape(Array.Empty<long>());
                break;
            case Reduction.Mean when s.HasWeight:
                seed = g.reshape(Array.Empty<long>()) * MeanRule.ValueAdjoint(s.SumWeight);
                weightSeed = g.reshape(Array.Empty<long>()) * MeanRule.WeightAdjoint(s.SumValue, s.SumWeight);
                break;
            case Reduction.Mean:
            {
                using var count = ctx.Count(axes, valid: pixelwise);
                seed = g.reshape(Array.Empty<long>()) / count;
                break;
            }
            default:
                seed = g.reshape(Reductions.FullShape(ctx, axes, (int)ctx.Input.dim()));
                break;
        }
        // The adjoint of every entry of the value, as a view of the value's full shape: the generated
        // backward may sum it over axes (a term broadcast from fewer axes), which a 0-D seed does not have.
        var valueShape = Reductions.FullShape(ctx, axes, (int)ctx.Input.dim());
        seed = seed.expand(valueShape);
        weightSeed = weightSeed?.expand(valueShape);
        if (pixelwise)
        {
            seed = ctx.Masked(seed);
            if (weightSeed is not null)
                weightSeed = ctx.Masked(weightSeed);
        }
        var d = Backward(ctx, seed, weightSeed);
        var full = d.expand(ctx.Input.shape).reshape(s.InputShape).to(s.InputType).contiguous();
        return full.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same loss computed by the reference interpreter from <see cref="BuildSpec"/> with eager
    /// TorchSharp ops. Slower; it defines what the generated code must compute.
    /// </summary>
    public Tensor Reference(Tensor input, Tensor target, Tensor? mask = null) => Reference(input, target, mask, stable: false);

    /// <summary>
    /// The reference interpreter on the spec after the rewrites into stable form that the generator applies
    /// (e.g. <c>Log(1 - Sigmoid(x))</c> becomes <c>LogSigmoid(-x)</c>): the same meaning, without the
    /// cancellation of the literal formula. Use it to check generated code at extreme inputs, where the
    /// literal formula is the less accurate side.
    /// </summary>
    public Tensor StableReference(Tensor input, Tensor target, Tensor? mask = null) => Reference(input, target, mask, stable: true);

    /// <summary>The reference interpreter with a per-pixel weight map (as the weighted <c>forward</c>).</summary>
    public Tensor Reference(Tensor input, Tensor target, Tensor? mask, Tensor? weight) =>
        Reference(input, target, mask, stable: false, weight);

    /// <summary>The reference interpreter with a per-pixel weight map and the named maps (as that <c>forward</c>).</summary>
    public Tensor Reference(Tensor input, Tensor target, Tensor? mask, Tensor? weight, IReadOnlyDictionary<string, Tensor>? maps) =>
        Reference(input, target, mask, stable: false, weight, maps);

    private Tensor Reference(
        Tensor input,
        Tensor target,
        Tensor? mask,
        bool stable,
        Tensor? pixelWeight = null,
        IReadOnlyDictionary<string, Tensor>? maps = null
    )
    {
        CheckMaps(maps);
        using var scope = NewDisposeScope();
        var spec = stable ? Simplifier.Simplify(BuildSpec(), Task) : BuildSpec();
        using var ctx = Context(input, target, mask, pixelWeight, maps);
        var (value, weight) = Interpreter.EvaluateResult(spec, ctx);
        return Reductions.Apply(ctx, value, LossDsl.Axes.Of(spec), Reduction, weight).MoveToOuterDisposeScope();
    }
}
