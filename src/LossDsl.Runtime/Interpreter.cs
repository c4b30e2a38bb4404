using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl;

/// <summary>
/// The reference semantics of a spec: evaluates an <see cref="Expr"/> node by node with eager
/// TorchSharp ops, straight from the definitions in docs/dsl.md (no rewriting, no fusion). Autograd
/// differentiates it. Generated code must agree with it.
/// </summary>
public static class Interpreter
{
    /// <summary>
    /// Evaluates <paramref name="spec"/> on the normalised inputs. Every value keeps all four named
    /// axis slots (reduced ones as size 1). Temporaries belong to the caller's dispose scope.
    /// </summary>
    public static Tensor Evaluate(Expr spec, LossContext ctx) => EvaluateResult(spec, ctx).Value;

    /// <summary>
    /// Evaluates a spec's result: its value, and for a <see cref="WeightedMean"/> result the weight
    /// that the Mean reduction divides by.
    /// </summary>
    public static (Tensor Value, Tensor? MeanWeight) EvaluateResult(Expr spec, LossContext ctx) => EvaluateResult(spec, ctx, null);

    /// <summary>
    /// As <see cref="EvaluateResult(Expr, LossContext)"/>, with the values of some nodes given (e.g. sums over
    /// the batch added up across replicas): those nodes are not evaluated.
    /// </summary>
    public static (Tensor Value, Tensor? MeanWeight) EvaluateResult(Expr spec, LossContext ctx, IReadOnlyDictionary<Expr, Tensor>? known)
    {
        var memo = known is null ? new Dictionary<Expr, Tensor>() : new Dictionary<Expr, Tensor>(known);
        if (spec is WeightedMean wm)
            return (Eval(wm.Value), Eval(wm.Weight));
        return (Eval(spec), null);

        Tensor Eval(Expr e)
        {
            if (memo.TryGetValue(e, out var done))
                return done;
            var value = e switch
            {
                Input { Kind: InputKind.Prediction } => ctx.Input,
                Input { Kind: InputKind.Target } => ctx.Target,
                Input { Kind: InputKind.ClassIndex } => ctx.ClassIndex,
                Input { Kind: InputKind.PositiveWeights } => ctx.PosWeights,
                Input { IsMap: true } map => ctx.Map(map.Name!),
                Input => ctx.ClassWeights,
                OneHot => ctx.Target,
                Const c => Scalar(c.Value),
                Count c => ctx.Count(c.Over, c.Valid),
                Unary u => Apply(u.Op, Eval(u.Arg)),
                Binary b => Apply(b.Op, Eval(b.Left), Eval(b.Right)),
                Reduce r => Reduce(r, Eval(r.Arg)),
                Cond k => IsTrue(k.Test) ? Eval(k.Then) : Eval(k.Else),
                SelectTarget s => ctx.SelectTarget(Eval(s.Arg)),
                Masked m => ctx.Masked(Eval(m.Arg)),
                PlainSum p => ctx.Sum(Eval(p.Arg), p.Over),
                WeightedMean => throw new InvalidOperationException("WeightedMean(value, weight) must be the spec's final result"),
                Param p => throw new InvalidOperationException(
                    $"hyperparameter '{p.Name}' has no value: the interpreter evaluates specs built at run time, where parameters are numbers"
                ),
                _ => throw new InvalidOperationException($"the interpreter cannot evaluate {e.GetType().Name} nodes"),
            };
            memo[e] = value;
            return value;
        }

        Tensor Scalar(double v) => full(Array.Empty<long>(), v, dtype: ctx.DType, device: ctx.Input.device);

        Tensor Reduce(Reduce r, Tensor x)
        {
            var axes = Axes.Of(r.Arg);
            var over = r.Over & axes;
            if (over == Over.None)
                return x.alias();
            using var masked = Axes.IsPixelwise(axes) && (over & (Over.Batch | Over.Spatial)) != 0 ? ctx.Masked(x) : x.alias();
            var sum = ctx.Sum(masked, over);
            if (r.Op == ReduceOp.Sum)
                return sum;
            using var count = ctx.Count(over, valid: Axes.IsPixelwise(axes));
            using var s = sum;
            return s / count;
        }
    }

    private static bool IsTrue(Expr test) =>
        test switch
        {
            Const c => c.Value != 0,
            _ => throw new InvalidOperationException($"a construction-time condition must be a constant here, got {test}"),
        };

    private static Tensor Apply(UnaryOp op, Tensor x) =>
        op switch
        {
            UnaryOp.Neg => -x,
            UnaryOp.Sigmoid => sigmoid(x),
            UnaryOp.LogSigmoid => nn.functional.logsigmoid(x),
            UnaryOp.Softplus => nn.functional.softplus(x),
            UnaryOp.Log => log(x),
            UnaryOp.Log1p => log1p(x),
            UnaryOp.Exp => exp(x),
            UnaryOp.Sqrt => sqrt(x),
            UnaryOp.Abs => abs(x),
            UnaryOp.Softmax => softmax(x, 1),
            UnaryOp.LogSoftmax => nn.functional.log_softmax(x, 1),
            // log cosh x = |x| + softplus(-2|x|) - log 2: no overflow for large |x|.
            UnaryOp.LogCosh => TensorMath.LogCosh(x),
            UnaryOp.Tanh => tanh(x),
            UnaryOp.Erf => erf(x),
            UnaryOp.Step => TensorMath.Step(x),
            _ => throw new InvalidOperationException($"{op} is not an element-wise tensor function"),
        };

    private static Tensor Apply(BinaryOp op, Tensor a, Tensor b) =>
        op switch
        {
            BinaryOp.Add => TensorMath.Add(a, b),
            BinaryOp.Sub => a - b,
            BinaryOp.Mul => a * b,
            BinaryOp.Div => a / b,
            BinaryOp.Pow => pow(a, b),
            BinaryOp.Min => minimum(a, b),
            BinaryOp.Max => maximum(a, b),
            _ => throw new InvalidOperationException($"{op} is a construction-time comparison, not a tensor operation"),
        };
}
