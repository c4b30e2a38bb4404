using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;

namespace LossDsl;

/// <summary>
/// Static checks of a spec: task rules, axes, kinds (tensor values vs construction-time conditions)
/// and numerical lints from <see cref="Ranges"/>. Every diagnostic carries the expression node it
/// concerns, so the generator can map it to a source location.
/// </summary>
internal static class Checker
{
    /// <summary>The diagnostics of <paramref name="spec"/>, in rule order. Never throws.</summary>
    public static ImmutableArray<SpecDiagnostic> Check(LossSpec spec)
    {
        if (spec?.Body is null)
            return ImmutableArray<SpecDiagnostic>.Empty;
        var result = ImmutableArray.CreateBuilder<SpecDiagnostic>();
        var seen = new HashSet<SpecDiagnostic>();
        var nodes = Safe(() => Structure.PostOrder(spec.Body), ImmutableArray<Expr>.Empty);
        var paramValue = ParamValues(spec.Parameters);
        // One range analysis and one simplifier for every rule: shared sub-expressions are analysed once.
        var ranges = new Ranges.Analysis(paramValue);
        var simplifier = new Simplifier.Session(spec.Task);

        // Each rule runs on its own, so a rule that fails on a malformed tree does not hide the others.
        Run(result, seen, () => TaskAndClassAxis(spec.Task, nodes));
        Run(result, seen, () => WeightedMeanPlacement(spec.Body));
        Run(result, seen, () => Kinds(spec.Body, nodes));
        Run(result, seen, () => LogOfZero(nodes, simplifier, ranges));
        Run(result, seen, () => ZeroDenominators(nodes, ranges));
        Run(result, seen, () => PowOfZero(nodes, ranges));
        Run(result, seen, () => NoPrediction(spec));
        return result.ToImmutable();
    }

    private static void Run(
        ImmutableArray<SpecDiagnostic>.Builder into,
        HashSet<SpecDiagnostic> seen,
        Func<IEnumerable<SpecDiagnostic>> rule
    )
    {
        var found = Safe(() => rule().ToList(), new List<SpecDiagnostic>());
        foreach (var d in found)
            if (seen.Add(d))
                into.Add(d);
    }

    // A rule that fails on a malformed tree gives nothing; an expression nested too deeply for the
    // stack is not a malformed tree, and goes up to the generator (which retries with a larger stack).
    private static T Safe<T>(Func<T> f, T fallback)
    {
        try
        {
            return f();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !StackGuard.IsTooDeep(ex))
        {
            return fallback;
        }
    }

    // Expressions in messages are cut short: a spec's values can be large (and shared values are
    // printed where they are used).
    private static string Text(Expr e) => Printer.Print(e, MessageLength);

    private const int MessageLength = 400;

    /// <summary>
    /// The hyperparameters' default values as numbers, for range analysis: the C# literal text parsed
    /// with the invariant culture (suffixes and digit separators allowed), or null for anything that is
    /// not a numeric literal (bool and enum defaults, expressions).
    /// </summary>
    public static Func<string, double?> ParamValues(EquatableArray<SpecParameter> parameters)
    {
        var values = new Dictionary<string, double>();
        foreach (var p in parameters)
            if (p is { Role: ParamRole.Hyper, DefaultText: { } text } && ParseNumber(text) is { } v)
                values[p.Name] = v;
        return name => name is not null && values.TryGetValue(name, out var v) ? v : null;
    }

