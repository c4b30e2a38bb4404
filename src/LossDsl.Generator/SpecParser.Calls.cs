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

// Calls: the Dsl's functions, and other specs and Expr helpers, which are inlined.
internal sealed partial class SpecParser
{
    private Expr? Invocation(SemanticModel model, InvocationExpressionSyntax call, ImmutableDictionary<ISymbol, Expr> env)
    {
        if (SymbolOf(model, call) is not IMethodSymbol method)
        {
            // Unresolved: the C# compiler reports it; generate nothing for this spec.
            return Fail();
        }
        var args = Arguments(model, call, method);
        if (args is null)
            return Fail();

        if (IsType(method.ContainingType, DslType))
            return DslCall(model, call, method, args, env);

        if (
            (IsType(method.ContainingType, "System.Math") || IsType(method.ContainingType, "System.MathF")) && DslMath.Contains(method.Name)
        )
            return UnsupportedExpr(
                call,
                $"use {method.Name} from LossDsl.Dsl instead (with 'using static LossDsl.Dsl;'): it builds the loss expression, where {method.ContainingType.Name}.{method.Name} computes a number"
            );

        // Another spec, or a static helper returning Expr declared in source: inline it.
        if (
            method.IsStatic
            && IsType(method.ReturnType, ExprType)
            && !method.IsGenericMethod
            && method.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(_ct) is MethodDeclarationSyntax declaration
        )
            return Inline(model, call, method, declaration, args, env);

        return UnsupportedExpr(call);
    }

    // Argument syntax by parameter ordinal (named and positional arguments); null entries use the default.
    private ExpressionSyntax?[]? Arguments(SemanticModel model, InvocationExpressionSyntax call, IMethodSymbol method)
    {
        var result = new ExpressionSyntax?[method.Parameters.Length];
        var position = 0;
        foreach (var arg in call.ArgumentList.Arguments)
        {
            if (arg.RefKindKeyword != default)
                return null;
            int ordinal;
            if (arg.NameColon is { } nc)
            {
                var p = method.Parameters.FirstOrDefault(x => x.Name == nc.Name.Identifier.Text);
                if (p is null)
                    return null;
                ordinal = p.Ordinal;
            }
            else
            {
                ordinal = position;
            }
            if (ordinal >= result.Length || method.Parameters[ordinal].IsParams)
                return null;
            result[ordinal] = arg.Expression;
            position++;
        }
        return result;
    }

