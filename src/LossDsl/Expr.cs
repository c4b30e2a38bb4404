namespace LossDsl;

/// <summary>
/// A loss expression: an immutable tree (a DAG where sub-expressions are shared) over the prediction,
/// the target, class weights and scalar hyperparameters. Built by the <see cref="Dsl"/> functions and
/// operators at run time, or from a spec's syntax by the source generator. Equality is structural.
/// </summary>
public abstract record Expr
{
    // Structural hash (0 until computed) and Axes.Of (-1 until computed). Both are functions of the
    // node's structure, so they are computed once per node: without them, hashing or comparing a
    // DAG whose values are shared (a local used twice, used twice again, ...) would take time
    // exponential in its depth. A copy made by `with` starts with fresh caches (see the copy
    // constructor), so they always describe the node they are stored in.
    private int _hash;
    private int _axes = -1;
    private System.Collections.Immutable.ImmutableArray<Expr> _children;

    /// <summary>Creates a node.</summary>
    protected Expr() { }

    /// <summary>Copies a node for <c>with</c>: the caches are not copied, since the copy gets new fields.</summary>
    /// <param name="original">The node copied.</param>
    protected Expr(Expr original)
    {
        // Field initializers do not run in a record's copy constructor: reset the caches here.
        _hash = 0;
        _axes = -1;
        _children = default;
    }

    internal int CachedHash
    {
        get => _hash;
        set => _hash = value;
    }

    internal System.Collections.Immutable.ImmutableArray<Expr> CachedChildren
    {
        get => _children;
        set => _children = value;
    }

    internal int CachedAxes
    {
        get => _axes;
        set => _axes = value;
    }

    /// <summary>
    /// Structural equality, in time linear in the size of the two DAGs (shared sub-expressions are
    /// compared once) and without recursion, however deep they are.
    /// </summary>
    /// <param name="other">The expression compared with.</param>
    /// <returns>True when both have the same structure.</returns>
    public virtual bool Equals(Expr? other) => ExprIdentity.Equal(this, other);

    /// <summary>The structural hash, computed once per node.</summary>
    /// <returns>The hash.</returns>
    public override int GetHashCode() => ExprIdentity.Hash(this);

    /// <summary>A constant.</summary>
    public static implicit operator Expr(double value) => new Const(value);

    /// <summary>Element-wise sum (broadcasting over named axes).</summary>
    public static Expr operator +(Expr left, Expr right) => new Binary(BinaryOp.Add, left, right);

    /// <summary>Element-wise difference.</summary>
    public static Expr operator -(Expr left, Expr right) => new Binary(BinaryOp.Sub, left, right);

    /// <summary>Element-wise product.</summary>
    public static Expr operator *(Expr left, Expr right) => new Binary(BinaryOp.Mul, left, right);

    /// <summary>Element-wise quotient.</summary>
    public static Expr operator /(Expr left, Expr right) => new Binary(BinaryOp.Div, left, right);

    /// <summary>Negation.</summary>
    public static Expr operator -(Expr operand) => new Unary(UnaryOp.Neg, operand);

    /// <summary>The expression in infix form, as the docs and generated remarks print it.</summary>
    public sealed override string ToString() => Printer.Print(this);
}

/// <summary>The tensors a loss reads.</summary>
public enum InputKind
{
    /// <summary>The prediction (logits or probabilities), <c>N, C, *spatial</c>.</summary>
    Prediction,

    /// <summary>The target as per-class values <c>N, C, *spatial</c> (class indices are their one-hot).</summary>
    Target,

    /// <summary>The class-weight vector, a class-axis input of length C (ones when not given).</summary>
    ClassWeights,

    /// <summary>
    /// The per-class positive weights, a class-axis input of length C (torch's <c>pos_weight</c> of shape C; ones
    /// when not given): the weight of a positive target in a sigmoid loss of each class.
    /// </summary>
    PositiveWeights,

    /// <summary>The class index 0, 1, …, C-1 along the class axis (e.g. <c>Min(ClassIndex, 1)</c> drops the background class).</summary>
    ClassIndex,

