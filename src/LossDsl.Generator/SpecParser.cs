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

/// <summary>
/// Reads one <c>[Loss]</c> method into a <see cref="LossSpec"/>: the supported C# subset (parameters,
/// literals, constants, locals, <c>return</c>, <c>if</c>/<c>?:</c> on hyperparameters, operators,
/// <c>Dsl</c> calls, calls to other specs and <c>Expr</c> helpers, which are inlined) becomes the
/// core AST, and anything else a diagnostic at its exact location. Then runs the checker and maps
/// its diagnostics back to source. Never throws.
/// </summary>
public sealed class SpecParser
{
    private const string ExprType = "LossDsl.Expr";
    private const string DslType = "LossDsl.Dsl";
    private const string OverType = "LossDsl.Over";
    private const string AttributeType = "LossDsl.LossAttribute";

    private static readonly Dictionary<string, UnaryOp> UnaryFunctions = new()
    {
        ["Sigmoid"] = UnaryOp.Sigmoid, ["LogSigmoid"] = UnaryOp.LogSigmoid, ["Softplus"] = UnaryOp.Softplus,
        ["Softmax"] = UnaryOp.Softmax, ["LogSoftmax"] = UnaryOp.LogSoftmax, ["Log"] = UnaryOp.Log,
        ["Log1p"] = UnaryOp.Log1p, ["Exp"] = UnaryOp.Exp, ["Sqrt"] = UnaryOp.Sqrt, ["Abs"] = UnaryOp.Abs,
        ["LogCosh"] = UnaryOp.LogCosh,
    };

    private static readonly Dictionary<string, BinaryOp> BinaryFunctions = new()
    {
        ["Pow"] = BinaryOp.Pow, ["Min"] = BinaryOp.Min, ["Max"] = BinaryOp.Max,
    };

    private readonly Compilation _compilation;
    private readonly CancellationToken _ct;
    private readonly List<DiagnosticInfo> _diagnostics = new();
    private readonly Dictionary<Expr, Location> _locations = new(ReferenceComparer.Instance);
    private readonly List<SpecLocal> _locals = new();
    private readonly Stack<IMethodSymbol> _calls = new();
    private readonly HashSet<ISymbol> _declared = new(SymbolEqualityComparer.Default);
    private string? _recursion;
    private ImmutableDictionary<ISymbol, Expr>? _blockEnd;
    private static readonly Expr BlockEnd = new Const(double.NaN);
    private int _inlineDepth;
    private bool _failed;

    private SpecParser(Compilation compilation, CancellationToken ct)
    {
        _compilation = compilation;
        _ct = ct;
    }

