using System;
using System.Runtime.ExceptionServices;
using System.Threading;
using Microsoft.CodeAnalysis;

namespace LossDsl.Generator;

/// <summary>
/// An expression nested more deeply than the current thread's stack allows: thrown by the parser's
/// guard with the location it was reading, so the generator can report LD0017 there.
/// </summary>
internal sealed class NestingTooDeepException(Location? location) : Exception("the expression is nested too deeply")
{
    /// <summary>Where the parser was when the stack ran short.</summary>
    public Location? Location { get; } = location;
}

/// <summary>
/// Runs the generator's work for one spec so that deep nesting never crashes the compiler: every
/// recursive walk is guarded (it throws instead of overflowing the stack), and work that runs short of
/// stack on the compiler's thread is done again on a thread with a large stack. Only what is still too
/// deep there becomes a diagnostic.
/// </summary>
internal static class DeepStack
{
    /// <summary>
    /// The stack of the thread deep work runs on (address space only: pages are committed as used).
    /// Settable for tests, which make it small to reach the limit.
    /// </summary>
    internal static int LargeStackBytes { get; set; } = 256 * 1024 * 1024;

    /// <summary>True for the exceptions the guards throw.</summary>
    public static bool IsTooDeep(Exception ex) => ex is InsufficientExecutionStackException or NestingTooDeepException;

    /// <summary>
    /// Runs <paramref name="work"/> here, or, when it runs short of stack (or <paramref name="deep"/> says
    /// it will), on a thread with a large stack. Exceptions, those of the guards included, propagate.
    /// </summary>
    public static T Run<T>(Func<T> work, bool deep = false)
    {
        if (!deep)
        {
            try
            {
                return work();
            }
            catch (Exception ex) when (IsTooDeep(ex))
            {
                // Fall through: again, with room.
            }
        }
        return OnLargeStack(work);
    }

    private static T OnLargeStack<T>(Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    result = work();
                }
                catch (Exception ex)
                {
                    error = ExceptionDispatchInfo.Capture(ex);
                }
            },
            LargeStackBytes
        )
        {
            IsBackground = true,
            Name = "LossDsl.Generator (deep spec)",
        };
        thread.Start();
        thread.Join();
        error?.Throw();
        return result;
    }

    /// <summary>The nesting depth of a syntax tree (iterative, so any depth can be measured).</summary>
    public static int Depth(SyntaxNode root)
    {
        var max = 0;
        var stack = new System.Collections.Generic.Stack<(SyntaxNode Node, int Depth)>();
        stack.Push((root, 1));
        while (stack.Count > 0)
        {
            var (node, depth) = stack.Pop();
            if (depth > max)
                max = depth;
            foreach (var child in node.ChildNodes())
                stack.Push((child, depth + 1));
        }
        return max;
    }
}
