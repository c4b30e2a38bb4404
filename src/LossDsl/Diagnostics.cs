using System.Collections.Immutable;

namespace LossDsl;

/// <summary>How serious a diagnostic is (maps to Roslyn's DiagnosticSeverity).</summary>
public enum Severity
{
    /// <summary>Informational: the loss still compiles as written.</summary>
    Info,

    /// <summary>Probably wrong or numerically risky; the loss still compiles.</summary>
    Warning,

    /// <summary>The spec cannot be compiled; no code is generated for it.</summary>
    Error,
}

/// <summary>A diagnostic's identity and wording: one catalog entry.</summary>
/// <param name="Id">Stable id, <c>LD0001</c>…</param>
/// <param name="Title">Short title.</param>
/// <param name="MessageFormat">Message with <c>{0}</c>… placeholders.</param>
/// <param name="Severity">Default severity.</param>
public sealed record DiagnosticDescriptor(string Id, string Title, string MessageFormat, Severity Severity);

/// <summary>
/// A diagnostic as a value. <paramref name="Node"/> is the expression it concerns (the generator
/// maps it back to a source location) or null when the location is known otherwise.
/// </summary>
internal sealed record SpecDiagnostic(DiagnosticDescriptor Descriptor, EquatableArray<string> Arguments, Expr? Node)
{
    /// <summary>The message with its arguments filled in.</summary>
    public string Message =>
        string.Format(
            System.Globalization.CultureInfo.InvariantCulture,
            Descriptor.MessageFormat,
            System.Linq.Enumerable.ToArray<object>(Arguments.Items)
        );

    /// <summary>Creates a diagnostic.</summary>
    public static SpecDiagnostic Create(DiagnosticDescriptor d, Expr? node, params string[] args) =>
        new(d, EquatableArray.From(args), node);
}

/// <summary>The one catalog of LossDsl diagnostics. Ids are stable; docs/dsl.md explains each.</summary>
public static class DiagnosticCatalog
{
    /// <summary>LD0001: the [Loss] method's signature is not a spec signature.</summary>
    public static readonly DiagnosticDescriptor InvalidSignature = new(
        "LD0001",
        "Invalid loss spec signature",
        "Loss spec '{0}' {1}; a spec is a static method returning LossDsl.Expr whose first two parameters are Expr (prediction, target), followed by double, bool, int or enum hyperparameters with default values",
        Severity.Error
    );

    /// <summary>LD0002: a statement outside the supported subset.</summary>
    public static readonly DiagnosticDescriptor UnsupportedStatement = new(
        "LD0002",
        "Unsupported statement in loss spec",
        "'{0}' is not supported in a loss spec; {1}",
        Severity.Error
    );

    /// <summary>The usual second argument of <see cref="UnsupportedStatement"/>: what is allowed.</summary>
    public const string AllowedStatements =
        "allowed statements: 'var' locals and assignments to them, 'return', 'if'/'else' on hyperparameters, and Require(condition, message)";

    /// <summary>LD0003: an expression outside the supported subset.</summary>
    public static readonly DiagnosticDescriptor UnsupportedExpression = new(
        "LD0003",
        "Unsupported expression in loss spec",
        "'{0}' is not supported in a loss spec; {1}",
        Severity.Error
    );

    /// <summary>The usual second argument of <see cref="UnsupportedExpression"/>: what is allowed.</summary>
    public const string AllowedExpressions =
        "allowed: numeric literals, constants, parameters, locals, + - * / and unary -, '?:' on hyperparameters, LossDsl.Dsl functions, and calls to other [Loss] specs and to static helper methods returning Expr";

    /// <summary>LD0004: a hyperparameter of an unsupported type or without a default.</summary>
    public static readonly DiagnosticDescriptor InvalidHyperparameter = new(
        "LD0004",
        "Invalid hyperparameter",
        "Hyperparameter '{0}' {1}; hyperparameters must be double, bool, int or an enum, with a constant default value",
        Severity.Error
    );

