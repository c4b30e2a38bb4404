using System.Linq;

namespace LossDsl;

/// <summary>
/// The functions a loss spec is written with. Import with <c>using static LossDsl.Dsl;</c>.
/// Every function builds an <see cref="Expr"/> node; nothing is computed here.
/// See docs/dsl.md for each function's meaning, axes and numerics.
/// </summary>
public static class Dsl
{
    /// <summary>The prediction tensor (logits or probabilities), <c>N, C, *spatial</c>.</summary>
    public static Expr Prediction { get; } = new Input(InputKind.Prediction);

    /// <summary>The target tensor in per-class form, <c>N, C, *spatial</c>.</summary>
    public static Expr Target { get; } = new Input(InputKind.Target);

    /// <summary>The class-weight vector (class axis only; all ones when the module has none).</summary>
    public static Expr ClassWeights { get; } = new Input(InputKind.ClassWeights);

    /// <summary>
    /// The per-class positive weights (torch's <c>pos_weight</c> of shape C), a class-axis input of length C given to
    /// the module as <c>posWeights</c>; all ones when not given.
    /// </summary>
    public static Expr PosWeights { get; } = new Input(InputKind.PositiveWeights);

    /// <summary>The class index 0, 1, …, C-1 as a class-axis vector; <c>Min(ClassIndex, 1)</c> is 0 for the background class only.</summary>
    public static Expr ClassIndex { get; } = new Input(InputKind.ClassIndex);

    /// <summary>
    /// A named per-pixel map <c>N, 1, *spatial</c> (one value per pixel, shared by the classes) that the caller passes
    /// with the inputs: <c>loss.forward(input, target, mask, weight: null, maps: new() { ["name"] = map })</c>. Its
    /// layout is checked like the mask's (<c>N, *spatial</c> or <c>N, 1, *spatial</c>), its values finite; the loss is not
    /// differentiated with respect to it.
    /// </summary>
    /// <param name="name">The map's name: a C# identifier, constant in a spec.</param>
    public static Expr PixelMap(string name) => new Input(InputKind.PixelMap, MapName(name));

    /// <summary>
    /// A named per-class map <c>N, C, *spatial</c> that the caller passes with the inputs, e.g. the signed distance map
    /// of the target in a boundary loss (see <see cref="PixelMap"/> for how it is passed and checked).
    /// </summary>
    /// <param name="name">The map's name: a C# identifier, constant in a spec.</param>
    public static Expr ClassMap(string name) => new Input(InputKind.ClassMap, MapName(name));

    /// <summary>Whether <paramref name="name"/> can name a map: a C# identifier (letters, digits, '_', not starting with a digit).</summary>
    /// <param name="name">The name.</param>
    public static bool IsMapName(string? name) =>
        name is { Length: > 0 } && (char.IsLetter(name[0]) || name[0] == '_') && name.All(ch => char.IsLetterOrDigit(ch) || ch == '_');

    private static string MapName(string name) =>
        IsMapName(name)
            ? name
            : throw new System.ArgumentException(
                $"A map's name must be a C# identifier (letters, digits and '_', not starting with a digit); got \"{name}\".",
                nameof(name)
            );

    /// <summary>The number of classes C, a scalar.</summary>
    public static Expr NumClasses { get; } = new Count(Over.Classes);

    /// <summary>1 / (1 + e^-x).</summary>
    public static Expr Sigmoid(Expr x) => new Unary(UnaryOp.Sigmoid, x);

    /// <summary>log(sigmoid(x)) = -softplus(-x), finite for any x.</summary>
    public static Expr LogSigmoid(Expr x) => new Unary(UnaryOp.LogSigmoid, x);

    /// <summary>log(1 + e^x), finite for any x.</summary>
    public static Expr Softplus(Expr x) => new Unary(UnaryOp.Softplus, x);

    /// <summary>Softmax over the class axis (Multiclass losses only).</summary>
    public static Expr Softmax(Expr x) => new Unary(UnaryOp.Softmax, x);

    /// <summary>Log-softmax over the class axis (Multiclass losses only), finite for any x.</summary>
    public static Expr LogSoftmax(Expr x) => new Unary(UnaryOp.LogSoftmax, x);

    /// <summary>Natural logarithm.</summary>
    public static Expr Log(Expr x) => new Unary(UnaryOp.Log, x);

