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
/// <remarks>
/// One concern per file: this one (entry, the spec's signature, results and reporting), <c>.Signature</c>
/// (hyperparameters and enclosing types), <c>.Names</c> (names the generated code uses), <c>.Requirements</c>
/// (Require rules, defaults), <c>.Statements</c>, <c>.Expressions</c>, <c>.Semantics</c> (symbols,
/// constants, types) and <c>.Calls</c> (Dsl functions; specs and helpers, which are inlined). Reading a
/// statement list returns what it read (a value, or a block's locals); an inlined call is an explicit
/// <see cref="InlineFrame"/> chain, so what is reported where follows from it.
/// </remarks>
internal sealed partial class SpecParser
{
    private const string ExprType = "LossDsl.Expr";
    private const string DslType = "LossDsl.Dsl";
    private const string OverType = "LossDsl.Over";
    private const string AttributeType = "LossDsl.LossAttribute";

    // The element-wise functions of the operator table, and the class-axis ones.
    private static readonly Dictionary<string, UnaryOp> UnaryFunctions = Operators
        .ElementFunctions.ToDictionary(f => f.Name, f => f.Op)
        .Concat(
            new Dictionary<string, UnaryOp>
            {
                ["Softmax"] = UnaryOp.Softmax,
                ["LogSoftmax"] = UnaryOp.LogSoftmax,
                ["Step"] = UnaryOp.Step,
            }
        )
        .ToDictionary(p => p.Key, p => p.Value);

    // The arithmetic operations of the operator table that specs write as Dsl calls (Pow, Min, Max).
    private static readonly Dictionary<string, BinaryOp> BinaryFunctions = Operators
        .BinaryFunctions.Where(f => f.IsCall)
        .ToDictionary(f => f.Name, f => f.Op);

    private readonly Compilation _compilation;
    private readonly CancellationToken _ct;
    private readonly List<DiagnosticInfo> _diagnostics = new();
    private readonly Dictionary<Expr, Location> _locations = new(ReferenceComparer.Instance);
    private readonly List<SpecLocal> _locals = new();
    private readonly List<(SpecRequirement Requirement, Location? Location, string Text)> _requirements = new();
    private readonly Dictionary<string, Expr?> _defaults = new(StringComparer.Ordinal);
    private readonly List<Expr> _path = new();
    private readonly Dictionary<SyntaxNode, bool> _constantCandidates = new();

    private readonly HashSet<string> _localNames = new(StringComparer.Ordinal);
    private readonly Stack<IMethodSymbol> _calls = new();
    private readonly HashSet<ISymbol> _declared = new(SymbolEqualityComparer.Default);

    // The calls being inlined, innermost first (null while reading the spec's own body).
    private InlineFrame? _inline;
    private bool _failed;

    // One inlined call: the callee, where the outermost call of the chain is in the spec being read.
    private sealed record InlineFrame(IMethodSymbol Method, Location CallSite, InlineFrame? Outer)
    {
        public int Depth => Outer is null ? 1 : Outer.Depth + 1;

        public InlineFrame Outermost => Outer?.Outermost ?? this;
    }

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
            return new SpecResult(
                null,
                EquatableArray.From(new[] { DiagnosticInfo.Create(DiagnosticCatalog.NestedTooDeeply, at, method.Name) }),
                nameLocation
            );
        }
        catch (Exception ex)
        {
            return new SpecResult(
                null,
                EquatableArray.From(
                    new[]
                    {
                        DiagnosticInfo.Create(
                            DiagnosticCatalog.InternalError,
                            syntax.Identifier.GetLocation(),
                            method.Name,
                            ex.GetType().Name + ": " + ex.Message
                        ),
                    }
                ),
                nameLocation
            );
        }
    }

    private SpecResult ParseSpec(IMethodSymbol method, MethodDeclarationSyntax syntax, AttributeData? attribute, LocationInfo? nameLocation)
    {
        var nameLoc = syntax.Identifier.GetLocation();
        var task = LossTask.Binary;
        string? explicitName = null;
        if (attribute is not null)
        {
            if (
                attribute.ConstructorArguments.Length > 0
                && attribute.ConstructorArguments[0].Value is int t
                && Enum.IsDefined(typeof(LossTask), t)
            )
                task = (LossTask)t;
            foreach (var named in attribute.NamedArguments)
                if (named.Key == "Name" && named.Value.Value is string s && s.Length > 0)
                    explicitName = s;
        }

        var lossName = explicitName ?? method.Name + "Loss";
        if (explicitName is not null && !SyntaxFacts.IsValidIdentifier(explicitName))
        {
            Report(
                DiagnosticCatalog.InvalidSignature,
                nameLoc,
                method.Name,
                $"has Name = \"{explicitName}\", which is not a C# identifier"
            );
            return Result(null, nameLocation);
        }

        // Signature.
        var signatureOk = true;
        void Bad(string why)
        {
            Report(DiagnosticCatalog.InvalidSignature, nameLoc, method.Name, why);
            signatureOk = false;
        }

        if (!method.IsStatic)
            Bad("is not static");
        if (method.IsGenericMethod)
            Bad("is generic");
        if (!IsType(method.ReturnType, ExprType))
            Bad($"returns '{method.ReturnType.ToDisplayString()}'");
        if (method.DeclaredAccessibility is Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal)
            Bad("is private or protected, but the generated module calls it");
        if (method.Parameters.Length < 2 || !IsType(method.Parameters[0].Type, ExprType) || !IsType(method.Parameters[1].Type, ExprType))
            Bad("does not start with two Expr parameters");
        if (syntax.Body is null && syntax.ExpressionBody is null)
            Bad("has no body");

        var parameters = new List<SpecParameter>();
        var env = ImmutableDictionary.Create<ISymbol, Expr>(SymbolEqualityComparer.Default);
        for (var i = 0; i < method.Parameters.Length; i++)
        {
            var p = method.Parameters[i];
            var pLoc = p.Locations.FirstOrDefault() ?? nameLoc;
            if (i < 2 && IsType(p.Type, ExprType))
            {
                parameters.Add(
                    new SpecParameter(
                        p.Name,
                        i == 0 ? ParamRole.Prediction : ParamRole.Target,
                        ParamKind.Real,
                        "global::LossDsl.Expr",
                        null
                    )
                );
                env = env.SetItem(p, i == 0 ? Dsl.Prediction : Dsl.Target);
                continue;
            }
            if (i < 2)
                continue;
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
                Report(
                    DiagnosticCatalog.GenericContainingType,
                    nameLoc,
                    method.Name,
                    type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)
                );
                signatureOk = false;
            }
            containing.Insert(0, Describe(type));
        }

        if (!signatureOk)
            return Result(null, nameLocation);

        _calls.Push(method);
        var body = ParseBody(method, syntax, env, topLevel: true);
        if (body is null || _failed)
            return Result(null, nameLocation);

        var ns = method.ContainingType.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : null;
        var spec = new LossSpec(
            ns,
            EquatableArray.From(containing),
            method.Name,
            lossName,
            task,
            EquatableArray.From(parameters),
            body,
            Summary(method),
            EquatableArray.From(_locals),
            EquatableArray.From(_requirements.Select(r => r.Requirement))
        );

        CheckDefaults(method.Name);
        if (ns != "LossDsl" && IsLossDslType(lossName))
            Report(DiagnosticCatalog.AmbiguousName, nameLoc, method.Name, lossName);
        return Result(spec, nameLocation);
    }
}
