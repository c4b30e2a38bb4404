using System.Collections.Generic;
using System.Collections.Immutable;

namespace LossDsl;

/// <summary>
/// A hyperparameter-only value of the generated code (a C# double or bool), with the names of the shared
/// sub-expressions earlier statements computed into locals.
/// </summary>
/// <param name="Value">The value (constants, hyperparameters, arithmetic, choices).</param>
/// <param name="Names">Sub-expressions of <paramref name="Value"/> already held by scalar locals.</param>
internal sealed record ScalarValue(Expr Value, IReadOnlyDictionary<Expr, string> Names);

/// <summary>An operand of a planned tensor operation.</summary>
internal abstract record Operand
{
    /// <summary>A tensor local of the generated method.</summary>
    public sealed record Local(string Name) : Operand;

    /// <summary>A normalised input of the context (<c>ctx.Input</c>, <c>ctx.Target</c>, a named map <c>ctx.Map("name")</c>).</summary>
    public sealed record Input(InputKind Kind, string? Name = null) : Operand;

    /// <summary>The backward's adjoint of the value (0) or of the weight (1).</summary>
    public sealed record Adjoint(int Index) : Operand;

    /// <summary>A hyperparameter-only value (a 0-dimensional tensor where a tensor is needed).</summary>
    public sealed record Scalar(ScalarValue Value) : Operand;
}

/// <summary>One tensor operation: the compiled node it computes, on operands computed before it.</summary>
/// <param name="Node">The node (its kind decides the call: <c>sigmoid</c>, <c>ctx.Sum</c>, …).</param>
/// <param name="Operands">Its children's values, in order.</param>
internal sealed record Operation(Expr Node, ImmutableArray<Operand> Operands);

/// <summary>A statement of a generated method body.</summary>
internal abstract record Step
{
    /// <summary><c>var Name = Value;</c>: a new tensor local.</summary>
    public sealed record Let(string Name, Operation Value) : Step;

    /// <summary><c>var Name = Value;</c>: a scalar (double) local.</summary>
    public sealed record LetScalar(string Name, ScalarValue Value) : Step;

    /// <summary>A tensor local holding its own handle to <paramref name="Source"/> (<c>alias()</c>, or <c>ctx.Scalar</c> of a scalar).</summary>
    public sealed record Copy(string Name, Operand Source, bool Declare) : Step;

    /// <summary>A construction-time choice: <c>Result</c> is set by one branch.</summary>
    public sealed record Choose(string Result, ScalarValue Test, PlanBlock Then, PlanBlock Else) : Step;

    /// <summary>A branch hands the tensor it made over to the choice's result.</summary>
    public sealed record Move(string Result, string Source) : Step;

    /// <summary>The method's result: the value (and, for <c>Evaluate</c>, the mean weight or null).</summary>
    public sealed record Return(Operand Value, Operand? Weight, bool Pair) : Step;

    /// <summary>The end of a tensor local's lifetime: right after its last use.</summary>
    public sealed record Dispose(string Name) : Step;
}

/// <summary>A block of statements (a method body or a branch), lifetimes included.</summary>
internal sealed record PlanBlock(ImmutableArray<Step> Steps);
