using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.EndToEnd;

/// <summary>
/// Losses across data-parallel replicas: a batch split into two "replicas" of unequal size, their
/// statistics added up (what an all-reduce does), each replica's loss finished from the sum. Each
/// replica's value must be the whole batch's loss, and the replicas' gradients together the whole batch's
/// gradient (float64, 1e-10: the same sums in another order).
/// </summary>
public class DataParallelStatisticsTests
{
    private const int N = 4,
        C = 3,
        H = 5,
        W = 6;

    public static TheoryData<string> Losses() =>
        new()
        {
            "dice-batch",
            "dice-batch-masked",
            "dice-batch-sigmoid-binary",
            "tversky-batch",
            "generalized-dice-batch",
            "mcc",
            "mcc-masked",
            "log-cosh-dice-per-sample",
            "dice-per-sample",
            "bce-masked",
            "bce-sum",
            "cross-entropy-weighted",
            "focal-ignore",
        };

    private static (LossFunction Loss, bool Binary, bool Masked, bool Ignore) Make(string name) =>
        name switch
        {
            "dice-batch" => (new DiceLoss(activation: Activation.Softmax, batch: true), false, false, false),
            "dice-batch-masked" => (
                new DiceLoss(activation: Activation.Softmax, batch: true, includeBackground: false),
                false,
                true,
                false
            ),
            "dice-batch-sigmoid-binary" => (new DiceLoss(batch: true), true, false, false),
            "tversky-batch" => (new TverskyLoss(alpha: 0.3, beta: 0.7, activation: Activation.Softmax, batch: true), false, false, false),
            "generalized-dice-batch" => (new GeneralizedDiceLoss(batch: true), false, false, false),
            "mcc" => (new MccLoss(), true, false, false),
            "mcc-masked" => (new MccLoss(), true, true, false),
            "log-cosh-dice-per-sample" => (new LogCoshDiceLoss(activation: Activation.Softmax), false, false, false),
            "dice-per-sample" => (new DiceLoss(activation: Activation.Softmax), false, true, false),
            "bce-masked" => (new BceLoss(posWeight: 3), true, true, false),
            "bce-sum" => (new BceLoss(reduction: Reduction.Sum), true, false, false),
            "cross-entropy-weighted" => (new CrossEntropyLoss(classWeights: tensor(new[] { 0.2, 1.0, 3.0 }, float64)), false, true, false),
            _ => (new FocalLoss(), false, false, true),
        };

    private static (Tensor X, Tensor T, Tensor? M) Batch(bool binary, bool masked, bool ignore, int seed)
    {
        manual_seed(seed);
        var x = randn(new long[] { N, binary ? 1 : C, H, W }, dtype: float64) * 2;
        Tensor t = binary ? (rand(new long[] { N, 1, H, W }, dtype: float64) > 0.7).to(float64) : randint(0, C, new long[] { N, H, W });
        if (ignore)
            t = t.masked_fill(rand(new long[] { N, H, W }) > 0.8, -100);
        // Unequal valid counts per replica: sample 0 mostly invalid.
        Tensor? m = null;
        if (masked)
        {
            m = rand(new long[] { N, 1, H, W }) > 0.3;
            m[0] = rand(new long[] { 1, H, W }) > 0.9;
        }
        return (x, t, m);
    }

    private static Tensor? Slice(Tensor? t, long start, long length) => t?.narrow(0, start, length);

    [Theory]
    [MemberData(nameof(Losses))]
    public void TwoReplicasGiveTheWholeBatchsLossAndGradient(string name)
    {
        var (loss, binary, masked, ignore) = Make(name);
        using (loss)
        {
            var (x, t, m) = Batch(binary, masked, ignore, seed: name.Length);
            var whole = x.clone().requires_grad_(true);
            var expected = loss.forward(whole, t, m);
            expected.backward();

            // Replica A holds one sample, replica B three.
            var a = x.narrow(0, 0, 1).clone().requires_grad_(true);
            var b = x.narrow(0, 1, N - 1).clone().requires_grad_(true);
            var module = (LossModule)loss;
            var sa = module.Statistics(a, t.narrow(0, 0, 1), Slice(m, 0, 1));
            var sb = module.Statistics(b, t.narrow(0, 1, N - 1), Slice(m, 1, N - 1));
            var total = sa.detach() + sb.detach(); // the all-reduce
            var la = module.FromStatistics(sa, total);
            var lb = module.FromStatistics(sb, total);
            Assert.Equal(expected.ToDouble(), la.ToDouble(), 10);
            Assert.Equal(expected.ToDouble(), lb.ToDouble(), 10);
            la.backward();
            lb.backward();
            var combined = cat(new[] { a.grad!, b.grad! }, 0);
            var diff = (combined - whole.grad!).abs().max().ToDouble();
            Assert.True(diff < 1e-10, $"{name}: gradient differs by {diff}");
            Assert.True(whole.grad!.abs().max().ToDouble() > 1e-6, $"{name}: a zero gradient proves nothing");
        }
    }

    [Fact]
    public void OneReplicaIsTheForward()
    {
        using var loss = new DiceLoss(activation: Activation.Softmax, batch: true);
        var (x, t, _) = Batch(false, false, false, 3);
        var s = loss.Statistics(x, t);
        Assert.Equal(loss.forward(x, t).ToDouble(), loss.FromStatistics(s, s).ToDouble(), 12);
        // Per class tp and Σp + Σt: two sums for each of C classes.
        Assert.Equal(new long[] { 2 * C }, s.shape);
    }

    [Fact]
    public void AveragingReplicaLossesIsWrongWhereStatisticsAreRight()
    {
        // The reason for the API: the mean of per-replica batch Dice losses is not the batch Dice loss.
        using var loss = new DiceLoss(activation: Activation.Softmax, batch: true);
        var (x, t, _) = Batch(false, false, false, 5);
        var whole = loss.forward(x, t).ToDouble();
        var averaged =
            (
                loss.forward(x.narrow(0, 0, 1), t.narrow(0, 0, 1)).ToDouble()
                + loss.forward(x.narrow(0, 1, N - 1), t.narrow(0, 1, N - 1)).ToDouble()
            ) / 2;
        Assert.True(Math.Abs(whole - averaged) > 1e-3, $"{whole} vs {averaged}");
    }

    [Fact]
    public void UnsupportedLossesAndMismatchedStatisticsAreClearErrors()
    {
        var (x, t, _) = Batch(false, false, false, 7);
        using var none = new DiceLoss(reduction: Reduction.None);
        var ex = Assert.Throws<InvalidOperationException>(() => none.Statistics(x, t));
        Assert.Contains("Reduction.None", ex.Message);

        using var dice = new DiceLoss(activation: Activation.Softmax, batch: true);
        var s = dice.Statistics(x, t);
        Assert.Throws<ArgumentException>(() => dice.FromStatistics(s, s.narrow(0, 0, 3)));
        // Two sums per class: an odd length cannot come from this loss.
        var odd = Assert.Throws<ArgumentException>(() => dice.FromStatistics(s.narrow(0, 0, 5), s.narrow(0, 0, 5)));
        Assert.Contains("do not come from this loss", odd.Message);
    }
}
