using System;
using System.Runtime.CompilerServices;

namespace LossDsl;

/// <summary>
/// Guards the core's recursive walks: each calls <see cref="Ensure"/> before it recurses, so an
/// expression nested too deeply for the thread's stack ends in an
/// <see cref="InsufficientExecutionStackException"/> (which the generator turns into a diagnostic, or
/// retries on a thread with a larger stack) instead of a stack overflow that kills the process.
/// </summary>
internal static class StackGuard
{
    /// <summary>Throws <see cref="InsufficientExecutionStackException"/> when little stack is left.</summary>
    public static void Ensure() => RuntimeHelpers.EnsureSufficientExecutionStack();

    /// <summary>True for the exceptions that mean "nested too deeply" rather than a defect.</summary>
    public static bool IsTooDeep(Exception ex) => ex is InsufficientExecutionStackException;
}