    /// <summary>LD0005: an operation that the loss's task does not allow.</summary>
    public static readonly DiagnosticDescriptor TaskMismatch = new(
        "LD0005",
        "Operation not valid for this task",
        "{0} needs a class axis and is only valid in a LossTask.Multiclass spec; this spec is LossTask.{1}",
        Severity.Error
    );

    /// <summary>LD0006: a tensor value where a construction-time condition is needed, or the reverse.</summary>
    public static readonly DiagnosticDescriptor KindMismatch = new(
        "LD0006",
        "Tensor and hyperparameter condition mixed",
        "'{0}' {1}; conditions ('if', '?:', comparisons, &&, ||, !) may only involve hyperparameters and constants, and choose between expressions at construction",
        Severity.Error
    );

    /// <summary>LD0007: log of a value that can reach 0.</summary>
    public static readonly DiagnosticDescriptor LogOfZero = new(
        "LD0007",
        "Logarithm of a value that can reach 0",
        "Log({0}) is -infinity when its argument reaches 0 (its range is {1}); use LogSigmoid/LogSoftmax on logits, add a smoothing constant, or Clamp the argument away from 0",
        Severity.Warning
    );

    /// <summary>LD0008: a ratio whose denominator is 0 on an empty mask or empty target.</summary>
    public static readonly DiagnosticDescriptor ZeroDenominator = new(
        "LD0008",
        "Denominator can be 0",
        "The denominator '{0}' can be 0 when the mask or target is empty (with every sum 0 it lies in {1}); add a smoothing constant",
        Severity.Warning
    );

    /// <summary>LD0009: the spec's value does not depend on the prediction.</summary>
    public static readonly DiagnosticDescriptor NoPrediction = new(
        "LD0009",
        "Loss does not depend on the prediction",
        "Loss spec '{0}' does not depend on its prediction parameter, so its gradient is always 0",
        Severity.Warning
    );

    /// <summary>LD0010: part of a spec is differentiated by autograd instead of the generated backward.</summary>
    public static readonly DiagnosticDescriptor AutogradFallback = new(
        "LD0010",
        "Autograd fallback",
        "Loss spec '{0}' uses {1}, which has no symbolic derivative here; its backward pass uses autograd",
        Severity.Info
    );

    /// <summary>LD0011: a spec that calls itself, directly or through other specs.</summary>
    public static readonly DiagnosticDescriptor RecursiveSpec = new(
        "LD0011",
        "Recursive loss spec",
        "Loss spec '{0}' calls itself (through {1}); specs are inlined, so recursion is not allowed",
        Severity.Error
    );

    /// <summary>LD0012: the declaring type cannot receive generated members.</summary>
    public static readonly DiagnosticDescriptor NotPartial = new(
        "LD0012",
        "Declaring type must be partial",
        "Type '{0}' declares loss spec '{1}' but is not partial (nor are all its enclosing types); make it 'partial' so the functional '{1}Loss' method can be added",
        Severity.Error
    );

    /// <summary>LD0013: an axis argument that is not a constant <see cref="Over"/> value.</summary>
    public static readonly DiagnosticDescriptor NonConstantAxes = new(
        "LD0013",
        "Axes must be constant",
        "'{0}' is not a constant Over value; write Over.Spatial, Over.Classes, Over.Batch, Over.Sample, Over.All or a '|' of them",
        Severity.Error
    );

    /// <summary>LD0014: the same generated name twice.</summary>
    public static readonly DiagnosticDescriptor DuplicateName = new(
        "LD0014",
        "Duplicate loss name",
        "Loss name '{0}' is generated for more than one spec in namespace '{1}'; rename one method or set [Loss(Name = ...)]",
        Severity.Error
    );

    /// <summary>LD0015: softmax/log-softmax applied to something without a class axis, and similar axis errors.</summary>
    public static readonly DiagnosticDescriptor AxisError = new("LD0015", "Axis error", "{0}", Severity.Error);

