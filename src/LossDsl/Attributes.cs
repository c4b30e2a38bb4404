using System;

namespace LossDsl;

/// <summary>Which layout a loss expects; see docs/dsl.md, "Layouts".</summary>
public enum LossTask
{
    /// <summary>One foreground channel: input <c>N, 1, *spatial</c> or <c>N, *spatial</c>; float target of the same shape.</summary>
    Binary,

    /// <summary>
    /// An explicit class axis: input <c>N, C, *spatial</c>; target int64 class indices <c>N, *spatial</c>
    /// or float per-class targets <c>N, C, *spatial</c> (one-hot, soft or multilabel).
    /// </summary>
    Multiclass,
}

/// <summary>
/// Marks a static method returning <see cref="Expr"/> as a loss specification. The source generator
/// compiles it into a <c>{Method}Loss</c> module and a functional <c>{Method}Loss(...)</c> method.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class LossAttribute : Attribute
{
    /// <summary>Declares a loss for the given task.</summary>
    public LossAttribute(LossTask task = LossTask.Binary) => Task = task;

    /// <summary>The layout the loss expects.</summary>
    public LossTask Task { get; }

    /// <summary>Overrides the generated type name (default: the method name + "Loss").</summary>
    public string? Name { get; set; }
}

/// <summary>
/// Named axes of a loss tensor laid out as <c>N, C, *spatial</c>. Flags: combine with <c>|</c>.
/// </summary>
[Flags]
public enum Over
{
    /// <summary>No axis.</summary>
    None = 0,

    /// <summary>The batch axis <c>N</c>.</summary>
    Batch = 1,

    /// <summary>The class axis <c>C</c>.</summary>
    Classes = 2,

    /// <summary>All spatial axes (1, 2 or 3 of them).</summary>
    Spatial = 4,

    /// <summary>Everything that belongs to one sample: classes and spatial axes.</summary>
    Sample = Classes | Spatial,

    /// <summary>Every axis.</summary>
    All = Batch | Classes | Spatial,
}