    private Expr? Argument(
        SemanticModel model,
        IMethodSymbol method,
        ExpressionSyntax?[] args,
        int i,
        ImmutableDictionary<ISymbol, Expr> env
    )
    {
        if (args[i] is { } syntax)
            return ParseExpr(model, syntax, env);
        var p = method.Parameters[i];
        if (!p.HasExplicitDefaultValue)
            return Fail();
        if (p.Type.TypeKind == TypeKind.Enum && p.Type is INamedTypeSymbol e)
        {
            var member = e.GetMembers()
                .OfType<IFieldSymbol>()
                .FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, p.ExplicitDefaultValue));
            return member is null
                ? Fail()
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
            _ => Fail(),
        };
    }

    private Expr? DslCall(
        SemanticModel model,
        InvocationExpressionSyntax call,
        IMethodSymbol method,
        ExpressionSyntax?[] args,
        ImmutableDictionary<ISymbol, Expr> env
    )
    {
        Expr? Arg(int i) => Argument(model, method, args, i, env);

        Over? Axes(int i)
        {
            var syntax = args[i];
            var c = syntax is null ? default : ConstantOf(model, syntax);
            if (syntax is null || !c.HasValue || c.Value is not int v)
            {
                Report(
                    DiagnosticCatalog.NonConstantAxes,
                    (syntax ?? (SyntaxNode)call).GetLocation(),
                    syntax is null ? "(missing)" : Diagnostics.Snippet(syntax)
                );
                _failed = true;
                return null;
            }
            return (Over)v;
        }

        var name = method.Name;
        if (UnaryFunctions.TryGetValue(name, out var uop) && method.Parameters.Length == 1)
            return Arg(0) is { } x ? new Unary(uop, x) : null;
        if (BinaryFunctions.TryGetValue(name, out var bop) && method.Parameters.Length == 2)
            return Arg(0) is { } a && Arg(1) is { } b ? new Binary(bop, a, b) : null;
        switch (name)
        {
            case "Clamp" when method.Parameters.Length == 3:
                return Arg(0) is { } x && Arg(1) is { } lo && Arg(2) is { } hi ? Dsl.Clamp(x, lo, hi) : null;
            case "OneHot" when method.Parameters.Length == 1:
                return Arg(0) is { } t ? new OneHot(t) : null;
            case "Sum" or "Mean" when method.Parameters.Length == 2:
            {
                var operand = Arg(0);
                var over = Axes(1);
                if (operand is null || over is null)
                    return null;
                return new Reduce(name == "Sum" ? ReduceOp.Sum : ReduceOp.Mean, operand, over.Value);
            }
            case "Count" when method.Parameters.Length == 1:
                return Axes(0) is { } o ? new Count(o) : null;
            case "PixelMap" or "ClassMap" when method.Parameters.Length == 1:
            {
                var syntax = args[0];
                var c = syntax is null ? default : ConstantOf(model, syntax);
                if (syntax is null || !c.HasValue || c.Value is not string mapName || !Dsl.IsMapName(mapName))
                {
                    Report(
                        DiagnosticCatalog.InvalidMapName,
                        (syntax ?? (SyntaxNode)call).GetLocation(),
                        syntax is null ? "(missing)" : Diagnostics.Snippet(syntax)
                    );
                    _failed = true;
                    return null;
                }
                return name == "PixelMap" ? Dsl.PixelMap(mapName) : Dsl.ClassMap(mapName);
            }
            case "WeightedMean" when method.Parameters.Length == 2:
                return Arg(0) is { } v && Arg(1) is { } w ? new WeightedMean(v, w) : null;
        }
        return UnsupportedExpr(call);
    }

    private Expr? Inline(
        SemanticModel model,
        InvocationExpressionSyntax call,
        IMethodSymbol method,
        MethodDeclarationSyntax declaration,
        ExpressionSyntax?[] args,
        ImmutableDictionary<ISymbol, Expr> env
    )
    {
        if (_calls.Contains(method, SymbolEqualityComparer.Default) || _calls.Count > 32)
        {
            // Reported once, at the outermost call of the spec being read, with the whole chain.
            var chain = string.Join(" -> ", _calls.Reverse().Select(m => m.Name).Append(method.Name));
            var at = _inline?.Outermost.CallSite ?? call.GetLocation();
            if (!_diagnostics.Any(d => d.Id == DiagnosticCatalog.RecursiveSpec.Id))
                ReportForSpec(DiagnosticCatalog.RecursiveSpec, at, _calls.Last().Name, chain);
            return Fail();
        }

        // Bind the callee's parameters to the caller's argument expressions.
        var calleeEnv = ImmutableDictionary.Create<ISymbol, Expr>(SymbolEqualityComparer.Default);
        for (var i = 0; i < method.Parameters.Length; i++)
        {
            var p = method.Parameters[i];
            if (
                !(
                    IsType(p.Type, ExprType)
                    || p.Type.SpecialType
                        is SpecialType.System_Double
                            or SpecialType.System_Single
                            or SpecialType.System_Boolean
                            or SpecialType.System_Int32
                            or SpecialType.System_Int64
                    || p.Type.TypeKind == TypeKind.Enum
                )
            )
                return UnsupportedExpr(call);
            var value = Argument(model, method, args, i, env);
            if (value is null)
                return null;
            calleeEnv = calleeEnv.SetItem(p, value);
        }

        _calls.Push(method);
        var outer = _inline;
        _inline = new InlineFrame(method, outer?.Outermost.CallSite ?? call.GetLocation(), outer);
        try
        {
            var body = ParseBody(method, declaration, calleeEnv, topLevel: false);
            // A helper outside the subset is reported at the outermost call (a spec is reported at its own
            // declaration instead).
            if (
                body is null
                && outer is null
                && !_diagnostics.Any(d => d.IsError)
                && !method.GetAttributes().Any(a => IsType(a.AttributeClass, AttributeType))
            )
                ReportForSpec(
                    DiagnosticCatalog.UnsupportedExpression,
                    call.GetLocation(),
                    Diagnostics.Snippet(call) + $" (the body of '{method.Name}' is outside the spec subset)",
                    DiagnosticCatalog.AllowedExpressions
                );
            return body;
        }
        finally
        {
            _inline = outer;
            _calls.Pop();
        }
    }

    internal sealed class ReferenceComparer : IEqualityComparer<Expr>
    {
        public static readonly ReferenceComparer Instance = new();

        public bool Equals(Expr? x, Expr? y) => ReferenceEquals(x, y);

        public int GetHashCode(Expr obj) => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
    }
}
