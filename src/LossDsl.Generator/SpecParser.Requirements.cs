using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace LossDsl.Generator;

// Require rules and hyperparameter defaults.
internal sealed partial class SpecParser
{
    // ---------------------------------------------------------------- Require rules

    private static Expr? DefaultValue(IParameterSymbol p)
    {
        if (!p.HasExplicitDefaultValue)
            return null;
        if (p.Type.TypeKind == TypeKind.Enum && p.Type is INamedTypeSymbol e)
        {
            var member = e.GetMembers()
                .OfType<IFieldSymbol>()
                .FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, p.ExplicitDefaultValue));
            return member is null
                ? null
                : new EnumValue(
                    e.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
                    member.Name,
                    Convert.ToInt64(p.ExplicitDefaultValue, CultureInfo.InvariantCulture)
                );
        }
        return p.ExplicitDefaultValue switch
        {
            bool b => new Const(b ? 1 : 0),
            double or float or int or long => new Const(Convert.ToDouble(p.ExplicitDefaultValue, CultureInfo.InvariantCulture)),
            _ => null,
        };
    }

    // Reads Require(condition, message): a rule on hyperparameters, under the construction-time choices
    // that lead to the statement. False when it is not a valid rule (reported).
    private bool Requirement(
        SemanticModel model,
        InvocationExpressionSyntax call,
        IMethodSymbol method,
        ImmutableDictionary<ISymbol, Expr> env
    )
    {
        var args = Arguments(model, call, method);
        if (args is null || args.Length < 2 || args[0] is not { } conditionSyntax || args[1] is not { } messageSyntax)
            return Fail() is not null;
        if (ConstantOf(model, messageSyntax) is not { HasValue: true, Value: string message })
        {
            UnsupportedExpr(messageSyntax, "the message of Require must be a constant string");
            return false;
        }
        var condition = ParseExpr(model, conditionSyntax, env);
        if (condition is null)
            return false;
        if (Structure.Any(condition, e => e is Input or OneHot or Count or Reduce or WeightedMean))
        {
            Report(
                DiagnosticCatalog.KindMismatch,
                conditionSyntax.GetLocation(),
                Diagnostics.Snippet(conditionSyntax),
                "depends on the input tensors but is a Require condition, which may only read hyperparameters"
            );
            return Fail() is not null;
        }
        var guard = _path.Count == 0 ? null : _path.Aggregate((a, b) => new Binary(BinaryOp.And, a, b));
        var simplified = Simplifier.Simplify(condition);
        var simplifiedGuard = guard is null ? null : Simplifier.Simplify(guard);
        // A rule that always holds, or that no construction reaches, checks nothing.
        if (simplified is Const { Value: not 0 } || simplifiedGuard is Const { Value: 0 })
            return true;
        if (simplifiedGuard is Const)
            simplifiedGuard = null;
        var requirement = new SpecRequirement(simplified, simplifiedGuard, message);
        if (_requirements.All(r => !r.Requirement.Equals(requirement)))
            _requirements.Add((requirement, _inline?.Outermost.CallSite ?? call.GetLocation(), Diagnostics.Snippet(conditionSyntax)));
        return true;
    }

    // The defaults must satisfy every rule: a rule they break is a mistake in the spec.
    private void CheckDefaults(string specName)
    {
        Expr AtDefaults(Expr e) =>
            Simplifier.Simplify(
                Structure.MapBottomUp(e, x => x is Param p && _defaults.TryGetValue(p.Name, out var d) && d is not null ? d : x)
            );
        foreach (var (r, location, text) in _requirements)
        {
            var applies = r.Guard is null || AtDefaults(r.Guard) is Const { Value: not 0 };
            if (applies && AtDefaults(r.Condition) is Const { Value: 0 })
                Report(DiagnosticCatalog.DefaultsBreakRequirement, location, specName, text, r.Message);
        }
    }

    private SpecResult Result(LossSpec? spec, LocationInfo? nameLocation) =>
        new(
            spec,
            EquatableArray.From(_diagnostics.Distinct()),
            nameLocation,
            spec is null
                ? default
                : EquatableArray.From(
                    _locations.Select(p => new NodeLocation(p.Key, LocationInfo.From(p.Value)!)).Where(l => l.Location is not null)
                )
        );

    // A problem at a location of the code being read. Inside an inlined callee it is not reported here:
    // the callee is a spec reported at its own declaration, or the call is reported as outside the subset.
    private void Report(DiagnosticDescriptor d, Location? location, params string[] args)
    {
        if (_inline is not null)
        {
            _failed = true;
            return;
        }
        ReportForSpec(d, location, args);
    }

    // A problem of the spec being read, at a location in it, wherever the reading is.
    private void ReportForSpec(DiagnosticDescriptor d, Location? location, params string[] args) =>
        _diagnostics.Add(DiagnosticInfo.Create(d, location, args));
}
