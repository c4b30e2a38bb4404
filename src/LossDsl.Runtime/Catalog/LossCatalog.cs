using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl;

/// <summary>One option of a catalog loss: a constructor parameter of its module.</summary>
/// <param name="Name">The parameter name (<c>posWeight</c>).</param>
/// <param name="Type">Its type (double, bool, int or an enum).</param>
/// <param name="Default">Its default value.</param>
public sealed record LossOption(string Name, Type Type, object? Default)
{
    /// <summary>The type as a user reads it: <c>double</c>, <c>bool</c>, <c>int</c> or the enum's values.</summary>
    public string TypeText =>
        Type == typeof(double) ? "double"
        : Type == typeof(bool) ? "bool"
        : Type == typeof(int) ? "int"
        : Type.IsEnum ? string.Join("|", Enum.GetNames(Type).Select(n => n.ToLowerInvariant()))
        : Type == typeof(double[]) ? "double[]"
        : Type.Name;

    /// <summary>The default as a user writes it (invariant culture, enums in lower case).</summary>
    public string DefaultText =>
        Default switch
        {
            null => "null",
            bool b => b ? "true" : "false",
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            Enum e => e.ToString().ToLowerInvariant(),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => Default.ToString() ?? "",
        };
}

/// <summary>A catalog loss: its command-line name, module type, task, options and a one-line description.</summary>
/// <param name="Name">The command-line name (<c>bce</c>, <c>generalized-dice</c>).</param>
/// <param name="Type">The module type.</param>
/// <param name="Task">Binary or multiclass layout.</param>
/// <param name="Description">One line: what it is and when to use it.</param>
public sealed record CatalogEntry(string Name, Type Type, LossTask Task, string Description)
{
    private ConstructorInfo Constructor => Type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();

    /// <summary>
    /// The options (constructor parameters except reduction, class weights, ignore index and per-class vectors: a
    /// vector parameter such as <c>posWeights</c> is the array form of its scalar option, see <see cref="VectorOptions"/>).
    /// </summary>
    public IReadOnlyList<LossOption> Options =>
        Constructor
            .GetParameters()
            .Where(p => p.Name is not ("reduction" or "classWeights" or "ignoreIndex") && p.ParameterType != typeof(Tensor))
            .Select(p => new LossOption(p.Name!, p.ParameterType, p.HasDefaultValue ? p.DefaultValue : null))
            .ToList();

    /// <summary>
    /// The scalar options that also take a per-class vector (given as an array: <c>"posWeight": [1, 2, 3]</c>), through
    /// the constructor parameter named as the option with an <c>s</c> (<c>posWeights</c>).
    /// </summary>
    public IReadOnlyList<string> VectorOptions =>
        Constructor
            .GetParameters()
            .Where(p => p.ParameterType == typeof(Tensor) && p.Name is not "classWeights" && p.Name!.EndsWith('s'))
            .Select(p => p.Name![..^1])
            .ToList();

    /// <summary>Whether the loss takes a class-weight vector.</summary>
    public bool TakesClassWeights => Constructor.GetParameters().Any(p => p.Name == "classWeights");

