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

// Expressions: operators, literals, symbols, conditionals.
internal sealed partial class SpecParser
{
    // ---------------------------------------------------------------- expressions

    // The parser recurses over the syntax: deep nesting ends here, with the location being read,
    // rather than in a stack overflow.
    private static void EnsureStack(SyntaxNode at)
    {
        try
        {
            System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack();
        }
        catch (InsufficientExecutionStackException)
        {
            throw new NestingTooDeepException(at.GetLocation());
        }
    }

    private Expr? ParseExpr(SemanticModel model, ExpressionSyntax syntax, ImmutableDictionary<ISymbol, Expr> env)
    {
        _ct.ThrowIfCancellationRequested();
        EnsureStack(syntax);
        Expr? e;
        try
        {
            e = ParseExprCore(model, syntax, env);
        }
        catch (InsufficientExecutionStackException)
        {
            // From the semantic model or the core, while reading this expression: report it here.
            throw new NestingTooDeepException(syntax.GetLocation());
        }
        return e is null ? null : Remember(e, syntax);
    }

    private Expr Remember(Expr e, SyntaxNode syntax)
    {
        if (_inline is null && !_locations.ContainsKey(e))
            _locations[e] = syntax.GetLocation();
        return e;
    }

    private Expr? ParseExprCore(SemanticModel model, ExpressionSyntax syntax, ImmutableDictionary<ISymbol, Expr> env)
    {
        switch (syntax)
        {
            case ParenthesizedExpressionSyntax p:
                return ParseExpr(model, p.Expression, env);
            case CheckedExpressionSyntax c:
                return ParseExpr(model, c.Expression, env);
        }

        // Compile-time constants: literals, const fields, enum members, folded arithmetic on them. The
        // semantic model is only asked about expressions that can be constant: asking it about every
        // operator of a long sum costs time quadratic in the sum's length.
        var constant = MayBeConstant(model, syntax) ? ConstantOf(model, syntax) : default;
        if (constant.HasValue)
        {
            var type = TypeOf(model, syntax);
            if (type is { TypeKind: TypeKind.Enum })
            {
                var member =
                    (SymbolOf(model, syntax) as IFieldSymbol)?.Name
                    ?? ((INamedTypeSymbol)type)
                        .GetMembers()
                        .OfType<IFieldSymbol>()
                        .FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, constant.Value))
                        ?.Name;
                if (member is null || IsType(type, OverType))
                    return UnsupportedExpr(syntax);
                return new EnumValue(
                    type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
                    member,
                    Convert.ToInt64(constant.Value, CultureInfo.InvariantCulture)
                );
            }
            switch (constant.Value)
            {
                case bool b:
                    return new Const(b ? 1 : 0);
                case double or float or int or long or short or byte or sbyte or uint or ulong or ushort or decimal:
                    return new Const(Convert.ToDouble(constant.Value, CultureInfo.InvariantCulture));
                default:
                    return UnsupportedExpr(syntax);
            }
        }

        switch (syntax)
        {
            case IdentifierNameSyntax
            or MemberAccessExpressionSyntax when SymbolOf(model, syntax) is { } symbol && symbol is not IMethodSymbol:
                return Symbol(symbol, syntax, env);

            case BinaryExpressionSyntax b:
            {
                // A left-nested chain (a + b + c + ...: a long sum is one) is read along its left spine
                // without recursion, so the stack depth does not grow with the chain's length.
                var spine = new List<BinaryExpressionSyntax> { b };
                while (
                    spine[spine.Count - 1].Left is BinaryExpressionSyntax inner
                    && BinaryOperator(inner) is not null
                    && !MayBeConstant(model, inner)
                )
                    spine.Add(inner);
                if (BinaryOperator(b) is null)
                    return UnsupportedExpr(syntax);
                var value = ParseExpr(model, spine[spine.Count - 1].Left, env);
                for (var i = spine.Count - 1; i >= 0 && value is not null; i--)
                {
                    _ct.ThrowIfCancellationRequested();
                    var right = ParseExpr(model, spine[i].Right, env);
                    value = right is null ? null : new Binary(BinaryOperator(spine[i])!.Value, value, right);
                    if (value is not null && i > 0)
                        Remember(value, spine[i]);
                }
                return value;
            }

            case PrefixUnaryExpressionSyntax u:
            {
                var arg = ParseExpr(model, u.Operand, env);
                if (arg is null)
                    return null;
                return u.Kind() switch
                {
                    SyntaxKind.UnaryMinusExpression => new Unary(UnaryOp.Neg, arg),
                    SyntaxKind.UnaryPlusExpression => arg,
                    SyntaxKind.LogicalNotExpression => new Unary(UnaryOp.Not, arg),
                    _ => UnsupportedExpr(syntax),
                };
            }

            case ConditionalExpressionSyntax c:
            {
                var test = ParseExpr(model, c.Condition, env);
                if (test is null)
                    return null;
                var then = Branch(test, true, () => ParseExpr(model, c.WhenTrue, env));
                var @else = then is null ? null : Branch(test, false, () => ParseExpr(model, c.WhenFalse, env));
                return @else is null ? null : new Cond(test, then!, @else);
            }

            case CastExpressionSyntax cast:
            {
                var target = model.GetTypeInfo(cast.Type, _ct).Type;
                if (
                    target is null
                    || !(
                        target.SpecialType
                            is SpecialType.System_Double
                                or SpecialType.System_Single
                                or SpecialType.System_Int32
                                or SpecialType.System_Int64
                        || IsType(target, ExprType)
                    )
                )
                    return UnsupportedExpr(syntax);
                return ParseExpr(model, cast.Expression, env);
            }

            case InvocationExpressionSyntax call:
                return Invocation(model, call, env);

            default:
                return UnsupportedExpr(syntax);
        }
    }

    private static BinaryOp? BinaryOperator(BinaryExpressionSyntax b) =>
        b.Kind() switch
        {
            SyntaxKind.AddExpression => BinaryOp.Add,
            SyntaxKind.SubtractExpression => BinaryOp.Sub,
            SyntaxKind.MultiplyExpression => BinaryOp.Mul,
            SyntaxKind.DivideExpression => BinaryOp.Div,
            SyntaxKind.EqualsExpression => BinaryOp.Eq,
            SyntaxKind.NotEqualsExpression => BinaryOp.Ne,
            SyntaxKind.LessThanExpression => BinaryOp.Lt,
            SyntaxKind.LessThanOrEqualExpression => BinaryOp.Le,
            SyntaxKind.GreaterThanExpression => BinaryOp.Gt,
            SyntaxKind.GreaterThanOrEqualExpression => BinaryOp.Ge,
            SyntaxKind.LogicalAndExpression => BinaryOp.And,
            SyntaxKind.LogicalOrExpression => BinaryOp.Or,
            _ => null,
        };

    private Expr? Symbol(ISymbol symbol, ExpressionSyntax syntax, ImmutableDictionary<ISymbol, Expr> env)
    {
        if (symbol is IParameterSymbol or ILocalSymbol)
        {
            if (env.TryGetValue(symbol, out var value))
                return value;
            return UnsupportedExpr(syntax);
        }
        if (symbol is IPropertySymbol prop && IsType(prop.ContainingType, DslType))
        {
            return prop.Name switch
            {
                "Prediction" => Dsl.Prediction,
                "Target" => Dsl.Target,
                "ClassWeights" => Dsl.ClassWeights,
                "PosWeights" => Dsl.PosWeights,
                "ClassIndex" => Dsl.ClassIndex,
                "NumClasses" => Dsl.NumClasses,
                _ => UnsupportedExpr(syntax),
            };
        }
        return UnsupportedExpr(syntax);
    }

    private Expr? UnsupportedExpr(SyntaxNode syntax, string? hint = null)
    {
        Report(
            DiagnosticCatalog.UnsupportedExpression,
            syntax.GetLocation(),
            Diagnostics.Snippet(syntax),
            hint ?? DiagnosticCatalog.AllowedExpressions
        );
        return Fail();
    }

    // System.Math functions with a Dsl counterpart, which is what a spec means by them.
    private static readonly HashSet<string> DslMath = new(StringComparer.Ordinal)
    {
        "Sqrt",
        "Log",
        "Exp",
        "Abs",
        "Pow",
        "Min",
        "Max",
        "Clamp",
    };
}
