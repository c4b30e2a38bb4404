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
/// core AST, and anything else a diagnostic at its exact location, with the source location of each
/// node it read (for <see cref="SpecChecker"/>, which maps the checker's diagnostics back). Never throws.
/// </summary>
internal sealed class SpecParser
{
    private const string ExprType = "LossDsl.Expr";
    private const string DslType = "LossDsl.Dsl";
    private const string OverType = "LossDsl.Over";
    private const string AttributeType = "LossDsl.LossAttribute";

    // The element-wise functions of the operator table, and the class-axis ones.
    private static readonly Dictionary<string, UnaryOp> UnaryFunctions =
        Operators.ElementFunctions.ToDictionary(f => f.Name, f => f.Op)
            .Concat(new Dictionary<string, UnaryOp> { ["Softmax"] = UnaryOp.Softmax, ["LogSoftmax"] = UnaryOp.LogSoftmax })
            .ToDictionary(p => p.Key, p => p.Value);

    private static readonly Dictionary<string, BinaryOp> BinaryFunctions = new()
    {
        ["Pow"] = BinaryOp.Pow, ["Min"] = BinaryOp.Min, ["Max"] = BinaryOp.Max,
    };

    private readonly Compilation _compilation;
    private readonly CancellationToken _ct;
    private readonly List<DiagnosticInfo> _diagnostics = new();
    private readonly Dictionary<Expr, Location> _locations = new(ReferenceComparer.Instance);
    private readonly List<SpecLocal> _locals = new();
    private readonly List<(SpecRequirement Requirement, Location? Location, string Text)> _requirements = new();
    private readonly Dictionary<string, Expr?> _defaults = new(StringComparer.Ordinal);
    private readonly List<Expr> _path = new();
    private readonly Dictionary<SyntaxNode, bool> _constantCandidates = new();

    private Location? _callSite;
    private readonly HashSet<string> _localNames = new(StringComparer.Ordinal);
    private readonly Stack<IMethodSymbol> _calls = new();
    private readonly HashSet<ISymbol> _declared = new(SymbolEqualityComparer.Default);
    private string? _recursion;
    private ImmutableDictionary<ISymbol, Expr>? _blockEnd;
    private static readonly Expr BlockEnd = new Const(double.NaN);
    private int _inlineDepth;
    private bool _failed;