    /// <summary>
    /// Creates the module. Options are matched by name (case-insensitive); values may be numbers, bools or
    /// enum names as strings. Throws <see cref="ArgumentException"/> naming an unknown option or a bad value, and
    /// the module's <see cref="ArgumentOutOfRangeException"/> for a value outside the option's range.
    /// </summary>
    public LossFunction Create(
        IReadOnlyDictionary<string, object?>? options = null,
        Reduction reduction = Reduction.Mean,
        Tensor? classWeights = null,
        long ignoreIndex = -100
    )
    {
        var ps = Constructor.GetParameters();
        var args = ps.Select(p => p.HasDefaultValue ? p.DefaultValue : null).ToArray();
        foreach (var (key, value) in options ?? new Dictionary<string, object?>())
        {
            if (value is double[] array)
            {
                // An array option in its own right (e.g. a pixel spacing per axis), or else the per-class form
                // of a scalar option: its vector parameter, the scalar left at its default.
                int Find(string name, Type type) =>
                    Array.FindIndex(ps, p => p.ParameterType == type && string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
                if (Find(key, typeof(double[])) is var own and >= 0)
                    args[own] = array;
                else if (Find(key + "s", typeof(Tensor)) is var perClass and >= 0)
                    args[perClass] = tensor(array, float64);
                else
                    throw new ArgumentException(
                        $"option '{key}' of loss '{Name}' takes no per-class array"
                            + (VectorOptions.Count > 0 ? $"; these do: {string.Join(", ", VectorOptions)}" : "")
                    );
                continue;
            }
            var i = Array.FindIndex(
                ps,
                p =>
                    string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase)
                    && p.Name is not ("reduction" or "classWeights" or "ignoreIndex")
            );
            if (i < 0)
                throw new ArgumentException(
                    $"loss '{Name}' has no option '{key}'; its options are: {string.Join(", ", Options.Select(o => o.Name))}"
                );
            args[i] = Convert(key, value, ps[i].ParameterType);
        }
        for (var i = 0; i < ps.Length; i++)
        {
            if (ps[i].Name == "reduction")
                args[i] = reduction;
            else if (ps[i].Name == "classWeights")
                args[i] = classWeights;
            else if (ps[i].Name == "ignoreIndex")
                args[i] = ignoreIndex;
        }
        if (classWeights is not null && !TakesClassWeights)
            throw new ArgumentException($"loss '{Name}' does not take class weights");
        try
        {
            return (LossFunction)Constructor.Invoke(args);
        }
        catch (System.Reflection.TargetInvocationException ex) when (ex.InnerException is { } inner)
        {
            // The constructor's own exception (e.g. a hyperparameter out of range), not the reflection wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inner).Throw();
            throw;
        }
    }

    private object? Convert(string key, object? value, Type type)
    {
        string Expected() => new LossOption(key, type, null).TypeText;
        try
        {
            if (type.IsEnum)
            {
                if (
                    value is string s
                    && Enum.GetNames(type).FirstOrDefault(n => string.Equals(n, s, StringComparison.OrdinalIgnoreCase)) is { } name
                )
                    return Enum.Parse(type, name);
                throw new ArgumentException($"option '{key}' of loss '{Name}' must be one of {Expected()}, got {Show(value)}");
            }
            if (type == typeof(bool))
                return value is bool b
                    ? b
                    : throw new ArgumentException($"option '{key}' of loss '{Name}' must be true or false, got {Show(value)}");
            if (type == typeof(int))
            {
                var d = System.Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (value is bool || d != Math.Round(d))
                    throw new FormatException();
                return (int)d;
            }
            if (type == typeof(double))
                return value is bool ? throw new FormatException() : System.Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (type == typeof(double[]))
                return value is null
                    ? null
                    : throw new ArgumentException($"option '{key}' of loss '{Name}' must be an array of numbers, got {Show(value)}");
        }
        catch (Exception ex) when (ex is FormatException or InvalidCastException or OverflowException)
        {
            throw new ArgumentException(
                $"option '{key}' of loss '{Name}' must be {(type == typeof(int) ? "an integer" : "a number")}, got {Show(value)}"
            );
        }
        return value;
    }

    private static string Show(object? v) =>
        v switch
        {
            null => "null",
            string s => $"\"{s}\"",
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => v.ToString() ?? "",
        };
}

