using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;

namespace LossDsl;

/// <summary>An immutable array with structural equality, for values that flow through the generator pipeline.</summary>
public readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IReadOnlyList<T>
    where T : IEquatable<T>
{
    private readonly ImmutableArray<T> _items;

    /// <summary>Wraps the items.</summary>
    public EquatableArray(ImmutableArray<T> items) => _items = items;

    /// <summary>The items (empty for a default instance).</summary>
    public ImmutableArray<T> Items => _items.IsDefault ? ImmutableArray<T>.Empty : _items;

    /// <inheritdoc />
    public T this[int index] => Items[index];

    /// <inheritdoc />
    public int Count => Items.Length;

    /// <inheritdoc />
    public bool Equals(EquatableArray<T> other) => Items.SequenceEqual(other.Items);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is EquatableArray<T> o && Equals(o);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = 17;
        foreach (var x in Items)
            h = unchecked(h * 31 + (x?.GetHashCode() ?? 0));
        return h;
    }

    /// <inheritdoc />
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Equality.</summary>
    public static bool operator ==(EquatableArray<T> a, EquatableArray<T> b) => a.Equals(b);

    /// <summary>Inequality.</summary>
    public static bool operator !=(EquatableArray<T> a, EquatableArray<T> b) => !a.Equals(b);
}

/// <summary>Helpers for <see cref="EquatableArray{T}"/>.</summary>
public static class EquatableArray
{
    /// <summary>Copies the items into an equatable array.</summary>
    public static EquatableArray<T> From<T>(IEnumerable<T> items)
        where T : IEquatable<T> => new(items.ToImmutableArray());
}

/// <summary>What a spec method parameter is.</summary>
public enum ParamRole
{
    /// <summary>The first <c>Expr</c> parameter: the prediction.</summary>
    Prediction,

    /// <summary>The second <c>Expr</c> parameter: the target.</summary>
    Target,

    /// <summary>A scalar hyperparameter (double, bool, int or enum) with a default value.</summary>
    Hyper,
}

/// <summary>One parameter of a spec method, as the generator saw it.</summary>
/// <param name="Name">The C# parameter name (<c>alpha</c>).</param>
/// <param name="Role">Prediction, target or hyperparameter.</param>
/// <param name="Kind">For hyperparameters: real, bool, integer or enum.</param>
/// <param name="TypeName">Fully qualified C# type (<c>double</c>, <c>global::Ns.Activation</c>).</param>
/// <param name="DefaultText">The default value as C# source (<c>0.3</c>, <c>global::Ns.Activation.Sigmoid</c>), or null.</param>
public sealed record SpecParameter(string Name, ParamRole Role, ParamKind Kind, string TypeName, string? DefaultText);

/// <summary>A type that encloses the spec method (outermost first), to re-open it as a partial type.</summary>
/// <param name="Keyword">"class", "struct", "record" or "record struct".</param>
/// <param name="Name">Name with type parameters as written.</param>
/// <param name="Modifiers">Modifiers to repeat: e.g. "public static partial".</param>
public sealed record ContainingType(string Keyword, string Name, string Modifiers);

/// <summary>
/// Everything the emitter needs to know about one <c>[Loss]</c> method: the generator's model. Pure
/// data with structural equality, so unchanged specs are cached by the incremental pipeline.
/// </summary>
/// <param name="Namespace">The declaring type's namespace, or null for the global namespace.</param>
/// <param name="ContainingTypes">Enclosing types, outermost first (the last declares the method).</param>
/// <param name="MethodName">The spec method's name (<c>Tversky</c>).</param>
/// <param name="LossName">The generated type's name (<c>TverskyLoss</c>).</param>
/// <param name="Task">The layout the loss expects.</param>
/// <param name="Parameters">The spec method's parameters in declaration order.</param>
/// <param name="Body">The spec as an expression, hyperparameters as <see cref="Param"/> nodes.</param>
/// <param name="Summary">The spec method's XML summary text, or null.</param>
/// <param name="Locals">The spec's named locals (<c>var tp = …</c>) and their values, in order, so the
/// emitted code can use the same names.</param>
/// <param name="Requirements">The spec's <c>Require</c> rules on its hyperparameters, in source order
/// (those of inlined specs and helpers included), checked by the generated constructor.</param>
public sealed record LossSpec(
    string? Namespace,
    EquatableArray<ContainingType> ContainingTypes,
    string MethodName,
    string LossName,
    LossTask Task,
    EquatableArray<SpecParameter> Parameters,
    Expr Body,
    string? Summary,
    EquatableArray<SpecLocal> Locals = default,
    EquatableArray<SpecRequirement> Requirements = default
);

/// <summary>A local of a spec body and the expression it names.</summary>
public sealed record SpecLocal(string Name, Expr Value);

/// <summary>
/// A rule the hyperparameters must satisfy, from a <c>Dsl.Require(condition, message)</c> statement.
/// </summary>
/// <param name="Condition">The condition, over hyperparameters and constants only.</param>
/// <param name="Guard">When the statement is inside a branch of a construction-time choice (an
/// <c>if</c> or <c>?:</c> on hyperparameters, or an inlined helper called there): the condition under
/// which the branch is taken, so the rule applies only then; null otherwise.</param>
/// <param name="Message">The rule as the spec states it, e.g. <c>gamma must be >= 0</c>.</param>
public sealed record SpecRequirement(Expr Condition, Expr? Guard, string Message)
{
    /// <summary>The hyperparameters the rule reads, in order of first use (the first is the one reported).</summary>
    public EquatableArray<string> Parameters =>
        EquatableArray.From(
            System.Linq.Enumerable.Distinct(
                System.Linq.Enumerable.Select(System.Linq.Enumerable.OfType<Param>(Structure.PostOrder(Condition)), p => p.Name)
            )
        );
}
