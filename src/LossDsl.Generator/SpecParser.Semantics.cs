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

// Semantic information: names in scope, symbols, constants, types.
internal sealed partial class SpecParser
{
    // ---------------------------------------------------------------- semantic information

    // The semantic model answers a question about a node in time that grows with the node's depth in
    // the method (and, for an operator, with its operands' size), so reading a long sum node by node
    // would take quadratic time. Names, literals and calls of the subset are resolved here instead,
    // from each body's declared locals and one cached name lookup per name; the model is asked only
    // about the rest (and where a name is ambiguous).
    private sealed class Names
    {
        private readonly Dictionary<string, ISymbol?> _locals = new(StringComparer.Ordinal);
        private readonly Dictionary<string, ImmutableArray<ISymbol>> _lookups = new(StringComparer.Ordinal);
        private readonly int _position;

        public Names(SemanticModel model, MethodDeclarationSyntax declaration, CancellationToken ct)
        {
            Model = model;
            _position =
                declaration.Body?.OpenBraceToken.Span.End ?? declaration.ExpressionBody?.Expression.SpanStart ?? declaration.SpanStart;
            if (model.GetDeclaredSymbol(declaration, ct) is IMethodSymbol method)
                foreach (var p in method.Parameters)
                    Declare(p.Name, p);
            foreach (var node in declaration.DescendantNodes())
            {
                switch (node)
                {
                    case VariableDeclaratorSyntax v:
                        Declare(v.Identifier.ValueText, model.GetDeclaredSymbol(v, ct));
                        break;
                    // Other ways to declare a name (outside the subset): never resolved here.
                    case SingleVariableDesignationSyntax d:
                        Declare(d.Identifier.ValueText, null);
                        break;
                    case ForEachStatementSyntax f:
                        Declare(f.Identifier.ValueText, null);
                        break;
                    case CatchDeclarationSyntax c:
                        Declare(c.Identifier.ValueText, null);
                        break;
                    case LocalFunctionStatementSyntax l:
                        Declare(l.Identifier.ValueText, null);
                        break;
                    case ParameterSyntax p when p.Parent?.Parent is not MethodDeclarationSyntax:
                        Declare(p.Identifier.ValueText, null);
                        break;
                }
            }
        }

        public SemanticModel Model { get; }

        // A name declared twice (in sibling blocks) or by another construct is left to the model.
        private void Declare(string name, ISymbol? symbol) => _locals[name] = _locals.ContainsKey(name) ? null : symbol;

        /// <summary>True when the name is declared in the body; <paramref name="symbol"/> is null when that is ambiguous.</summary>
        public bool TryLocal(string name, out ISymbol? symbol) => _locals.TryGetValue(name, out symbol);

        /// <summary>What the name means where it is not a local: members, using static imports, types.</summary>
        public ImmutableArray<ISymbol> Lookup(string name)
        {
            if (!_lookups.TryGetValue(name, out var found))
                _lookups[name] = found = Model.LookupSymbols(_position, name: name);
            return found;
        }
    }

    private readonly Dictionary<MethodDeclarationSyntax, Names> _names = new();
    private Names? _currentNames;

    private ISymbol? SymbolOf(SemanticModel model, ExpressionSyntax syntax) =>
        (_currentNames is { } names && ReferenceEquals(names.Model, model) ? Resolve(names, syntax) : null)
        ?? model.GetSymbolInfo(syntax, _ct).Symbol;