/// <summary>The catalog by command-line name: what <c>lossdsl list</c> prints and <c>lossdsl eval</c> looks up.</summary>
public static class LossCatalog
{
    /// <summary>Every catalog loss, in the order docs/catalog.md presents them.</summary>
    public static IReadOnlyList<CatalogEntry> All { get; } =
        new[]
        {
            new CatalogEntry(
                "bce",
                typeof(BceLoss),
                LossTask.Binary,
                "Binary cross-entropy on logits or probabilities; pos/neg weights, label smoothing."
            ),
            new CatalogEntry(
                "cross-entropy",
                typeof(CrossEntropyLoss),
                LossTask.Multiclass,
                "Softmax cross-entropy; class weights (weighted mean), ignore index, label smoothing."
            ),
            new CatalogEntry(
                "binary-focal",
                typeof(BinaryFocalLoss),
                LossTask.Binary,
                "Sigmoid focal loss (Lin et al.): down-weights easy pixels; optional alpha balance."
            ),
            new CatalogEntry(
                "focal",
                typeof(FocalLoss),
                LossTask.Multiclass,
                "Softmax focal loss; per-class alpha from the class weights."
            ),
            new CatalogEntry(
                "topk-cross-entropy",
                typeof(TopKCrossEntropyLoss),
                LossTask.Multiclass,
                "Cross-entropy of the k % hardest valid pixels (nnU-Net's TopKLoss); class weights, ignore index."
            ),
            new CatalogEntry(
                "multilabel-bce",
                typeof(MultiLabelBceLoss),
                LossTask.Multiclass,
                "BCE of every channel's own sigmoid (multi-label); per-class weights, posWeight, label smoothing."
            ),
            new CatalogEntry(
                "multilabel-focal",
                typeof(MultiLabelFocalLoss),
                LossTask.Multiclass,
                "Sigmoid focal loss of every channel (MONAI FocalLoss, smp multilabel); per-class weights, alpha."
            ),
            new CatalogEntry(
                "dice",
                typeof(DiceLoss),
                LossTask.Multiclass,
                "Soft Dice (or Jaccard) per sample and class; MONAI's options."
            ),
            new CatalogEntry(
                "generalized-dice",
                typeof(GeneralizedDiceLoss),
                LossTask.Multiclass,
                "Generalized Dice (Sudre et al.): classes weighted by inverse volume."
            ),
            new CatalogEntry(
                "tversky",
                typeof(TverskyLoss),
                LossTask.Multiclass,
                "Tversky loss: alpha weighs false positives, beta false negatives."
            ),
            new CatalogEntry(
                "focal-tversky",
                typeof(FocalTverskyLoss),
                LossTask.Multiclass,
                "Focal Tversky loss: (1 - Tversky index)^gamma."
            ),
            new CatalogEntry("bce-dice", typeof(BceDiceLoss), LossTask.Binary, "(1 - diceWeight) * BCE + diceWeight * Dice, per sample."),
            new CatalogEntry("dice-ce", typeof(DiceCeLoss), LossTask.Multiclass, "Softmax Dice plus cross-entropy (MONAI's DiceCELoss)."),
            new CatalogEntry(
                "dice-focal",
                typeof(DiceFocalLoss),
                LossTask.Multiclass,
                "Softmax Dice plus focal loss (MONAI's DiceFocalLoss)."
            ),
            new CatalogEntry("log-cosh-dice", typeof(LogCoshDiceLoss), LossTask.Multiclass, "log(cosh(1 - Dice)): a smoothed Dice loss."),
            new CatalogEntry("mcc", typeof(MccLoss), LossTask.Binary, "1 - Matthews correlation of soft counts."),
            new CatalogEntry(
                "lovasz-hinge",
                typeof(LovaszHingeLoss),
                LossTask.Binary,
                "Lovász hinge (Berman et al.): a convex surrogate of 1 - IoU (hand-written, sort-based)."
            ),
            new CatalogEntry(
                "boundary",
                typeof(BoundaryLoss),
                LossTask.Multiclass,
                "Boundary loss (Kervadec et al.): probabilities times the target's signed distance map; combine with Dice."
            ),
            new CatalogEntry(
                "hausdorff-dt",
                typeof(HausdorffDtLoss),
                LossTask.Multiclass,
                "Hausdorff distance-transform loss (MONAI's HausdorffDTLoss): squared error weighted by boundary distances."
            ),
            new CatalogEntry(
                "lovasz-softmax",
                typeof(LovaszSoftmaxLoss),
                LossTask.Multiclass,
                "Lovász-softmax (Berman et al.): a surrogate of the mean IoU over classes (hand-written, sort-based)."
            ),
        };

    /// <summary>The entry with this command-line name, or null.</summary>
    public static CatalogEntry? Find(string name) =>
        All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));
}