    /// <summary>The transform of the incremental pipeline: one attributed method to its result.</summary>
    public static SpecResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        var method = context.TargetSymbol as IMethodSymbol;
        var syntax = context.TargetNode as MethodDeclarationSyntax;
        var nameLocation = LocationInfo.From(syntax?.Identifier.GetLocation());
        if (method is null || syntax is null)
            return new SpecResult(null, default, nameLocation);
        try
        {
            var attribute = context.Attributes.FirstOrDefault();
            return new SpecParser(context.SemanticModel.Compilation, ct).ParseSpec(method, syntax, attribute, nameLocation);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            return new SpecResult(null,
                EquatableArray.From(new[] { DiagnosticInfo.Create(DiagnosticCatalog.InternalError, syntax.Identifier.GetLocation(), method.Name, ex.GetType().Name + ": " + ex.Message) }),
                nameLocation);
        }
    }

    private SpecResult ParseSpec(IMethodSymbol method, MethodDeclarationSyntax syntax, AttributeData? attribute, LocationInfo? nameLocation)
    {
        var nameLoc = syntax.Identifier.GetLocation();
        var task = LossTask.Binary;
        string? explicitName = null;
        if (attribute is not null)
        {
            if (attribute.ConstructorArguments.Length > 0 && attribute.ConstructorArguments[0].Value is int t && Enum.IsDefined(typeof(LossTask), t))
                task = (LossTask)t;
            foreach (var named in attribute.NamedArguments)
                if (named.Key == "Name" && named.Value.Value is string s && s.Length > 0)
                    explicitName = s;
        }

        var lossName = explicitName ?? method.Name + "Loss";
        if (explicitName is not null && !SyntaxFacts.IsValidIdentifier(explicitName))
        {
            Report(DiagnosticCatalog.InvalidSignature, nameLoc, method.Name, $"has Name = \"{explicitName}\", which is not a C# identifier");
            return Result(null, nameLocation);
        }

        // Signature.
        var signatureOk = true;
        void Bad(string why)
        {
            Report(DiagnosticCatalog.InvalidSignature, nameLoc, method.Name, why);
            signatureOk = false;
        }

        if (!method.IsStatic) Bad("is not static");
        if (method.IsGenericMethod) Bad("is generic");
        if (!IsType(method.ReturnType, ExprType)) Bad($"returns '{method.ReturnType.ToDisplayString()}'");
        if (method.DeclaredAccessibility is Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal)
            Bad("is private or protected, but the generated module calls it");
        if (method.Parameters.Length < 2 || !IsType(method.Parameters[0].Type, ExprType) || !IsType(method.Parameters[1].Type, ExprType))
            Bad("does not start with two Expr parameters");
        if (syntax.Body is null && syntax.ExpressionBody is null) Bad("has no body");

        var parameters = new List<SpecParameter>();
        var env = ImmutableDictionary.Create<ISymbol, Expr>(SymbolEqualityComparer.Default);
        for (var i = 0; i < method.Parameters.Length; i++)
        {
            var p = method.Parameters[i];
            var pLoc = p.Locations.FirstOrDefault() ?? nameLoc;
            if (i < 2 && IsType(p.Type, ExprType))
            {
                parameters.Add(new SpecParameter(p.Name, i == 0 ? ParamRole.Prediction : ParamRole.Target, ParamKind.Real, "global::LossDsl.Expr", null));
                env = env.SetItem(p, i == 0 ? Dsl.Prediction : Dsl.Target);
                continue;
            }
            if (i < 2) continue;
            var hyper = Hyperparameter(p, pLoc);
            if (hyper is null)
            {
                signatureOk = false;
                continue;
            }
            parameters.Add(hyper);
            env = env.SetItem(p, new Param(p.Name, hyper.Kind));
        }

        // Every enclosing type must be partial so the functional form can be added.
        var containing = new List<ContainingType>();
        for (var type = method.ContainingType; type is not null; type = type.ContainingType)
        {
            if (!IsPartial(type))
            {
                Report(DiagnosticCatalog.NotPartial, nameLoc, type.Name, method.Name);
                signatureOk = false;
            }
            containing.Insert(0, Describe(type));
        }

        if (!signatureOk) return Result(null, nameLocation);

        _calls.Push(method);
        var body = ParseBody(method, syntax, env, topLevel: true);
        if (body is null || _failed) return Result(null, nameLocation);

        var ns = method.ContainingType.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : null;
        var spec = new LossSpec(ns, EquatableArray.From(containing), method.Name, lossName, task,
            EquatableArray.From(parameters), body, Summary(method), EquatableArray.From(_locals));

        foreach (var d in Checker.Check(spec))
            _diagnostics.Add(new DiagnosticInfo(d.Descriptor.Id, d.Arguments, LocationInfo.From(Find(body, d.Node) ?? nameLoc)));
        return Result(spec, nameLocation);
    }

    private SpecResult Result(LossSpec? spec, LocationInfo? nameLocation) =>
        new(spec, EquatableArray.From(_diagnostics.Distinct()), nameLocation);

    private void Report(DiagnosticDescriptor d, Location? location, params string[] args)
    {
        if (_inlineDepth > 0)
        {
            // Problems inside an inlined spec are reported where that spec is declared.
            _failed = true;
            return;
        }
        _diagnostics.Add(DiagnosticInfo.Create(d, location, args));
    }

    // ---------------------------------------------------------------- signature helpers

    private SpecParameter? Hyperparameter(IParameterSymbol p, Location loc)
    {
        if (p.RefKind != RefKind.None || p.IsParams)
        {
            Report(DiagnosticCatalog.InvalidHyperparameter, loc, p.Name, "is passed by reference or as params");
            return null;
        }
        var type = p.Type;
        ParamKind kind;
        string typeName;
        switch (type.SpecialType)
        {
            case SpecialType.System_Double: kind = ParamKind.Real; typeName = "double"; break;
            case SpecialType.System_Single: kind = ParamKind.Real; typeName = "float"; break;
            case SpecialType.System_Boolean: kind = ParamKind.Bool; typeName = "bool"; break;
            case SpecialType.System_Int32: kind = ParamKind.Integer; typeName = "int"; break;
            case SpecialType.System_Int64: kind = ParamKind.Integer; typeName = "long"; break;
            default:
                if (type.TypeKind == TypeKind.Enum)
                {
                    kind = ParamKind.Enum;
                    typeName = type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
                    break;
                }
                Report(DiagnosticCatalog.InvalidHyperparameter, loc, p.Name, $"has type '{type.ToDisplayString()}'");
                return null;
        }
        if (!p.HasExplicitDefaultValue)
        {
            Report(DiagnosticCatalog.InvalidHyperparameter, loc, p.Name, "has no default value");
            return null;
        }
        var text = DefaultText(type, p.ExplicitDefaultValue);
        if (text is null)
        {
            Report(DiagnosticCatalog.InvalidHyperparameter, loc, p.Name, "has a default value that cannot be written as a constant");
            return null;
        }
        return new SpecParameter(p.Name, ParamRole.Hyper, kind, typeName, text);
    }

    private static string? DefaultText(ITypeSymbol type, object? value)
    {
        if (value is null) return null;
        if (type.TypeKind == TypeKind.Enum && type is INamedTypeSymbol e)
        {
            var member = e.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, value));
            var full = type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
            return member is null ? $"({full}){Convert.ToInt64(value, CultureInfo.InvariantCulture)}" : $"{full}.{member.Name}";
        }
        return value switch
        {
            bool b => b ? "true" : "false",
            double d => Number(d),
            float f => Number(f) + "f",
            int i => i.ToString(CultureInfo.InvariantCulture),
            long l => l.ToString(CultureInfo.InvariantCulture) + "L",
            _ => null,
        };
    }

    private static string Number(double d)
    {
        if (double.IsNaN(d)) return "double.NaN";
        if (double.IsPositiveInfinity(d)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(d)) return "double.NegativeInfinity";
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.IndexOfAny(new[] { '.', 'E', 'e' }) >= 0 ? s : s + ".0";
    }

    private static bool IsType(ITypeSymbol? type, string fullName) =>
        type is not null && type.ToDisplayString() == fullName;

    private static bool IsPartial(INamedTypeSymbol type) =>
        type.DeclaringSyntaxReferences.Length > 0 &&
        type.DeclaringSyntaxReferences.Any(r => r.GetSyntax() is TypeDeclarationSyntax t && t.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)));

    private static ContainingType Describe(INamedTypeSymbol type)
    {
        var keyword = type.IsRecord ? (type.TypeKind == TypeKind.Struct ? "record struct" : "record")
            : type.TypeKind switch { TypeKind.Struct => "struct", TypeKind.Interface => "interface", _ => "class" };
        var name = type.Name + (type.TypeParameters.Length == 0 ? "" : "<" + string.Join(", ", type.TypeParameters.Select(t => t.Name)) + ">");
        var modifiers = new List<string>();
        switch (type.DeclaredAccessibility)
        {
            case Accessibility.Public: modifiers.Add("public"); break;
            case Accessibility.Internal: modifiers.Add("internal"); break;
            case Accessibility.Private: modifiers.Add("private"); break;
            case Accessibility.Protected: modifiers.Add("protected"); break;
            case Accessibility.ProtectedOrInternal: modifiers.Add("protected internal"); break;
            case Accessibility.ProtectedAndInternal: modifiers.Add("private protected"); break;
        }
        if (type.IsStatic) modifiers.Add("static");
        modifiers.Add("partial");
        return new ContainingType(keyword, name, string.Join(" ", modifiers));
    }

    private static string? Summary(IMethodSymbol method)
    {
        var xml = method.GetDocumentationCommentXml();
        if (string.IsNullOrEmpty(xml)) return null;
        var m = Regex.Match(xml, "<summary>(.*?)</summary>", RegexOptions.Singleline);
        if (!m.Success) return null;
        var text = Regex.Replace(m.Groups[1].Value, "<(see|paramref|typeparamref)\\s+(cref|name|langword)=\"(?:[A-Z]:)?([^\"]*)\"\\s*/>", "$3");
        text = Regex.Replace(text, "<[^>]+>", "");
        text = Regex.Replace(text, "\\s+", " ").Trim();
        text = text.Replace("&lt;", "<").Replace("&gt;", ">").Replace("&amp;", "&");
        return text.Length == 0 ? null : text;
    }

    // ---------------------------------------------------------------- statements

    private Expr? ParseBody(IMethodSymbol method, MethodDeclarationSyntax syntax, ImmutableDictionary<ISymbol, Expr> env, bool topLevel)
    {
        var model = _compilation.GetSemanticModel(syntax.SyntaxTree);
        if (syntax.ExpressionBody is { } arrow) return ParseExpr(model, arrow.Expression, env);
        if (syntax.Body is null) return Fail();
        return ParseStatements(model, syntax.Body.Statements.ToImmutableArray(), 0, env, topLevel);
    }

    // Reads statements up to a 'return' and gives its value. In block mode (the branch of an 'if' that
    // only assigns locals) it reads to the end instead, leaves the locals in _blockEnd and returns BlockEnd.
    private Expr? ParseStatements(SemanticModel model, ImmutableArray<StatementSyntax> statements, int index,
                                  ImmutableDictionary<ISymbol, Expr> env, bool topLevel, bool blockMode = false)
    {
        _ct.ThrowIfCancellationRequested();
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
                    return ParseStatements(model, flat, 0, env, topLevel, blockMode);
                }

                case LocalDeclarationStatementSyntax local:
                    if (local.UsingKeyword != default || local.AwaitKeyword != default)
                        return Unsupported(statement);
                    foreach (var v in local.Declaration.Variables)
                    {
                        var symbol = model.GetDeclaredSymbol(v, _ct);
                        if (symbol is null) return Fail();
                        if (v.Initializer is null)
                        {
                            // Declared now, assigned later (e.g. in both branches of an 'if').
                            _declared.Add(symbol);
                            continue;
                        }
                        // Axes are constants written in place; an Over local is not bound, so using it
                        // as an axes argument is reported as non-constant (LD0013).
                        if (IsType(symbol is ILocalSymbol ls ? ls.Type : null, OverType)) continue;
                        var value = ParseExpr(model, v.Initializer.Value, env);
                        if (value is null) return null;
                        env = env.SetItem(symbol, value);
                        if (topLevel && _inlineDepth == 0 && _locals.All(l => l.Name != symbol.Name))
                            _locals.Add(new SpecLocal(symbol.Name, value));
                    }
                    continue;

                case ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax assign }:
                {
                    var target = model.GetSymbolInfo(assign.Left, _ct).Symbol;
                    if (target is not ILocalSymbol || !(env.ContainsKey(target) || _declared.Contains(target)))
                    {
                        Report(DiagnosticCatalog.UnsupportedStatement, statement.GetLocation(), Diagnostics.Snippet(statement));
                        return Fail();
                    }
                    var right = ParseExpr(model, assign.Right, env);
                    if (right is null) return null;
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
                    if (value is null) return Unsupported(statement);
                    Remember(value, assign);
                    env = env.SetItem(target, value);
                    continue;
                }

                case ReturnStatementSyntax ret:
                    if (ret.Expression is null) return Unsupported(statement);
                    return ParseExpr(model, ret.Expression, env);

                case IfStatementSyntax ifs when !ifs.DescendantNodes().OfType<ReturnStatementSyntax>().Any():
                {
                    // An 'if' that only assigns locals: each local it assigns becomes a choice, and the
                    // statements after it are read once.
                    var test = ParseExpr(model, ifs.Condition, env);
                    if (test is null) return null;
                    if (ParseStatements(model, ImmutableArray.Create(ifs.Statement), 0, env, topLevel: false, blockMode: true) is null) return null;
                    var thenEnv = _blockEnd!;
                    var elseEnv = env;
                    if (ifs.Else is not null)
                    {
                        if (ParseStatements(model, ImmutableArray.Create(ifs.Else.Statement), 0, env, topLevel: false, blockMode: true) is null) return null;
                        elseEnv = _blockEnd!;
                    }
                    foreach (var symbol in thenEnv.Keys.Concat(elseEnv.Keys).Distinct(SymbolEqualityComparer.Default).ToList())
                    {
                        if (symbol is not ILocalSymbol || !(env.ContainsKey(symbol) || _declared.Contains(symbol))) continue;  // parameters; locals scoped to a branch
                        if (!thenEnv.TryGetValue(symbol, out var a) || !elseEnv.TryGetValue(symbol, out var b)) continue;
                        var merged = ReferenceEquals(a, b) || a.Equals(b) ? a : Remember(new Cond(test, a, b), ifs);
                        env = env.SetItem(symbol, merged);
                        if (topLevel && _inlineDepth == 0 && _locals.All(l => l.Name != symbol.Name))
                            _locals.Add(new SpecLocal(symbol.Name, merged));
                    }
                    continue;
                }

                case IfStatementSyntax ifs:
                {
                    var test = ParseExpr(model, ifs.Condition, env);
                    if (test is null) return null;
                    var rest = statements.Skip(i + 1).ToImmutableArray();
                    var then = ParseStatements(model, ImmutableArray.Create(ifs.Statement).AddRange(rest), 0, env, topLevel: false);
                    if (then is null) return null;
                    var elseStatements = ifs.Else is null ? rest : ImmutableArray.Create(ifs.Else.Statement).AddRange(rest);
                    var @else = ParseStatements(model, elseStatements, 0, env, topLevel: false);
                    if (@else is null) return null;
                    return Remember(new Cond(test, then, @else), ifs);
                }

                default:
                    return Unsupported(statement);
            }
        }
        if (blockMode)
        {
            _blockEnd = env;
            return BlockEnd;
        }
        // Falling off the end: the C# compiler reports the missing return.
        return Fail();
    }

    private Expr? Unsupported(StatementSyntax statement)
    {
        Report(DiagnosticCatalog.UnsupportedStatement, statement.GetLocation(), Describe(statement));
        return Fail();
    }

    private static string Describe(StatementSyntax s) => s switch
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

    // ---------------------------------------------------------------- expressions

    private Expr? ParseExpr(SemanticModel model, ExpressionSyntax syntax, ImmutableDictionary<ISymbol, Expr> env)
    {
        _ct.ThrowIfCancellationRequested();
        var e = ParseExprCore(model, syntax, env);
        return e is null ? null : Remember(e, syntax);
    }

    private Expr Remember(Expr e, SyntaxNode syntax)
    {
        if (_inlineDepth == 0 && !_locations.ContainsKey(e)) _locations[e] = syntax.GetLocation();
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

        // Compile-time constants: literals, const fields, enum members, folded arithmetic on them.
        var typeInfo = model.GetTypeInfo(syntax, _ct);
        var constant = model.GetConstantValue(syntax, _ct);
        if (constant.HasValue)
        {
            var type = typeInfo.Type;
            if (type is { TypeKind: TypeKind.Enum })
            {
                var member = (model.GetSymbolInfo(syntax, _ct).Symbol as IFieldSymbol)?.Name
                             ?? ((INamedTypeSymbol)type).GetMembers().OfType<IFieldSymbol>()
                                 .FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, constant.Value))?.Name;
                if (member is null || IsType(type, OverType)) return UnsupportedExpr(syntax);
                return new EnumValue(type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), member,
                    Convert.ToInt64(constant.Value, CultureInfo.InvariantCulture));
            }
            switch (constant.Value)
            {
                case bool b: return new Const(b ? 1 : 0);
                case double or float or int or long or short or byte or sbyte or uint or ulong or ushort or decimal:
                    return new Const(Convert.ToDouble(constant.Value, CultureInfo.InvariantCulture));
                default: return UnsupportedExpr(syntax);
            }
        }

        switch (syntax)
        {
            case IdentifierNameSyntax or MemberAccessExpressionSyntax when model.GetSymbolInfo(syntax, _ct).Symbol is { } symbol
                                                                       && symbol is not IMethodSymbol:
                return Symbol(symbol, syntax, env);

            case BinaryExpressionSyntax b:
            {
                BinaryOp? op = b.Kind() switch
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
                if (op is null) return UnsupportedExpr(syntax);
                var left = ParseExpr(model, b.Left, env);
                var right = left is null ? null : ParseExpr(model, b.Right, env);
                return right is null ? null : new Binary(op.Value, left!, right);
            }

            case PrefixUnaryExpressionSyntax u:
            {
                var arg = ParseExpr(model, u.Operand, env);
                if (arg is null) return null;
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
                var then = test is null ? null : ParseExpr(model, c.WhenTrue, env);
                var @else = then is null ? null : ParseExpr(model, c.WhenFalse, env);
                return @else is null ? null : new Cond(test!, then!, @else);
            }

            case CastExpressionSyntax cast:
            {
                var target = model.GetTypeInfo(cast.Type, _ct).Type;
                if (target is null || !(target.SpecialType is SpecialType.System_Double or SpecialType.System_Single or SpecialType.System_Int32 or SpecialType.System_Int64
                                        || IsType(target, ExprType)))
                    return UnsupportedExpr(syntax);
                return ParseExpr(model, cast.Expression, env);
            }

            case InvocationExpressionSyntax call:
                return Invocation(model, call, env);

            default:
                return UnsupportedExpr(syntax);
        }
    }

    private Expr? Symbol(ISymbol symbol, ExpressionSyntax syntax, ImmutableDictionary<ISymbol, Expr> env)
    {
        if (symbol is IParameterSymbol or ILocalSymbol)
        {
            if (env.TryGetValue(symbol, out var value)) return value;
            return UnsupportedExpr(syntax);
        }
        if (symbol is IPropertySymbol prop && IsType(prop.ContainingType, DslType))
        {
            return prop.Name switch
            {
                "Prediction" => Dsl.Prediction,
                "Target" => Dsl.Target,
                "ClassWeights" => Dsl.ClassWeights,
                "ClassIndex" => Dsl.ClassIndex,
                "NumClasses" => Dsl.NumClasses,
                _ => UnsupportedExpr(syntax),
            };
        }
        return UnsupportedExpr(syntax);
    }

    private Expr? UnsupportedExpr(SyntaxNode syntax)
    {
        Report(DiagnosticCatalog.UnsupportedExpression, syntax.GetLocation(), Diagnostics.Snippet(syntax));
        return Fail();
    }

    private Expr? Invocation(SemanticModel model, InvocationExpressionSyntax call, ImmutableDictionary<ISymbol, Expr> env)
    {
        if (model.GetSymbolInfo(call, _ct).Symbol is not IMethodSymbol method)
        {
            // Unresolved: the C# compiler reports it; generate nothing for this spec.
            return Fail();
        }
        var args = Arguments(model, call, method);
        if (args is null) return Fail();

        if (IsType(method.ContainingType, DslType))
            return DslCall(model, call, method, args, env);

        // Another spec, or a static helper returning Expr declared in source: inline it.
        if (method.IsStatic && IsType(method.ReturnType, ExprType) && !method.IsGenericMethod &&
            method.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(_ct) is MethodDeclarationSyntax declaration)
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
            if (arg.RefKindKeyword != default) return null;
            int ordinal;
            if (arg.NameColon is { } nc)
            {
                var p = method.Parameters.FirstOrDefault(x => x.Name == nc.Name.Identifier.Text);
                if (p is null) return null;
                ordinal = p.Ordinal;
            }
            else
            {
                ordinal = position;
            }
            if (ordinal >= result.Length || method.Parameters[ordinal].IsParams) return null;
            result[ordinal] = arg.Expression;
            position++;
        }
        return result;
    }

    private Expr? Argument(SemanticModel model, IMethodSymbol method, ExpressionSyntax?[] args, int i, ImmutableDictionary<ISymbol, Expr> env)
    {
        if (args[i] is { } syntax) return ParseExpr(model, syntax, env);
        var p = method.Parameters[i];
        if (!p.HasExplicitDefaultValue) return Fail();
        if (p.Type.TypeKind == TypeKind.Enum && p.Type is INamedTypeSymbol e)
        {
            var member = e.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, p.ExplicitDefaultValue));
            return member is null ? Fail() : new EnumValue(e.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), member.Name,
                Convert.ToInt64(p.ExplicitDefaultValue, CultureInfo.InvariantCulture));
        }
        return p.ExplicitDefaultValue switch
        {
            bool b => new Const(b ? 1 : 0),
            double or float or int or long => new Const(Convert.ToDouble(p.ExplicitDefaultValue, CultureInfo.InvariantCulture)),
            _ => Fail(),
        };
    }

    private Expr? DslCall(SemanticModel model, InvocationExpressionSyntax call, IMethodSymbol method, ExpressionSyntax?[] args,
                          ImmutableDictionary<ISymbol, Expr> env)
    {
        Expr? Arg(int i) => Argument(model, method, args, i, env);

        Over? Axes(int i)
        {
            var syntax = args[i];
            var c = syntax is null ? default : model.GetConstantValue(syntax, _ct);
            if (syntax is null || !c.HasValue || c.Value is not int v)
            {
                Report(DiagnosticCatalog.NonConstantAxes, (syntax ?? (SyntaxNode)call).GetLocation(), syntax is null ? "(missing)" : Diagnostics.Snippet(syntax));
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
                if (operand is null || over is null) return null;
                return new Reduce(name == "Sum" ? ReduceOp.Sum : ReduceOp.Mean, operand, over.Value);
            }
            case "Count" when method.Parameters.Length == 1:
                return Axes(0) is { } o ? new Count(o) : null;
            case "WeightedMean" when method.Parameters.Length == 2:
                return Arg(0) is { } v && Arg(1) is { } w ? new WeightedMean(v, w) : null;
        }
        return UnsupportedExpr(call);
    }

    private Expr? Inline(SemanticModel model, InvocationExpressionSyntax call, IMethodSymbol method, MethodDeclarationSyntax declaration,
                         ExpressionSyntax?[] args, ImmutableDictionary<ISymbol, Expr> env)
    {
        if (_calls.Contains(method, SymbolEqualityComparer.Default) || _calls.Count > 32)
        {
            // Reported at the outermost call of the spec being read, with the whole chain.
            var chain = string.Join(" -> ", _calls.Reverse().Select(m => m.Name).Append(method.Name));
            if (_inlineDepth == 0) Report(DiagnosticCatalog.RecursiveSpec, call.GetLocation(), _calls.Last().Name, chain);
            else _recursion ??= chain;
            return Fail();
        }

        // Bind the callee's parameters to the caller's argument expressions.
        var calleeEnv = ImmutableDictionary.Create<ISymbol, Expr>(SymbolEqualityComparer.Default);
        for (var i = 0; i < method.Parameters.Length; i++)
        {
            var p = method.Parameters[i];
            if (!(IsType(p.Type, ExprType) || p.Type.SpecialType is SpecialType.System_Double or SpecialType.System_Single
                  or SpecialType.System_Boolean or SpecialType.System_Int32 or SpecialType.System_Int64 || p.Type.TypeKind == TypeKind.Enum))
                return UnsupportedExpr(call);
            var value = Argument(model, method, args, i, env);
            if (value is null) return null;
            calleeEnv = calleeEnv.SetItem(p, value);
        }

        _calls.Push(method);
        _inlineDepth++;
        try
        {
            var body = ParseBody(method, declaration, calleeEnv, topLevel: false);
            if (body is null && _inlineDepth == 1 && _recursion is null && !_diagnostics.Any(d => d.IsError))
            {
                // The callee is outside the subset; it is reported at its own declaration if it is a spec,
                // and here otherwise.
                if (!method.GetAttributes().Any(a => IsType(a.AttributeClass, AttributeType)))
                {
                    _inlineDepth--;
                    try
                    {
                        Report(DiagnosticCatalog.UnsupportedExpression, call.GetLocation(), Diagnostics.Snippet(call) + $" (the body of '{method.Name}' is outside the spec subset)");
                    }
                    finally
                    {
                        _inlineDepth++;
                    }
                }
            }
            return body;
        }
        finally
        {
            _inlineDepth--;
            _calls.Pop();
            if (_inlineDepth == 0 && _recursion is { } chain)
            {
                _recursion = null;
                Report(DiagnosticCatalog.RecursiveSpec, call.GetLocation(), _calls.Last().Name, chain);
            }
        }
    }

    // ---------------------------------------------------------------- locations

    // The location of a checker diagnostic's node: its own if it was parsed from the spec, else that of
    // its nearest parsed ancestor (nodes made by inlining another spec map to the call).
    private Location? Find(Expr body, Expr? node)
    {
        if (node is null) return null;
        if (_locations.TryGetValue(node, out var loc)) return loc;
        Location? found = null;
        var visited = new HashSet<Expr>(ReferenceComparer.Instance);
        bool Walk(Expr e, Location? nearest)
        {
            if (!visited.Add(e)) return false;
            if (_locations.TryGetValue(e, out var own)) nearest = own;
            if (ReferenceEquals(e, node) || e.Equals(node))
            {
                found = nearest;
                return true;
            }
            foreach (var c in Structure.Children(e))
                if (Walk(c, nearest)) return true;
            return false;
        }
        Walk(body, null);
        return found;
    }

    private sealed class ReferenceComparer : IEqualityComparer<Expr>
    {
        public static readonly ReferenceComparer Instance = new();

        public bool Equals(Expr? x, Expr? y) => ReferenceEquals(x, y);

        public int GetHashCode(Expr obj) => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
    }
}