    /// <summary>A C# numeric literal's value (<c>1.0</c>, <c>-3e-4</c>, <c>0.5f</c>, <c>1_000</c>), or null.</summary>
    public static double? ParseNumber(string? text)
    {
        if (text is null)
            return null;
        var t = text.Trim().Replace("_", "");
        if (t.Length > 1 && "fFdDmM".IndexOf(t[t.Length - 1]) >= 0 && !t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            t = t.Substring(0, t.Length - 1);
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && !double.IsNaN(v) ? v : null;
    }

    // ---------------------------------------------------------------- task and axes

    private static IEnumerable<SpecDiagnostic> TaskAndClassAxis(LossTask task, ImmutableArray<Expr> nodes)
    {
        foreach (var n in nodes)
        {
            switch (n)
            {
                case Unary { Op: UnaryOp.Softmax or UnaryOp.LogSoftmax } u when task == LossTask.Binary:
                    yield return SpecDiagnostic.Create(DiagnosticCatalog.TaskMismatch, u, u.Op.ToString(), task.ToString());
                    break;
                case Unary { Op: UnaryOp.Softmax or UnaryOp.LogSoftmax } u when (Axes.Of(u.Arg) & Over.Classes) == 0:
                    yield return SpecDiagnostic.Create(
                        DiagnosticCatalog.AxisError,
                        u,
                        $"{u.Op}({Text(u.Arg)}) normalises over the class axis, but '{Text(u.Arg)}' has no class axis "
                            + "(it is a scalar or was reduced over Over.Classes); apply "
                            + u.Op
                            + " to the logits before reducing"
                    );
                    break;
                case OneHot o when o.Target is not Input { Kind: InputKind.Target }:
                    // OneHot gives the target's per-class form; of anything else it would silently read the target.
                    yield return SpecDiagnostic.Create(
                        DiagnosticCatalog.AxisError,
                        o,
                        $"OneHot({Text(o.Target)}) adds a class axis to the target only: its argument must be the spec's target parameter"
                    );
                    break;
                case WeightedMean w when (Axes.Of(w.Weight) & ~Axes.Of(w.Value)) is var extra && extra != Over.None:
                    yield return SpecDiagnostic.Create(
                        DiagnosticCatalog.AxisError,
                        w,
                        $"WeightedMean's weight '{Text(w.Weight)}' varies along {Printer.OverText(extra)}, which the value "
                            + $"'{Text(w.Value)}' does not have; the weight must broadcast to the value (reduce it, or keep those axes in the value)"
                    );
                    break;
            }
        }
    }

    // WeightedMean sets how the module's Mean reduction averages, so it only means something as the
    // spec's result. A branch of a construction-time choice at the top is not enough: the generated module
    // has one way to average, so the choice goes inside (WeightedMean(c ? a : b, c ? w : 1)).
    private static IEnumerable<SpecDiagnostic> WeightedMeanPlacement(Expr body)
    {
        var seen = new HashSet<(Expr, bool, bool)>();
        var found = new List<SpecDiagnostic>();
        var stack = new Stack<(Expr Node, bool AtResult, bool InChoice)>();
        stack.Push((body, true, false));
        while (stack.Count > 0)
        {
            var (e, atResult, inChoice) = stack.Pop();
            if (!seen.Add((e, atResult, inChoice)))
                continue;
            if (e is WeightedMean w && !atResult)
                found.Add(
                    SpecDiagnostic.Create(
                        DiagnosticCatalog.AxisError,
                        w,
                        inChoice
                            ? $"WeightedMean({Text(w.Value)}, {Text(w.Weight)}) is a branch of a construction-time choice; the module "
                                + "averages one way, so make the choice inside it: WeightedMean(c ? value1 : value2, c ? weight1 : 1)"
                            : $"WeightedMean({Text(w.Value)}, {Text(w.Weight)}) must be the spec's final result "
                                + "(it sets how the Mean reduction averages), but here it is part of a larger expression"
                    )
                );
            if (e is Cond k && atResult)
            {
                stack.Push((k.Else, false, true));
                stack.Push((k.Then, false, true));
                stack.Push((k.Test, false, false));
                continue;
            }
            var children = Structure.Children(e);
            for (var i = children.Length - 1; i >= 0; i--)
                stack.Push((children[i], false, inChoice));
        }
        return found;
    }

    // ---------------------------------------------------------------- kinds

    private static IEnumerable<SpecDiagnostic> Kinds(Expr body, ImmutableArray<Expr> nodes)
    {
        var tensorMemo = new Dictionary<Expr, bool>();
        bool IsTensor(Expr e)
        {
            if (tensorMemo.TryGetValue(e, out var t))
                return t;
            StackGuard.Ensure();
            t =
                e is Input or OneHot or Count or Reduce or SelectTarget or Masked or PlainSum or WeightedMean
                || Structure.Children(e).Any(IsTensor);
            tensorMemo[e] = t;
            return t;
        }
        // Children come first in the post-order, so each call reads memoised children only.
        foreach (var n in nodes)
            IsTensor(n);

        foreach (var n in nodes)
        {
            switch (n)
            {
                case Cond k when IsTensor(k.Test) && !IsCondition(k.Test):
                    yield return SpecDiagnostic.Create(
                        DiagnosticCatalog.KindMismatch,
                        k.Test,
                        Text(k.Test),
                        "depends on the input tensors but is used as a construction-time condition"
                    );
                    break;
                case Binary b when IsComparison(b.Op) || b.Op is BinaryOp.And or BinaryOp.Or:
                    foreach (var operand in new[] { b.Left, b.Right })
                        if (IsTensor(operand) && !IsCondition(operand))
                            yield return SpecDiagnostic.Create(
                                DiagnosticCatalog.KindMismatch,
                                b,
                                Text(operand),
                                $"depends on the input tensors but is an operand of '{Printer.Symbol(b.Op)}' in a construction-time condition"
                            );
                    break;
                case Unary { Op: UnaryOp.Not } u when IsTensor(u.Arg) && !IsCondition(u.Arg):
                    yield return SpecDiagnostic.Create(
                        DiagnosticCatalog.KindMismatch,
                        u,
                        Text(u.Arg),
                        "depends on the input tensors but is negated with '!' in a construction-time condition"
                    );
                    break;
            }
            foreach (var operand in NumericOperands(n))
            {
                if (IsBoolean(operand))
                    yield return SpecDiagnostic.Create(
                        DiagnosticCatalog.KindMismatch,
                        n,
                        Text(operand),
                        $"is a condition (true or false) but is used as a number in '{Text(n)}'"
                    );
                else if (operand is EnumValue or Param { Kind: ParamKind.Enum })
                    yield return SpecDiagnostic.Create(
                        DiagnosticCatalog.KindMismatch,
                        n,
                        Text(operand),
                        $"is an enum value but is used as a number in '{Text(n)}'"
                    );
            }
        }

        if (IsBoolean(body) || body is EnumValue or Param { Kind: ParamKind.Enum })
            yield return SpecDiagnostic.Create(
                DiagnosticCatalog.KindMismatch,
                body,
                Text(body),
                "is a condition or enum value but is the spec's result; a loss must be a numeric expression"
            );
    }

    // The operands a node uses as numbers (tensors or scalars): everything except conditions.
    private static IEnumerable<Expr> NumericOperands(Expr e) =>
        e switch
        {
            Unary { Op: UnaryOp.Not } => Enumerable.Empty<Expr>(),
            Binary b when IsComparison(b.Op) || b.Op is BinaryOp.And or BinaryOp.Or => Enumerable.Empty<Expr>(),
            Cond => Enumerable.Empty<Expr>(),
            _ => Structure.Children(e),
        };

    private static bool IsComparison(BinaryOp op) =>
        op is BinaryOp.Eq or BinaryOp.Ne or BinaryOp.Lt or BinaryOp.Le or BinaryOp.Gt or BinaryOp.Ge;

    private static bool IsCondition(Expr e) =>
        e is Unary { Op: UnaryOp.Not } || (e is Binary b && (IsComparison(b.Op) || b.Op is BinaryOp.And or BinaryOp.Or));

    // True/false-valued: conditions, bool hyperparameters, and choices between them.
    private static bool IsBoolean(Expr e)
    {
        StackGuard.Ensure();
        return IsCondition(e) || e is Param { Kind: ParamKind.Bool } || (e is Cond k && IsBoolean(k.Then) && IsBoolean(k.Else));
    }

    // ---------------------------------------------------------------- numerics

    // A log is judged in its simplified form: Log(Sigmoid(x)) becomes LogSigmoid(x) and is fine. The
    // rewrites never introduce a Log, so only a Log that survives at the root of the simplified node
    // belongs to this node (nested logs are judged as their own nodes, and reported once).
    private static IEnumerable<SpecDiagnostic> LogOfZero(ImmutableArray<Expr> nodes, Simplifier.Session simplifier, Ranges.Analysis ranges)
    {
        foreach (var n in nodes)
        {
            if (n is not Unary { Op: UnaryOp.Log } log)
                continue;
            if (simplifier.Simplify(log) is not Unary { Op: UnaryOp.Log } simplified)
                continue;
            var range = ranges.Of(simplified.Arg);
            if (range.CanBeZero)
                yield return SpecDiagnostic.Create(DiagnosticCatalog.LogOfZero, log, Text(log.Arg), range.ToString());
        }
    }

    // Only denominators with a reduction are reported: those are the ones an empty mask or an
    // all-background target drives to exactly 0, where the loss turns NaN.
    private static IEnumerable<SpecDiagnostic> ZeroDenominators(ImmutableArray<Expr> nodes, Ranges.Analysis ranges)
    {
        // Which nodes contain a reduction (children come first in the post-order), and each value with
        // every sum 0, shared by all denominators.
        var reduces = new HashSet<Expr>();
        foreach (var n in nodes)
            if (n is Reduce || Structure.Children(n).Any(reduces.Contains))
                reduces.Add(n);
        var emptyMemo = new Dictionary<Expr, Expr>();
        Func<Expr, Expr> empty = e => e is Reduce ? new Const(0) : e;
        foreach (var n in nodes)
        {
            if (n is not Binary { Op: BinaryOp.Div } div || !reduces.Contains(div.Right))
                continue;
            // An empty mask (or target) makes every sum 0: the denominator's range in that case.
            var range = ranges.Of(Structure.MapBottomUp(div.Right, empty, emptyMemo));
            if (range.CanBeZero)
                yield return SpecDiagnostic.Create(DiagnosticCatalog.ZeroDenominator, div.Right, Text(div.Right), range.ToString());
        }
    }

    // x^k with k < 1 (k != 0) has the derivative k·x^(k-1), infinite where x reaches 0: the gradient is
    // infinite there, or NaN once a chain rule multiplies it by 0 (the published unified focal and
    // exponential-logarithmic exponents are such k). A Max(x, eps) floor keeps it finite.
    private static IEnumerable<SpecDiagnostic> PowOfZero(ImmutableArray<Expr> nodes, Ranges.Analysis ranges)
    {
        foreach (var n in nodes)
        {
            if (n is not Binary { Op: BinaryOp.Pow } pow)
                continue;
            var k = ranges.Of(pow.Right);
            var below1 = k.Lo < 1 && !(k.Lo == 0 && k.Hi == 0);
            if (!below1)
                continue;
            // Only a base that depends on the prediction is differentiated (a target base is not).
            if (!Structure.Any(pow.Left, e => e is Input { Kind: InputKind.Prediction }))
                continue;
            var x = ranges.Of(pow.Left);
            if (x.CanBeZero)
                // The base is printed twice (in the suggestion too): shorter.
                yield return SpecDiagnostic.Create(
                    DiagnosticCatalog.PowOfZero,
                    pow,
                    Printer.Print(pow.Left, 120),
                    Printer.Print(pow.Right, 120),
                    x.ToString(),
                    k.ToString()
                );
        }
    }

    private static IEnumerable<SpecDiagnostic> NoPrediction(LossSpec spec)
    {
        if (!Structure.Any(spec.Body, n => n is Input { Kind: InputKind.Prediction }))
            yield return SpecDiagnostic.Create(DiagnosticCatalog.NoPrediction, spec.Body, spec.MethodName ?? "");
    }
}
