using System;
using System.Collections.Generic;
using System.Linq;

namespace LossDsl;

/// <summary>
/// A spec body as every backend runs it, computed once: simplified for the spec's task, lowered
/// (masks, counts and the target's form explicit) and differentiated. The generator prints it as
/// TorchSharp code, the runtime plans its fused kernels from it; neither repeats a phase.
/// </summary>
/// <param name="Task">The task the body was simplified for.</param>
/// <param name="Body">The compiled body (no <see cref="Reduce"/> or <see cref="OneHot"/> left).</param>
/// <param name="Gradient">d loss / d prediction in terms of the value's adjoint <see cref="Seed"/>s, or null
/// when the body has no analytic gradient.</param>
/// <param name="Unsupported">Why there is no analytic gradient (null when there is one).</param>
/// <param name="Locals">The spec's named locals, compiled with the same memo as the body, so a local's
/// compiled value is a node of the compiled body and generated code can carry the spec's names.</param>
internal sealed record CompiledSpec(
    LossTask Task,
    Expr Body,
    Expr? Gradient,
    string? Unsupported,
    EquatableArray<SpecLocal> Locals = default
)
{
    /// <summary>The axes the result keeps before the module's reduction.</summary>
    public Over Axes => LossDsl.Axes.Of(Body is WeightedMean wm ? wm.Value : Body);
}

/// <summary>The compiler's phases in their order: simplify, lower, differentiate.</summary>
internal static class Compiler
{
    /// <summary>Compiles a spec body for its task (named locals optional).</summary>
    public static CompiledSpec Compile(Expr body, LossTask task, IEnumerable<SpecLocal>? locals = null)
    {
        if (body is null)
            throw new ArgumentNullException(nameof(body));
        var session = new Session(task);
        var compiled = session.Compile(body);
        var (gradient, unsupported) = Differentiate.Gradient(compiled);
        var compiledLocals = (locals ?? Enumerable.Empty<SpecLocal>()).Select(l =>
            l.Value is Input or Const or Param ? l : new SpecLocal(l.Name, session.Compile(l.Value))
        );
        return new CompiledSpec(task, compiled, gradient, unsupported, EquatableArray.From(compiledLocals));
    }

    /// <summary>Compiles the spec the generator read.</summary>
    public static CompiledSpec Compile(LossSpec spec)
    {
        if (spec is null)
            throw new ArgumentNullException(nameof(spec));
        return Compile(spec.Body, spec.Task, spec.Locals);
    }

    /// <summary>
    /// Simplification and lowering with memos shared by every expression it compiles: the body and
    /// each of its locals cost one visit of each distinct node together.
    /// </summary>
    private sealed class Session
    {
        private readonly Simplifier.Session _simplifier;
        private readonly Lower.Session _lower = new();

        public Session(LossTask task) => _simplifier = new Simplifier.Session(task);

        public Expr Compile(Expr e) => _lower.Apply(_simplifier.Simplify(e));
    }
}