    // The symbol of a name, a member of a named type, or a call of one, when that is unambiguous; else null.
    private static ISymbol? Resolve(Names names, ExpressionSyntax syntax)
    {
        switch (syntax)
        {
            case IdentifierNameSyntax id:
            {
                var name = id.Identifier.ValueText;
                if (names.TryLocal(name, out var local))
                    return local;
                return names.Lookup(name) is { Length: 1 } found && found[0] is not IMethodSymbol ? found[0] : null;
            }
            case MemberAccessExpressionSyntax { Name: IdentifierNameSyntax member } access
                when access.IsKind(SyntaxKind.SimpleMemberAccessExpression) && TypeNamed(names, access.Expression) is { } type:
                return type.GetMembers(member.Identifier.ValueText) is { Length: 1 } members && members[0] is not IMethodSymbol
                    ? members[0]
                    : null;
            case InvocationExpressionSyntax { Expression: IdentifierNameSyntax name } call:
                if (names.TryLocal(name.Identifier.ValueText, out _))
                    return null;
                return names.Lookup(name.Identifier.ValueText) is { Length: 1 } methods && methods[0] is IMethodSymbol m && Fits(m, call)
                    ? m
                    : null;
            case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name: IdentifierNameSyntax member } access } call
                when access.IsKind(SyntaxKind.SimpleMemberAccessExpression) && TypeNamed(names, access.Expression) is { } type:
                return
                    type.GetMembers(member.Identifier.ValueText) is { Length: 1 } candidates
                    && candidates[0] is IMethodSymbol { IsStatic: true } sm
                    && Fits(sm, call)
                    ? sm
                    : null;
            default:
                return null;
        }
    }

    // The type a simple name denotes (not a local, one type of that name in scope), or null.
    private static INamedTypeSymbol? TypeNamed(Names names, ExpressionSyntax syntax) =>
        syntax is IdentifierNameSyntax id
        && !names.TryLocal(id.Identifier.ValueText, out _)
        && names.Lookup(id.Identifier.ValueText) is { Length: 1 } found
        && found[0] is INamedTypeSymbol { Arity: 0 } type
            ? type
            : null;

    // Whether a call's arguments fit the method's only overload: no ref or out arguments, no more
    // positional arguments than parameters, named arguments that exist, every required parameter given.
    private static bool Fits(IMethodSymbol method, InvocationExpressionSyntax call)
    {
        if (method.IsGenericMethod || method.Parameters.Any(p => p.IsParams || p.RefKind != RefKind.None))
            return false;
        var given = new bool[method.Parameters.Length];
        var position = 0;
        foreach (var arg in call.ArgumentList.Arguments)
        {
            if (arg.RefKindKeyword != default)
                return false;
            int ordinal;
            if (arg.NameColon is { } nc)
            {
                ordinal = method.Parameters.IndexOf(method.Parameters.FirstOrDefault(p => p.Name == nc.Name.Identifier.ValueText)!);
                if (ordinal < 0)
                    return false;
            }
            else
            {
                ordinal = position;
            }
            if (ordinal >= given.Length || given[ordinal])
                return false;
            given[ordinal] = true;
            position++;
        }
        for (var i = 0; i < given.Length; i++)
            if (!given[i] && !method.Parameters[i].IsOptional)
                return false;
        return true;
    }

    private Optional<object?> ConstantOf(SemanticModel model, ExpressionSyntax syntax)
    {
        if (
            syntax is LiteralExpressionSyntax literal
            && literal.Kind()
                is SyntaxKind.NumericLiteralExpression
                    or SyntaxKind.TrueLiteralExpression
                    or SyntaxKind.FalseLiteralExpression
                    or SyntaxKind.StringLiteralExpression
        )
            return new Optional<object?>(literal.Token.Value);
        if (
            syntax is IdentifierNameSyntax or MemberAccessExpressionSyntax
            && _currentNames is { } names
            && ReferenceEquals(names.Model, model)
        )
        {
            switch (Resolve(names, syntax))
            {
                case IFieldSymbol { HasConstantValue: true } f:
                    return new Optional<object?>(f.ConstantValue);
                case ILocalSymbol { HasConstantValue: true } l:
                    return new Optional<object?>(l.ConstantValue);
                case IFieldSymbol or ILocalSymbol or IParameterSymbol or IPropertySymbol:
                    return default;
            }
        }
        return model.GetConstantValue(syntax, _ct);
    }

    private ITypeSymbol? TypeOf(SemanticModel model, ExpressionSyntax syntax) =>
        syntax switch
        {
            // Only asked of constants, to tell enum members: a literal never is one.
            LiteralExpressionSyntax => null,
            IdentifierNameSyntax or MemberAccessExpressionSyntax when SymbolOf(model, syntax) is IFieldSymbol f => f.Type,
            _ => model.GetTypeInfo(syntax, _ct).Type,
        };

    // False when the expression cannot be a C# constant: it reads a variable, a property or a call
    // (what a spec's values are made of). Decided from the syntax and the symbols of its names,
    // once per node.
    private bool MayBeConstant(SemanticModel model, ExpressionSyntax syntax)
    {
        if (_constantCandidates.TryGetValue(syntax, out var known))
            return known;
        EnsureStack(syntax);
        if (syntax is BinaryExpressionSyntax top)
        {
            // Along the left spine without recursion (see the BinaryExpressionSyntax case of ParseExprCore).
            var spine = new List<BinaryExpressionSyntax> { top };
            while (spine[spine.Count - 1].Left is BinaryExpressionSyntax inner && !_constantCandidates.ContainsKey(inner))
                spine.Add(inner);
            var value = MayBeConstant(model, spine[spine.Count - 1].Left);
            for (var i = spine.Count - 1; i >= 0; i--)
            {
                value = value && MayBeConstant(model, spine[i].Right);
                _constantCandidates[spine[i]] = value;
            }
            return value;
        }
        var result = syntax switch
        {
            LiteralExpressionSyntax => true,
            ParenthesizedExpressionSyntax p => MayBeConstant(model, p.Expression),
            CheckedExpressionSyntax c => MayBeConstant(model, c.Expression),
            CastExpressionSyntax c => MayBeConstant(model, c.Expression),
            PrefixUnaryExpressionSyntax u => MayBeConstant(model, u.Operand),
            ConditionalExpressionSyntax c => MayBeConstant(model, c.Condition)
                && MayBeConstant(model, c.WhenTrue)
                && MayBeConstant(model, c.WhenFalse),
            IdentifierNameSyntax or MemberAccessExpressionSyntax => SymbolOf(model, syntax) switch
            {
                IFieldSymbol { IsConst: true } => true,
                ILocalSymbol { IsConst: true } => true,
                INamespaceOrTypeSymbol => true,
                IFieldSymbol or ILocalSymbol or IParameterSymbol or IPropertySymbol or IMethodSymbol => false,
                _ => true,
            },
            InvocationExpressionSyntax { Expression: IdentifierNameSyntax { Identifier.ValueText: "nameof" } } => true,
            InvocationExpressionSyntax => false,
            _ => true,
        };
        _constantCandidates[syntax] = result;
        return result;
    }
}
