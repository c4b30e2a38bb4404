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

// Statements: locals, assignments, Require, return, and if as a construction-time choice.
internal sealed partial class SpecParser
{
    // ---------------------------------------------------------------- statements

    private Expr? ParseBody(IMethodSymbol method, MethodDeclarationSyntax syntax, ImmutableDictionary<ISymbol, Expr> env, bool topLevel)
    {
        var model = _compilation.GetSemanticModel(syntax.SyntaxTree);
        if (!_names.TryGetValue(syntax, out var names))
            _names[syntax] = names = new Names(model, syntax, _ct);
        var outer = _currentNames;
        _currentNames = names;
        try
        {
            if (syntax.ExpressionBody is { } arrow)
                return ParseExpr(model, arrow.Expression, env);
            if (syntax.Body is null)
                return Fail();
            return ReadStatements(model, syntax.Body.Statements.ToImmutableArray(), 0, env, topLevel).Value;
        }
        finally
        {
            _currentNames = outer;
        }
    }

    // What reading statements gave: the value of the 'return' that ends them or, in block mode (the branch
    // of an 'if' that only assigns locals), the locals at the end of the block. Neither on failure.
    private readonly record struct Read(Expr? Value, ImmutableDictionary<ISymbol, Expr>? Locals)
    {
        public static implicit operator Read(Expr? value) => new(value, null);
    }