    /// <summary>log(1 + x), accurate near 0.</summary>
    public static Expr Log1p(Expr x) => new Unary(UnaryOp.Log1p, x);

    /// <summary>e^x.</summary>
    public static Expr Exp(Expr x) => new Unary(UnaryOp.Exp, x);

    /// <summary>Square root.</summary>
    public static Expr Sqrt(Expr x) => new Unary(UnaryOp.Sqrt, x);

    /// <summary>Absolute value.</summary>
    public static Expr Abs(Expr x) => new Unary(UnaryOp.Abs, x);

    /// <summary>log(cosh(x)), finite for any x.</summary>
    public static Expr LogCosh(Expr x) => new Unary(UnaryOp.LogCosh, x);

    /// <summary>Hyperbolic tangent (e.g. MONAI's <c>other_act=torch.tanh</c>).</summary>
    public static Expr Tanh(Expr x) => new Unary(UnaryOp.Tanh, x);

    /// <summary>The error function 2/√π ∫₀ˣ e^(-t²) dt.</summary>
    public static Expr Erf(Expr x) => new Unary(UnaryOp.Erf, x);

    /// <summary>x raised to the power k.</summary>
    public static Expr Pow(Expr x, Expr k) => new Binary(BinaryOp.Pow, x, k);

    /// <summary>1 where <paramref name="x"/> &gt; 0, else 0, elementwise (its derivative is taken as 0): a per-element choice, <c>s·a + (1 - s)·b</c>.</summary>
    public static Expr Step(Expr x) => new Unary(UnaryOp.Step, x);

    /// <summary>Element-wise minimum.</summary>
    public static Expr Min(Expr a, Expr b) => new Binary(BinaryOp.Min, a, b);

    /// <summary>Element-wise maximum.</summary>
    public static Expr Max(Expr a, Expr b) => new Binary(BinaryOp.Max, a, b);

    /// <summary>x limited to [lo, hi].</summary>
    public static Expr Clamp(Expr x, Expr lo, Expr hi) => Min(Max(x, lo), hi);

    /// <summary>The target's per-class form: the one-hot of class indices (never materialised on the fast path).</summary>
    public static Expr OneHot(Expr target) => new OneHot(target);

    /// <summary>Sum over the given axes of the valid elements.</summary>
    public static Expr Sum(Expr x, Over over) => new Reduce(ReduceOp.Sum, x, over);

    /// <summary>Mean over the given axes of the valid elements.</summary>
    public static Expr Mean(Expr x, Over over) => new Reduce(ReduceOp.Mean, x, over);

    /// <summary>
    /// The spec's result <paramref name="value"/>, averaged (for the Mean reduction) with
    /// Σ value / Σ weight instead of Σ value / count, e.g. PyTorch's class-weighted cross-entropy.
    /// Must be the spec's final result.
    /// </summary>
    public static Expr WeightedMean(Expr value, Expr weight) => new WeightedMean(value, weight);

    /// <summary>The number of valid elements over the given axes.</summary>
    public static Expr Count(Over over) => new Count(over);

    /// <summary>
    /// States a rule the hyperparameters must satisfy, e.g. <c>Require(gamma &gt;= 0, "gamma must be &gt;= 0")</c>,
    /// as a statement of a spec body (or of a helper it calls). The condition may only read
    /// hyperparameters and constants. The generated constructor and functional form check every rule
    /// of the spec before anything is allocated and throw <see cref="System.ArgumentOutOfRangeException"/>
    /// naming the loss, the hyperparameter and the rule; calling the spec method with values that break
    /// a rule (the interpreter's path) throws the same exception type here.
    /// </summary>
    /// <param name="condition">The rule; false throws.</param>
    /// <param name="message">The rule in words: what the allowed values are (a constant string).</param>
    /// <param name="expression">Filled in by the compiler: the condition's source text.</param>
    /// <param name="spec">Filled in by the compiler: the calling spec or helper.</param>
    public static void Require(
        bool condition,
        string message,
        [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(condition))] string? expression = null,
        [System.Runtime.CompilerServices.CallerMemberName] string? spec = null
    )
    {
        if (condition)
            return;
        var name = Hyperparameters.FirstIdentifier(expression);
        throw new System.ArgumentOutOfRangeException(name, $"{spec}: {message} (Require({expression}) does not hold).");
    }
}
