namespace LossDsl;

/// <summary>
/// Static shape analysis: which named axes an expression keeps. Tensors are laid out
/// <c>N, C, *spatial</c> and reductions keep reduced axes as size 1, so broadcasting is by name.
/// </summary>
public static class Axes
{
    /// <summary>The axes a value varies along (for a <see cref="Cond"/>, the union of its branches).</summary>
    public static Over Of(Expr e)
    {
        // Cached in the node: shared sub-expressions are analysed once.
        var cached = e.CachedAxes;
        if (cached >= 0)
            return (Over)cached;
        // Children first, without recursion: every Compute then reads cached children only.
        var stack = new System.Collections.Generic.Stack<(Expr Node, bool ChildrenDone)>();
        stack.Push((e, false));
        while (stack.Count > 0)
        {
            var (n, childrenDone) = stack.Pop();
            if (n.CachedAxes >= 0)
                continue;
            var count = ExprIdentity.ChildCount(n);
            if (!childrenDone && count > 0)
            {
                stack.Push((n, true));
                for (var i = count - 1; i >= 0; i--)
                    if (ExprIdentity.Child(n, i).CachedAxes < 0)
                        stack.Push((ExprIdentity.Child(n, i), false));
                continue;
            }
            n.CachedAxes = (int)Compute(n);
        }
        return (Over)e.CachedAxes;
    }

    private static Over Compute(Expr e) =>
        e switch
        {
            Input { Kind: InputKind.ClassWeights or InputKind.PositiveWeights or InputKind.ClassIndex } => Over.Classes,
            Input { Kind: InputKind.PixelMap } => Over.Batch | Over.Spatial,
            Input => Over.All,
            OneHot => Over.All,
            Const or Param or EnumValue => Over.None,
            Count c => c.Valid ? CountAxes(c.Over) : Over.None,
            Unary u => Of(u.Arg),
            Binary b => Of(b.Left) | Of(b.Right),
            Reduce r => Of(r.Arg) & ~r.Over,
            PlainSum p => Of(p.Arg) & ~p.Over,
            SelectTarget => Over.Batch | Over.Spatial,
            // Zeroing invalid pixels makes a value per pixel (a mask varies along the batch and space).
            Masked => Of(((Masked)e).Arg) | Over.Batch | Over.Spatial,
            Seed s => s.Axes,
            Cond k => Of(k.Then) | Of(k.Else),
            WeightedMean w => Of(w.Value),
            _ => Over.None,
        };

    // A count over some of {Batch, Spatial} still varies along the other one of them: the valid-pixel
    // count per sample varies along the batch. The class axis never varies a count.
    private static Over CountAxes(Over over) => (over & (Over.Batch | Over.Spatial)) == 0 ? Over.None : (Over.Batch | Over.Spatial) & ~over;

    /// <summary>True when the value has the per-pixel spatial axes (so masks apply to it).</summary>
    public static bool IsPixelwise(Over axes) => (axes & Over.Spatial) != 0;
}