    /// <summary>
    /// A named per-pixel map <c>N, 1, *spatial</c> the caller passes with the inputs (a weight map, a prior): one
    /// value per pixel, shared by every class.
    /// </summary>
    PixelMap,

    /// <summary>
    /// A named per-class map <c>N, C, *spatial</c> the caller passes with the inputs (e.g. the signed distance map of
    /// the target that a boundary loss multiplies the prediction with).
    /// </summary>
    ClassMap,
}

/// <summary>
/// One of the loss's input tensors; <paramref name="Name"/> names a map (<see cref="InputKind.PixelMap"/>,
/// <see cref="InputKind.ClassMap"/>) and is null for the other kinds.
/// </summary>
public sealed record Input(InputKind Kind, string? Name = null) : Expr
{
    /// <summary>Whether this input is a named map the caller passes (<see cref="InputKind.PixelMap"/> or <see cref="InputKind.ClassMap"/>).</summary>
    public bool IsMap => Kind is InputKind.PixelMap or InputKind.ClassMap;

    /// <inheritdoc />
    public bool Equals(Input? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>A numeric constant.</summary>
public sealed record Const(double Value) : Expr
{
    /// <inheritdoc />
    public bool Equals(Const? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>How a hyperparameter is typed in the spec.</summary>
public enum ParamKind
{
    /// <summary><c>double</c>.</summary>
    Real,

    /// <summary><c>bool</c>: selects branches at construction.</summary>
    Bool,

    /// <summary><c>int</c>.</summary>
    Integer,

    /// <summary>An enum: selects branches at construction.</summary>
    Enum,
}

/// <summary>
/// A named hyperparameter of the spec (a constructor parameter of the generated module). Only the
/// generator produces it; at run time the spec method sees the value itself.
/// </summary>
public sealed record Param(string Name, ParamKind Kind) : Expr
{
    /// <inheritdoc />
    public bool Equals(Param? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>An enum member used in a construction-time condition (generator only).</summary>
public sealed record EnumValue(string TypeName, string Member, long Value) : Expr
{
    /// <inheritdoc />
    public bool Equals(EnumValue? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>Element-wise (or, for <see cref="UnaryOp.Softmax"/>/<see cref="UnaryOp.LogSoftmax"/>, class-axis) functions.</summary>
public enum UnaryOp
{
    /// <summary>-x</summary>
    Neg,

    /// <summary>1 / (1 + e^-x)</summary>
    Sigmoid,

    /// <summary>log sigmoid(x), computed stably.</summary>
    LogSigmoid,

    /// <summary>log(1 + e^x), computed stably.</summary>
    Softplus,

    /// <summary>Natural logarithm.</summary>
    Log,

    /// <summary>log(1 + x).</summary>
    Log1p,

    /// <summary>e^x.</summary>
    Exp,

    /// <summary>Square root.</summary>
    Sqrt,

    /// <summary>|x|.</summary>
    Abs,

    /// <summary>Softmax over the class axis.</summary>
    Softmax,

    /// <summary>Log-softmax over the class axis, computed stably.</summary>
    LogSoftmax,

    /// <summary>log(cosh(x)), computed stably.</summary>
    LogCosh,

    /// <summary>Hyperbolic tangent.</summary>
    Tanh,

    /// <summary>The error function.</summary>
    Erf,

    /// <summary>Logical not of a construction-time condition (generator only).</summary>
    Not,

    /// <summary>Heaviside step: 1 where x &gt; 0, else 0 (appears in generated gradients of Min, Max, Abs).</summary>
    Step,
}

/// <summary>Unary function application.</summary>
public sealed record Unary(UnaryOp Op, Expr Arg) : Expr
{
    /// <inheritdoc />
    public bool Equals(Unary? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>Binary operators.</summary>
public enum BinaryOp
{
    /// <summary>+</summary>
    Add,

    /// <summary>-</summary>
    Sub,

    /// <summary>*</summary>
    Mul,

    /// <summary>/</summary>
    Div,

    /// <summary>x^k</summary>
    Pow,

    /// <summary>Element-wise minimum.</summary>
    Min,

    /// <summary>Element-wise maximum.</summary>
    Max,

    /// <summary>== (construction-time conditions only)</summary>
    Eq,

    /// <summary>!= (construction-time conditions only)</summary>
    Ne,

    /// <summary>&lt; (construction-time conditions only)</summary>
    Lt,

    /// <summary>&lt;= (construction-time conditions only)</summary>
    Le,

    /// <summary>&gt; (construction-time conditions only)</summary>
    Gt,

    /// <summary>&gt;= (construction-time conditions only)</summary>
    Ge,

    /// <summary>&amp;&amp; (construction-time conditions only)</summary>
    And,

    /// <summary>|| (construction-time conditions only)</summary>
    Or,
}

/// <summary>Binary operator application.</summary>
public sealed record Binary(BinaryOp Op, Expr Left, Expr Right) : Expr
{
    /// <inheritdoc />
    public bool Equals(Binary? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>Reductions over named axes.</summary>
public enum ReduceOp
{
    /// <summary>Sum over the valid elements.</summary>
    Sum,

    /// <summary>Mean over the valid elements.</summary>
    Mean,
}

/// <summary>
/// A reduction over named axes. Masked (invalid) pixels contribute nothing to a sum and are not
/// counted by a mean. Axes the operand does not have are ignored.
/// </summary>
public sealed record Reduce(ReduceOp Op, Expr Arg, Over Over) : Expr
{
    /// <inheritdoc />
    public bool Equals(Reduce? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>The target's per-class form: the one-hot of class indices, or float targets as given.</summary>
public sealed record OneHot(Expr Target) : Expr
{
    /// <inheritdoc />
    public bool Equals(OneHot? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>
/// The number of elements over the given axes: valid pixels only when <paramref name="Valid"/> (the
/// default; masked pixels are not counted), every position otherwise (a product of axis sizes).
/// </summary>
public sealed record Count(Over Over, bool Valid = true) : Expr
{
    /// <inheritdoc />
    public bool Equals(Count? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>
/// The spec's per-element value <paramref name="Value"/>, whose Mean reduction divides by the sum of
/// <paramref name="Weight"/> (over valid elements) instead of the element count: PyTorch's weighted
/// cross-entropy convention, Σ w_y·nll / Σ w_y. Sum and None reductions use <paramref name="Value"/>.
/// Only valid as the spec's result.
/// </summary>
public sealed record WeightedMean(Expr Value, Expr Weight) : Expr
{
    /// <inheritdoc />
    public bool Equals(WeightedMean? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>A choice made at construction from hyperparameters (generator only; no per-element branching).</summary>
public sealed record Cond(Expr Test, Expr Then, Expr Else) : Expr
{
    /// <inheritdoc />
    public bool Equals(Cond? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

// ---- Lowered forms: produced by Simplify/Lower for the emitter; never written in a spec. ----

/// <summary>
/// Σ_c x·onehot(target) over the class axis, kept as a size-1 axis: a gather of x at the target class
/// when the target is class indices, a product-sum otherwise.
/// </summary>
public sealed record SelectTarget(Expr Arg) : Expr
{
    /// <inheritdoc />
    public bool Equals(SelectTarget? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>The operand with invalid (masked) pixels set to zero.</summary>
public sealed record Masked(Expr Arg) : Expr
{
    /// <inheritdoc />
    public bool Equals(Masked? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>A plain sum over the axes (masking already made explicit), keeping them as size-1 axes.</summary>
public sealed record PlainSum(Expr Arg, Over Over) : Expr
{
    /// <inheritdoc />
    public bool Equals(PlainSum? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}

/// <summary>
/// The adjoint of a spec's result in a generated gradient: index 0 is d loss / d value, index 1 is
/// d loss / d weight of a <see cref="WeightedMean"/> result. <paramref name="Axes"/> are the axes of the
/// value it is the adjoint of. Made by <see cref="Differentiate"/>, never written by users.
/// </summary>
public sealed record Seed(int Index, Over Axes) : Expr
{
    /// <inheritdoc />
    public bool Equals(Seed? other) => base.Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => base.GetHashCode();
}