    // Reads statements up to a 'return' and gives its value; in block mode reads to the end and gives the locals.
    private Read ReadStatements(
        SemanticModel model,
        ImmutableArray<StatementSyntax> statements,
        int index,
        ImmutableDictionary<ISymbol, Expr> env,
        bool topLevel,
        bool blockMode = false
    )
    {
        _ct.ThrowIfCancellationRequested();
        if (index < statements.Length)
            EnsureStack(statements[index]);
        for (var i = index; i < statements.Length; i++)
        {
            var statement = statements[i];
            switch (statement)
            {
                case EmptyStatementSyntax:
                    continue;

                case BlockSyntax block:
                {
                    // Flatten: the block's statements, then the rest.
                    var flat = block.Statements.ToImmutableArray().AddRange(statements.Skip(i + 1));
                    return ReadStatements(model, flat, 0, env, topLevel, blockMode);
                }

                case LocalDeclarationStatementSyntax local:
                    if (local.UsingKeyword != default || local.AwaitKeyword != default)
                        return Unsupported(statement);
                    foreach (var v in local.Declaration.Variables)
                    {
                        var symbol = model.GetDeclaredSymbol(v, _ct);
                        if (symbol is null)
                            return Fail();
                        if (v.Initializer is null)
                        {
                            // Declared now, assigned later (e.g. in both branches of an 'if').
                            _declared.Add(symbol);
                            continue;
                        }
                        // Axes are constants written in place; an Over local is not bound, so using it
                        // as an axes argument is reported as non-constant (LD0013).
                        if (IsType(symbol is ILocalSymbol ls ? ls.Type : null, OverType))
                            continue;
                        var value = ParseExpr(model, v.Initializer.Value, env);
                        if (value is null)
                            return null;
                        env = env.SetItem(symbol, value);
                        if (topLevel && _inline is null && _localNames.Add(symbol.Name))
                            _locals.Add(new SpecLocal(symbol.Name, value));
                    }
                    continue;

                case ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax assign }:
                {
                    var target = SymbolOf(model, assign.Left);
                    if (target is not ILocalSymbol || !(env.ContainsKey(target) || _declared.Contains(target)))
                    {
                        Report(
                            DiagnosticCatalog.UnsupportedStatement,
                            statement.GetLocation(),
                            Diagnostics.Snippet(statement),
                            "only locals of the spec can be assigned; " + DiagnosticCatalog.AllowedStatements
                        );
                        return Fail();
                    }
                    var right = ParseExpr(model, assign.Right, env);
                    if (right is null)
                        return null;
                    Expr value = assign.Kind() switch
                    {
                        SyntaxKind.SimpleAssignmentExpression => right,
                        _ when !env.ContainsKey(target) => null!,
                        SyntaxKind.AddAssignmentExpression => new Binary(BinaryOp.Add, env[target], right),
                        SyntaxKind.SubtractAssignmentExpression => new Binary(BinaryOp.Sub, env[target], right),
                        SyntaxKind.MultiplyAssignmentExpression => new Binary(BinaryOp.Mul, env[target], right),
                        SyntaxKind.DivideAssignmentExpression => new Binary(BinaryOp.Div, env[target], right),
                        _ => null!,
                    };
                    if (value is null)
                        return Unsupported(statement);
                    Remember(value, assign);
                    env = env.SetItem(target, value);
                    continue;
                }

                case ExpressionStatementSyntax { Expression: InvocationExpressionSyntax call }
                    when SymbolOf(model, call) is IMethodSymbol { Name: "Require" } require && IsType(require.ContainingType, DslType):
                    if (!Requirement(model, call, require, env))
                        return null;
                    continue;

                case ReturnStatementSyntax ret:
                    if (ret.Expression is null)
                        return Unsupported(statement);
                    return ParseExpr(model, ret.Expression, env);

                case IfStatementSyntax ifs when !ifs.DescendantNodes().OfType<ReturnStatementSyntax>().Any():
                {
                    // An 'if' that only assigns locals: each local it assigns becomes a choice, and the
                    // statements after it are read once.
                    var test = ParseExpr(model, ifs.Condition, env);
                    if (test is null)
                        return null;
                    var thenEnv = Branch(
                        test,
                        true,
                        () => ReadStatements(model, ImmutableArray.Create(ifs.Statement), 0, env, topLevel: false, blockMode: true)
                    ).Locals;
                    if (thenEnv is null)
                        return null;
                    var elseEnv = env;
                    if (ifs.Else is not null)
                    {
                        var read = Branch(
                            test,
                            false,
                            () => ReadStatements(model, ImmutableArray.Create(ifs.Else.Statement), 0, env, topLevel: false, blockMode: true)
                        ).Locals;
                        if (read is null)
                            return null;
                        elseEnv = read;
                    }
                    foreach (var symbol in thenEnv.Keys.Concat(elseEnv.Keys).Distinct(SymbolEqualityComparer.Default).ToList())
                    {
                        if (symbol is not ILocalSymbol || !(env.ContainsKey(symbol) || _declared.Contains(symbol)))
                            continue; // parameters; locals scoped to a branch
                        if (!thenEnv.TryGetValue(symbol, out var a) || !elseEnv.TryGetValue(symbol, out var b))
                            continue;
                        var merged = ReferenceEquals(a, b) || a.Equals(b) ? a : Remember(new Cond(test, a, b), ifs);
                        env = env.SetItem(symbol, merged);
                        if (topLevel && _inline is null && _localNames.Add(symbol.Name))
                            _locals.Add(new SpecLocal(symbol.Name, merged));
                    }
                    continue;
                }

                case IfStatementSyntax ifs:
                {
                    var test = ParseExpr(model, ifs.Condition, env);
                    if (test is null)
                        return null;
                    var rest = statements.Skip(i + 1).ToImmutableArray();
                    var then = Branch(
                        test,
                        true,
                        () => ReadStatements(model, ImmutableArray.Create(ifs.Statement).AddRange(rest), 0, env, topLevel: false)
                    ).Value;
                    if (then is null)
                        return null;
                    var elseStatements = ifs.Else is null ? rest : ImmutableArray.Create(ifs.Else.Statement).AddRange(rest);
                    var @else = Branch(test, false, () => ReadStatements(model, elseStatements, 0, env, topLevel: false)).Value;
                    if (@else is null)
                        return null;
                    return Remember(new Cond(test, then, @else), ifs);
                }

                default:
                    return Unsupported(statement);
            }
        }
        if (blockMode)
            return new Read(null, env);
        // Falling off the end: the C# compiler reports the missing return.
        return Fail();
    }

    // Reads one branch of a construction-time choice: Require rules inside apply only when it is taken.
    private T Branch<T>(Expr test, bool taken, Func<T> read)
    {
        _path.Add(taken ? test : new Unary(UnaryOp.Not, test));
        try
        {
            return read();
        }
        finally
        {
            _path.RemoveAt(_path.Count - 1);
        }
    }

    private Expr? Unsupported(StatementSyntax statement)
    {
        var allowed =
            statement is LocalFunctionStatementSyntax
                ? "write a helper as a static method returning Expr, declared outside the spec (such helpers are inlined, like calls to other specs); "
                    + DiagnosticCatalog.AllowedStatements
                : DiagnosticCatalog.AllowedStatements;
        Report(DiagnosticCatalog.UnsupportedStatement, statement.GetLocation(), Describe(statement), allowed);
        return Fail();
    }

    private static string Describe(StatementSyntax s) =>
        s switch
        {
            ForStatementSyntax => "for loop",
            ForEachStatementSyntax => "foreach loop",
            WhileStatementSyntax => "while loop",
            DoStatementSyntax => "do loop",
            TryStatementSyntax => "try statement",
            ThrowStatementSyntax => "throw statement",
            SwitchStatementSyntax => "switch statement",
            LocalFunctionStatementSyntax => "local function",
            _ => Diagnostics.Snippet(s),
        };

    private Expr? Fail()
    {
        _failed = true;
        return null;
    }
}
