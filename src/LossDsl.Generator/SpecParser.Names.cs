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

// Names the generated code uses, which a spec's hyperparameters must not take.
internal sealed partial class SpecParser
{
    // ---------------------------------------------------------------- names the generated code uses

    // Parameters of the generated constructor and functional form, and the functional form's local.
    private static readonly Dictionary<string, string> GeneratedParameters = new(StringComparer.Ordinal)
    {
        ["input"] = "is a parameter of the generated functional form",
        ["target"] = "is a parameter of the generated functional form",
        ["mask"] = "is a parameter of the generated functional form",
        ["reduction"] = "is a parameter of the generated constructor and functional form",
        ["classWeights"] = "is a parameter of the generated constructor and functional form",
        ["posWeights"] = "is a parameter of the generated constructor and functional form",
        ["ignoreIndex"] = "is a parameter of the generated constructor and functional form",
        ["loss"] = "is the name of the module local in the generated functional form",
    };

    // Members of the generated module (its own, and those of LossModule, LossFunction, TorchSharp's
    // nn.Module and object that a derived class sees): a hyperparameter's property must not hide one.
    private static readonly HashSet<string> ModuleMembers = new(StringComparer.Ordinal)
    {
        // The generated module's own members.
        "BuildSpec",
        "ResultAxes",
        "Evaluate",
        "Backward",
        "HasAnalyticBackward",
        Emitter.ValidateMethod,
        // LossModule and LossFunction.
        "Task",
        "Reduction",
        "ClassWeights",
        "PosWeights",
        "IgnoreIndex",
        "CheckValues",
        "Mode",
        "HasCpuKernel",
        "Reference",
        "StableReference",
        "UsesClassWeights",
        "UsesPosWeights",
        "Maps",
        // torch.nn.Module (names a property can take: the capitalised ones, and those not starting with a letter).
        "ClearModules",
        "ConditionallyRegisterBuffer",
        "ConditionallyRegisterParameter",
        "Create",
        "Dispose",
        "GetDefaultDeviceAndType",
        "GetName",
        "HookRemover",
        "RegisterComponents",
        "ReplaceBuffer",
        "ReplaceParameter",
        "_deviceIndex",
        "_deviceType",
        "_internal_buffers",
        "_internal_params",
        "_internal_submodules",
        "_named_buffers",
        "_named_parameters",
        "_parameters",
        "_to",
        "_toEpilog",
        // object.
        "Equals",
        "Finalize",
        "GetHashCode",
        "GetType",
        "MemberwiseClone",
        "ReferenceEquals",
        "ToString",
    };

    /// <summary>The names a hyperparameter cannot take (docs/dsl.md, "Reserved names").</summary>
    public static IReadOnlyCollection<string> ReservedParameterNames => GeneratedParameters.Keys;

    /// <summary>The property names a hyperparameter's name cannot capitalise to.</summary>
    public static IReadOnlyCollection<string> ReservedPropertyNames => ModuleMembers;

    // Why the generated code cannot use this hyperparameter name, or null when it can.
    private static string? ReservedReason(string name, string lossName, IEnumerable<SpecParameter> earlier)
    {
        if (GeneratedParameters.TryGetValue(name, out var why))
            return why;
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
        return type is { DeclaredAccessibility: Accessibility.Public }
            && !SymbolEqualityComparer.Default.Equals(type.ContainingAssembly, _compilation.Assembly);
    }
}
