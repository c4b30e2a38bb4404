using System.Reflection;
using static TorchSharp.torch;

namespace LossDsl.Tests.EndToEnd;

/// <summary>
/// Sets a module's construction-time settings (init-only: Mode, ClassWeights) on modules the tests build
/// generically by reflection over every generated constructor. User code sets them in an object initializer.
/// </summary>
internal static class ModuleSettings
{
    public static T With<T>(this T module, ExecutionMode? mode = null, Tensor? classWeights = null, Tensor? posWeights = null)
        where T : LossModule
    {
        if (posWeights is not null)
            Set(module, nameof(LossModule.PosWeights), posWeights);
        if (mode is { } m)
            Set(module, nameof(LossModule.Mode), m);
        if (classWeights is not null)
            Set(module, nameof(LossModule.ClassWeights), classWeights);
        return module;
    }

    public static T WithoutClassWeights<T>(this T module)
        where T : LossModule
    {
        Set(module, nameof(LossModule.ClassWeights), null);
        return module;
    }

    private static void Set(LossModule module, string name, object? value) =>
        typeof(LossModule).GetProperty(name, BindingFlags.Public | BindingFlags.Instance)!.SetValue(module, value);
}