    // Method bodies nested more deeply than this are read on a thread with a large stack.
    private const int DeepSyntax = 200;

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
            var compilation = context.SemanticModel.Compilation;
            // A deeply nested body is read on a thread with a large stack from the start: the semantic
            // model binds it recursively, and the compiler's own thread may not have room for that.
            var deep = DeepStack.Depth(syntax) > DeepSyntax;
            return DeepStack.Run(() => new SpecParser(compilation, ct).ParseSpec(method, syntax, attribute, nameLocation), deep);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex) when (DeepStack.IsTooDeep(ex))
        {
            var at = (ex as NestingTooDeepException)?.Location ?? syntax.Identifier.GetLocation();
            return new SpecResult(null,
                EquatableArray.From(new[] { DiagnosticInfo.Create(DiagnosticCatalog.NestedTooDeeply, at, method.Name) }),
                nameLocation);
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
            if (ReservedReason(p.Name, lossName, parameters) is { } reserved)
            {
                Report(DiagnosticCatalog.ReservedName, pLoc, p.Name, method.Name, reserved);
                signatureOk = false;
            }
            parameters.Add(hyper);
            env = env.SetItem(p, new Param(p.Name, hyper.Kind));
            _defaults[p.Name] = DefaultValue(p);
        }

        // Every enclosing type must be partial so the functional form can be added, and not generic:
        // the generated module calls the spec method without type arguments.
        var containing = new List<ContainingType>();
        for (var type = method.ContainingType; type is not null; type = type.ContainingType)
        {
            if (!IsPartial(type))
            {
                Report(DiagnosticCatalog.NotPartial, nameLoc, type.Name, method.Name);
                signatureOk = false;
            }
            if (type.TypeParameters.Length > 0)
            {
                Report(DiagnosticCatalog.GenericContainingType, nameLoc, method.Name, type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat));
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
            EquatableArray.From(parameters), body, Summary(method), EquatableArray.From(_locals),
            EquatableArray.From(_requirements.Select(r => r.Requirement)));

        CheckDefaults(method.Name);
        if (ns != "LossDsl" && IsLossDslType(lossName))
            Report(DiagnosticCatalog.AmbiguousName, nameLoc, method.Name, lossName);
        return Result(spec, nameLocation);
    }

    // ---------------------------------------------------------------- names the generated code uses

    // Parameters of the generated constructor and functional form, and the functional form's local.
    private static readonly Dictionary<string, string> GeneratedParameters = new(StringComparer.Ordinal)
    {
        ["input"] = "is a parameter of the generated functional form",
        ["target"] = "is a parameter of the generated functional form",
        ["mask"] = "is a parameter of the generated functional form",
        ["reduction"] = "is a parameter of the generated constructor and functional form",
        ["classWeights"] = "is a parameter of the generated constructor and functional form",
        ["ignoreIndex"] = "is a parameter of the generated constructor and functional form",
        ["loss"] = "is the name of the module local in the generated functional form",
    };

    // Members of the generated module (its own, and those of LossModule, LossFunction, TorchSharp's
    // nn.Module and object that a derived class sees): a hyperparameter's property must not hide one.
    private static readonly HashSet<string> ModuleMembers = new(StringComparer.Ordinal)
    {
        // The generated module's own members.
        "BuildSpec", "ResultAxes", "Evaluate", "Backward", "HasAnalyticBackward", Emitter.ValidateMethod,
        // LossModule and LossFunction.
        "Task", "Reduction", "ClassWeights", "IgnoreIndex", "CheckValues", "Mode", "HasCpuKernel", "Reference",
        "StableReference", "UsesClassWeights",
        // torch.nn.Module (names a property can take: the capitalised ones, and those not starting with a letter).
        "ClearModules", "ConditionallyRegisterBuffer", "ConditionallyRegisterParameter", "Create", "Dispose",
        "GetDefaultDeviceAndType", "GetName", "HookRemover", "RegisterComponents", "ReplaceBuffer", "ReplaceParameter",
        "_deviceIndex", "_deviceType", "_internal_buffers", "_internal_params", "_internal_submodules", "_named_buffers",
        "_named_parameters", "_parameters", "_to", "_toEpilog",
        // object.
        "Equals", "Finalize", "GetHashCode", "GetType", "MemberwiseClone", "ReferenceEquals", "ToString",
    };

    /// <summary>The names a hyperparameter cannot take (docs/dsl.md, "Reserved names").</summary>
    public static IReadOnlyCollection<string> ReservedParameterNames => GeneratedParameters.Keys;

    /// <summary>The property names a hyperparameter's name cannot capitalise to.</summary>
    public static IReadOnlyCollection<string> ReservedPropertyNames => ModuleMembers;

    // Why the generated code cannot use this hyperparameter name, or null when it can.
    private static string? ReservedReason(string name, string lossName, IEnumerable<SpecParameter> earlier)
    {
        if (GeneratedParameters.TryGetValue(name, out var why)) return why;
        var property = Emitter.Pascal(name);
        if (ModuleMembers.Contains(property))
            return $"would become the property '{property}', which hides a member of the generated module (LossModule.{property} or its base classes)";
        if (property == lossName)
            return $"would become the property '{property}', the name of the generated module itself";
        if (earlier.FirstOrDefault(p => p.Role == ParamRole.Hyper && Emitter.Pascal(p.Name) == property) is { } twin)
            return $"would become the property '{property}', as hyperparameter '{twin.Name}' does";
        return null;
    }

    // A type of the LossDsl namespace (the catalog's modules, the runtime's types) in a referenced
    // assembly: a spec elsewhere generating the same name makes code importing both ambiguous.
    private bool IsLossDslType(string name)
    {
        var type = _compilation.GetTypeByMetadataName("LossDsl." + name);
        return type is { DeclaredAccessibility: Accessibility.Public } && !SymbolEqualityComparer.Default.Equals(type.ContainingAssembly, _compilation.Assembly);
    }

    // ---------------------------------------------------------------- Require rules

    private static Expr? DefaultValue(IParameterSymbol p)
    {
        if (!p.HasExplicitDefaultValue) return null;
        if (p.Type.TypeKind == TypeKind.Enum && p.Type is INamedTypeSymbol e)
        {
            var member = e.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, p.ExplicitDefaultValue));
            return member is null ? null : new EnumValue(e.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), member.Name,
                Convert.ToInt64(p.ExplicitDefaultValue, CultureInfo.InvariantCulture));
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
    private bool Requirement(SemanticModel model, InvocationExpressionSyntax call, IMethodSymbol method, ImmutableDictionary<ISymbol, Expr> env)
    {
        var args = Arguments(model, call, method);
        if (args is null || args.Length < 2 || args[0] is not { } conditionSyntax || args[1] is not { } messageSyntax) return Fail() is not null;
        if (ConstantOf(model, messageSyntax) is not { HasValue: true, Value: string message })
        {
            UnsupportedExpr(messageSyntax, "the message of Require must be a constant string");
            return false;
        }
        var condition = ParseExpr(model, conditionSyntax, env);
        if (condition is null) return false;
        if (Structure.Any(condition, e => e is Input or OneHot or Count or Reduce or WeightedMean))
        {
            Report(DiagnosticCatalog.KindMismatch, conditionSyntax.GetLocation(), Diagnostics.Snippet(conditionSyntax),
                "depends on the input tensors but is a Require condition, which may only read hyperparameters");
            return Fail() is not null;
        }
        var guard = _path.Count == 0 ? null : _path.Aggregate((a, b) => new Binary(BinaryOp.And, a, b));
        var simplified = Simplifier.Simplify(condition);
        var simplifiedGuard = guard is null ? null : Simplifier.Simplify(guard);
        // A rule that always holds, or that no construction reaches, checks nothing.
        if (simplified is Const { Value: not 0 } || simplifiedGuard is Const { Value: 0 }) return true;
        if (simplifiedGuard is Const) simplifiedGuard = null;
        var requirement = new SpecRequirement(simplified, simplifiedGuard, message);
        if (_requirements.All(r => !r.Requirement.Equals(requirement)))
            _requirements.Add((requirement, _inlineDepth == 0 ? call.GetLocation() : _callSite, Diagnostics.Snippet(conditionSyntax)));
        return true;
    }

    // The defaults must satisfy every rule: a rule they break is a mistake in the spec.
    private void CheckDefaults(string specName)
    {
        Expr AtDefaults(Expr e) => Simplifier.Simplify(Structure.MapBottomUp(e, x => x is Param p && _defaults.TryGetValue(p.Name, out var d) && d is not null ? d : x));
        foreach (var (r, location, text) in _requirements)
        {
            var applies = r.Guard is null || AtDefaults(r.Guard) is Const { Value: not 0 };
            if (applies && AtDefaults(r.Condition) is Const { Value: 0 })
                Report(DiagnosticCatalog.DefaultsBreakRequirement, location, specName, text, r.Message);
        }
    }

    private SpecResult Result(LossSpec? spec, LocationInfo? nameLocation) =>
        new(spec, EquatableArray.From(_diagnostics.Distinct()), nameLocation,
            spec is null ? default : EquatableArray.From(_locations.Select(p => new NodeLocation(p.Key, LocationInfo.From(p.Value)!)).Where(l => l.Location is not null)));

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

    private static string Number(double d) => Printer.DoubleLiteral(d);

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
        if (!_names.TryGetValue(syntax, out var names)) _names[syntax] = names = new Names(model, syntax, _ct);
        var outer = _currentNames;
        _currentNames = names;
        try
        {
            if (syntax.ExpressionBody is { } arrow) return ParseExpr(model, arrow.Expression, env);
            if (syntax.Body is null) return Fail();
            return ParseStatements(model, syntax.Body.Statements.ToImmutableArray(), 0, env, topLevel);
        }
        finally
        {
            _currentNames = outer;
        }
    }

    // Reads statements up to a 'return' and gives its value. In block mode (the branch of an 'if' that
    // only assigns locals) it reads to the end instead, leaves the locals in _blockEnd and returns BlockEnd.
    private Expr? ParseStatements(SemanticModel model, ImmutableArray<StatementSyntax> statements, int index,
                                  ImmutableDictionary<ISymbol, Expr> env, bool topLevel, bool blockMode = false)
    {
        _ct.ThrowIfCancellationRequested();
        if (index < statements.Length) EnsureStack(statements[index]);
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
                        if (topLevel && _inlineDepth == 0 && _localNames.Add(symbol.Name))
                            _locals.Add(new SpecLocal(symbol.Name, value));
                    }
                    continue;

                case ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax assign }:
                {
                    var target = SymbolOf(model, assign.Left);
                    if (target is not ILocalSymbol || !(env.ContainsKey(target) || _declared.Contains(target)))
                    {
                        Report(DiagnosticCatalog.UnsupportedStatement, statement.GetLocation(), Diagnostics.Snippet(statement),
                            "only locals of the spec can be assigned; " + DiagnosticCatalog.AllowedStatements);
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

                case ExpressionStatementSyntax { Expression: InvocationExpressionSyntax call }
                    when SymbolOf(model, call) is IMethodSymbol { Name: "Require" } require && IsType(require.ContainingType, DslType):
                    if (!Requirement(model, call, require, env)) return null;
                    continue;

                case ReturnStatementSyntax ret:
                    if (ret.Expression is null) return Unsupported(statement);
                    return ParseExpr(model, ret.Expression, env);

                case IfStatementSyntax ifs when !ifs.DescendantNodes().OfType<ReturnStatementSyntax>().Any():
                {
                    // An 'if' that only assigns locals: each local it assigns becomes a choice, and the
                    // statements after it are read once.
                    var test = ParseExpr(model, ifs.Condition, env);
                    if (test is null) return null;
                    if (Branch(test, true, () => ParseStatements(model, ImmutableArray.Create(ifs.Statement), 0, env, topLevel: false, blockMode: true)) is null) return null;
                    var thenEnv = _blockEnd!;
                    var elseEnv = env;
                    if (ifs.Else is not null)
                    {
                        if (Branch(test, false, () => ParseStatements(model, ImmutableArray.Create(ifs.Else.Statement), 0, env, topLevel: false, blockMode: true)) is null) return null;
                        elseEnv = _blockEnd!;
                    }
                    foreach (var symbol in thenEnv.Keys.Concat(elseEnv.Keys).Distinct(SymbolEqualityComparer.Default).ToList())
                    {
                        if (symbol is not ILocalSymbol || !(env.ContainsKey(symbol) || _declared.Contains(symbol))) continue;  // parameters; locals scoped to a branch
                        if (!thenEnv.TryGetValue(symbol, out var a) || !elseEnv.TryGetValue(symbol, out var b)) continue;
                        var merged = ReferenceEquals(a, b) || a.Equals(b) ? a : Remember(new Cond(test, a, b), ifs);
                        env = env.SetItem(symbol, merged);
                        if (topLevel && _inlineDepth == 0 && _localNames.Add(symbol.Name))
                            _locals.Add(new SpecLocal(symbol.Name, merged));
                    }
                    continue;
                }

                case IfStatementSyntax ifs:
                {
                    var test = ParseExpr(model, ifs.Condition, env);
                    if (test is null) return null;
                    var rest = statements.Skip(i + 1).ToImmutableArray();
                    var then = Branch(test, true, () => ParseStatements(model, ImmutableArray.Create(ifs.Statement).AddRange(rest), 0, env, topLevel: false));
                    if (then is null) return null;
                    var elseStatements = ifs.Else is null ? rest : ImmutableArray.Create(ifs.Else.Statement).AddRange(rest);
                    var @else = Branch(test, false, () => ParseStatements(model, elseStatements, 0, env, topLevel: false));
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

    // Reads one branch of a construction-time choice: Require rules inside apply only when it is taken.
    private Expr? Branch(Expr test, bool taken, Func<Expr?> read)
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
        var allowed = statement is LocalFunctionStatementSyntax
            ? "write a helper as a static method returning Expr, declared outside the spec (such helpers are inlined, like calls to other specs); " + DiagnosticCatalog.AllowedStatements
            : DiagnosticCatalog.AllowedStatements;
        Report(DiagnosticCatalog.UnsupportedStatement, statement.GetLocation(), Describe(statement), allowed);
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

        // Compile-time constants: literals, const fields, enum members, folded arithmetic on them. The
        // semantic model is only asked about expressions that can be constant: asking it about every
        // operator of a long sum costs time quadratic in the sum's length.
        var constant = MayBeConstant(model, syntax) ? ConstantOf(model, syntax) : default;
        if (constant.HasValue)
        {
            var type = TypeOf(model, syntax);
            if (type is { TypeKind: TypeKind.Enum })
            {
                var member = (SymbolOf(model, syntax) as IFieldSymbol)?.Name
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
            case IdentifierNameSyntax or MemberAccessExpressionSyntax when SymbolOf(model, syntax) is { } symbol
                                                                       && symbol is not IMethodSymbol:
                return Symbol(symbol, syntax, env);

            case BinaryExpressionSyntax b:
            {
                // A left-nested chain (a + b + c + ...: a long sum is one) is read along its left spine
                // without recursion, so the stack depth does not grow with the chain's length.
                var spine = new List<BinaryExpressionSyntax> { b };
                while (spine[spine.Count - 1].Left is BinaryExpressionSyntax inner && BinaryOperator(inner) is not null && !MayBeConstant(model, inner))
                    spine.Add(inner);
                if (BinaryOperator(b) is null) return UnsupportedExpr(syntax);
                var value = ParseExpr(model, spine[spine.Count - 1].Left, env);
                for (var i = spine.Count - 1; i >= 0 && value is not null; i--)
                {
                    _ct.ThrowIfCancellationRequested();
                    var right = ParseExpr(model, spine[i].Right, env);
                    value = right is null ? null : new Binary(BinaryOperator(spine[i])!.Value, value, right);
                    if (value is not null && i > 0) Remember(value, spine[i]);
                }
                return value;
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
                if (test is null) return null;
                var then = Branch(test, true, () => ParseExpr(model, c.WhenTrue, env));
                var @else = then is null ? null : Branch(test, false, () => ParseExpr(model, c.WhenFalse, env));
                return @else is null ? null : new Cond(test, then!, @else);
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
            _position = declaration.Body?.OpenBraceToken.Span.End ?? declaration.ExpressionBody?.Expression.SpanStart ?? declaration.SpanStart;
            if (model.GetDeclaredSymbol(declaration, ct) is IMethodSymbol method)
                foreach (var p in method.Parameters) Declare(p.Name, p);
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
        private void Declare(string name, ISymbol? symbol) =>
            _locals[name] = _locals.ContainsKey(name) ? null : symbol;

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
                if (names.TryLocal(name, out var local)) return local;
                return names.Lookup(name) is { Length: 1 } found && found[0] is not IMethodSymbol ? found[0] : null;
            }
            case MemberAccessExpressionSyntax { Name: IdentifierNameSyntax member } access
                when access.IsKind(SyntaxKind.SimpleMemberAccessExpression) && TypeNamed(names, access.Expression) is { } type:
                return type.GetMembers(member.Identifier.ValueText) is { Length: 1 } members && members[0] is not IMethodSymbol ? members[0] : null;
            case InvocationExpressionSyntax { Expression: IdentifierNameSyntax name } call:
                if (names.TryLocal(name.Identifier.ValueText, out _)) return null;
                return names.Lookup(name.Identifier.ValueText) is { Length: 1 } methods && methods[0] is IMethodSymbol m && Fits(m, call) ? m : null;
            case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name: IdentifierNameSyntax member } access } call
                when access.IsKind(SyntaxKind.SimpleMemberAccessExpression) && TypeNamed(names, access.Expression) is { } type:
                return type.GetMembers(member.Identifier.ValueText) is { Length: 1 } candidates && candidates[0] is IMethodSymbol { IsStatic: true } sm && Fits(sm, call) ? sm : null;
            default:
                return null;
        }
    }

    // The type a simple name denotes (not a local, one type of that name in scope), or null.
    private static INamedTypeSymbol? TypeNamed(Names names, ExpressionSyntax syntax) =>
        syntax is IdentifierNameSyntax id && !names.TryLocal(id.Identifier.ValueText, out _)
        && names.Lookup(id.Identifier.ValueText) is { Length: 1 } found && found[0] is INamedTypeSymbol { Arity: 0 } type
            ? type
            : null;

    // Whether a call's arguments fit the method's only overload: no ref or out arguments, no more
    // positional arguments than parameters, named arguments that exist, every required parameter given.
    private static bool Fits(IMethodSymbol method, InvocationExpressionSyntax call)
    {
        if (method.IsGenericMethod || method.Parameters.Any(p => p.IsParams || p.RefKind != RefKind.None)) return false;
        var given = new bool[method.Parameters.Length];
        var position = 0;
        foreach (var arg in call.ArgumentList.Arguments)
        {
            if (arg.RefKindKeyword != default) return false;
            int ordinal;
            if (arg.NameColon is { } nc)
            {
                ordinal = method.Parameters.IndexOf(method.Parameters.FirstOrDefault(p => p.Name == nc.Name.Identifier.ValueText)!);
                if (ordinal < 0) return false;
            }
            else
            {
                ordinal = position;
            }
            if (ordinal >= given.Length || given[ordinal]) return false;
            given[ordinal] = true;
            position++;
        }
        for (var i = 0; i < given.Length; i++)
            if (!given[i] && !method.Parameters[i].IsOptional) return false;
        return true;
    }

    private Optional<object?> ConstantOf(SemanticModel model, ExpressionSyntax syntax)
    {
        if (syntax is LiteralExpressionSyntax literal && literal.Kind() is SyntaxKind.NumericLiteralExpression
                or SyntaxKind.TrueLiteralExpression or SyntaxKind.FalseLiteralExpression or SyntaxKind.StringLiteralExpression)
            return new Optional<object?>(literal.Token.Value);
        if (syntax is IdentifierNameSyntax or MemberAccessExpressionSyntax && _currentNames is { } names && ReferenceEquals(names.Model, model))
        {
            switch (Resolve(names, syntax))
            {
                case IFieldSymbol { HasConstantValue: true } f: return new Optional<object?>(f.ConstantValue);
                case ILocalSymbol { HasConstantValue: true } l: return new Optional<object?>(l.ConstantValue);
                case IFieldSymbol or ILocalSymbol or IParameterSymbol or IPropertySymbol: return default;
            }
        }
        return model.GetConstantValue(syntax, _ct);
    }

    private ITypeSymbol? TypeOf(SemanticModel model, ExpressionSyntax syntax) => syntax switch
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
        if (_constantCandidates.TryGetValue(syntax, out var known)) return known;
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
            ConditionalExpressionSyntax c => MayBeConstant(model, c.Condition) && MayBeConstant(model, c.WhenTrue) && MayBeConstant(model, c.WhenFalse),
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

    private static BinaryOp? BinaryOperator(BinaryExpressionSyntax b) => b.Kind() switch
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

    private Expr? UnsupportedExpr(SyntaxNode syntax, string? hint = null)
    {
        Report(DiagnosticCatalog.UnsupportedExpression, syntax.GetLocation(), Diagnostics.Snippet(syntax), hint ?? DiagnosticCatalog.AllowedExpressions);
        return Fail();
    }

    // System.Math functions with a Dsl counterpart, which is what a spec means by them.
    private static readonly HashSet<string> DslMath = new(StringComparer.Ordinal)
    {
        "Sqrt", "Log", "Exp", "Abs", "Pow", "Min", "Max", "Clamp",
    };

    private Expr? Invocation(SemanticModel model, InvocationExpressionSyntax call, ImmutableDictionary<ISymbol, Expr> env)
    {
        if (SymbolOf(model, call) is not IMethodSymbol method)
        {
            // Unresolved: the C# compiler reports it; generate nothing for this spec.
            return Fail();
        }
        var args = Arguments(model, call, method);
        if (args is null) return Fail();

        if (IsType(method.ContainingType, DslType))
            return DslCall(model, call, method, args, env);

        if ((IsType(method.ContainingType, "System.Math") || IsType(method.ContainingType, "System.MathF")) && DslMath.Contains(method.Name))
            return UnsupportedExpr(call, $"use {method.Name} from LossDsl.Dsl instead (with 'using static LossDsl.Dsl;'): it builds the loss expression, where {method.ContainingType.Name}.{method.Name} computes a number");

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
            var c = syntax is null ? default : ConstantOf(model, syntax);
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
        if (_inlineDepth == 0) _callSite = call.GetLocation();
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
                        Report(DiagnosticCatalog.UnsupportedExpression, call.GetLocation(), Diagnostics.Snippet(call) + $" (the body of '{method.Name}' is outside the spec subset)",
                            DiagnosticCatalog.AllowedExpressions);
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

    internal sealed class ReferenceComparer : IEqualityComparer<Expr>
    {
        public static readonly ReferenceComparer Instance = new();

        public bool Equals(Expr? x, Expr? y) => ReferenceEquals(x, y);

        public int GetHashCode(Expr obj) => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
    }
}
