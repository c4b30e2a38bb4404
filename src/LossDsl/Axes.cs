namespace LossDsl;

/// <summary>
/// Static shape analysis: which named axes an expression keeps. Tensors are laid out
/// <c>N, C, *spatial</c> and reductions keep reduced axes as size 1, so broadcasting is by name.
/// </summary>
public static class Axes
{
    /// <summary>The axes a value varies along (for a <see cref="Cond"/>, the union of its branches).</summary>
    public static Over Of(Expr e) => e switch
    {
        Input { Kind: InputKind.ClassWeights or InputKind.ClassIndex } => Over.Classes,
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
    private static Over CountAxes(Over over) =>
        (over & (Over.Batch | Over.Spatial)) == 0 ? Over.None : (Over.Batch | Over.Spatial) & ~over;

    /// <summary>True when the value has the per-pixel spatial axes (so masks apply to it).</summary>
    public static bool IsPixelwise(Over axes) => (axes & Over.Spatial) != 0;
}