    /// <summary>LD0016: the generator failed on a spec it accepted (a defect of LossDsl, never of the spec).</summary>
    public static readonly DiagnosticDescriptor InternalError = new(
        "LD0016",
        "Loss spec could not be compiled",
        "Loss spec '{0}' could not be compiled: {1}; please report this with the spec",
        Severity.Error
    );

    /// <summary>LD0017: an expression nested more deeply than the generator can read.</summary>
    public static readonly DiagnosticDescriptor NestedTooDeeply = new(
        "LD0017",
        "Expression nested too deeply",
        "Loss spec '{0}': this expression is nested too deeply to compile; split it into locals or fewer nested parentheses and calls",
        Severity.Error
    );

    /// <summary>LD0018: a hyperparameter whose name the generated code already uses.</summary>
    public static readonly DiagnosticDescriptor ReservedName = new(
        "LD0018",
        "Reserved hyperparameter name",
        "Hyperparameter '{0}' of loss spec '{1}' {2}; rename it (docs/dsl.md lists the reserved names)",
        Severity.Error
    );

    /// <summary>LD0019: a spec declared in a generic type.</summary>
    public static readonly DiagnosticDescriptor GenericContainingType = new(
        "LD0019",
        "Loss spec in a generic type",
        "Loss spec '{0}' is declared in the generic type '{1}', which the generated module cannot call without type arguments; declare it in a non-generic type",
        Severity.Error
    );

    /// <summary>LD0020: a generated type name that is also a type of the LossDsl namespace.</summary>
    public static readonly DiagnosticDescriptor AmbiguousName = new(
        "LD0020",
        "Generated name hides a LossDsl type",
        "Loss spec '{0}' generates '{1}', which is also the name of 'LossDsl.{1}': code that imports both namespaces cannot name either (CS0104), and code in the spec's namespace silently gets this one; rename the method or set [Loss(Name = \"...\")]",
        Severity.Warning
    );

    /// <summary>LD0021: a fractional power of a value that can reach 0.</summary>
    public static readonly DiagnosticDescriptor PowOfZero = new(
        "LD0021",
        "Power below 1 of a value that can reach 0",
        "Pow({0}, {1}) has an infinite derivative where its base reaches 0 (the base's range is {2}, the exponent's {3}), so the gradient is infinite or NaN there; floor the base, e.g. Pow(Max({0}, 1e-12), {1})",
        Severity.Warning
    );

    /// <summary>LD0022: the default values of a spec's hyperparameters break one of its Require rules.</summary>
    public static readonly DiagnosticDescriptor DefaultsBreakRequirement = new(
        "LD0022",
        "Defaults break a Require rule",
        "The default hyperparameters of loss spec '{0}' break its rule Require({1}, \"{2}\"), so the generated constructor would reject its own defaults",
        Severity.Error
    );

    /// <summary>LD0023: a map whose name is not a constant C# identifier.</summary>
    public static readonly DiagnosticDescriptor InvalidMapName = new(
        "LD0023",
        "Map name must be a constant identifier",
        "'{0}' does not name a map: write a string literal or constant holding a C# identifier, e.g. PixelMap(\"weight\") or ClassMap(\"distance\")",
        Severity.Error
    );

    /// <summary>Every descriptor, in id order.</summary>
    public static ImmutableArray<DiagnosticDescriptor> All { get; } =
        ImmutableArray.Create(
            InvalidSignature,
            UnsupportedStatement,
            UnsupportedExpression,
            InvalidHyperparameter,
            TaskMismatch,
            KindMismatch,
            LogOfZero,
            ZeroDenominator,
            NoPrediction,
            AutogradFallback,
            RecursiveSpec,
            NotPartial,
            NonConstantAxes,
            DuplicateName,
            AxisError,
            InternalError,
            NestedTooDeeply,
            ReservedName,
            GenericContainingType,
            AmbiguousName,
            PowOfZero,
            DefaultsBreakRequirement,
            InvalidMapName
        );
}
