using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// MCC and Lovász hinge against independent float64 loops over the same numbers (1e-10 relative: both
/// sides are exact formulas in double precision).
/// </summary>
public class MccLovaszTests
{
    private static double[] Flat(Tensor t) => t.to(float64).flatten().data<double>().ToArray();

    [Fact]
    public void MccMatchesItsDefinitionOverTheBatchAndPerSample()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var x = randn(new long[] { 3, 1, 4, 5 }, dtype: float64) * 2;
        var t = rand(new long[] { 3, 1, 4, 5 }, dtype: float64).gt(0.6).to(float64);
        var xs = Flat(x);
        var ts = Flat(t);
        const double eps = 1e-5;
        double Mcc(int from, int to)
        {
            double tp = eps,
                tn = eps,
                fp = eps,
                fn = eps;
            for (var i = from; i < to; i++)
            {
                var p = 1 / (1 + Math.Exp(-xs[i]));
                tp += p * ts[i];
                tn += (1 - p) * (1 - ts[i]);
                fp += p * (1 - ts[i]);
                fn += (1 - p) * ts[i];
            }
            return 1 - (tp * tn - fp * fn) / Math.Sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
        }

        using var batch = new MccLoss(batch: true);
        Assert.Equal(Mcc(0, 60), batch.forward(x, t).ToDouble(), 10);
        using var perSample = new MccLoss(batch: false, reduction: Reduction.None);
        var values = Flat(perSample.forward(x, t));
        for (var n = 0; n < 3; n++)
            Assert.Equal(Mcc(n * 20, n * 20 + 20), values[n], 10);
    }

    // The Lovász hinge of one image by its definition: the Lovász extension at the hinge errors 1 - x·(2y - 1).
    private static double Lovasz(double[] logits, double[] labels) =>
        Hand.LovaszExtension(logits.Select((x, i) => 1 - x * (2 * labels[i] - 1)).ToArray(), labels);

    [Fact]
    public void LovaszHingeMatchesItsDefinitionPerImageWithAMask()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var x = randn(new long[] { 2, 1, 3, 7 }, dtype: float64) * 2;
        var t = rand(new long[] { 2, 1, 3, 7 }, dtype: float64).gt(0.5).to(float64);
        var m = rand(new long[] { 2, 3, 7 }, dtype: float64).gt(0.3);
        var xs = Flat(x);
        var ts = Flat(t);
        var ms = m.flatten().data<bool>().ToArray();
        using var loss = new LovaszHingeLoss(perImage: true, reduction: Reduction.None);
        var values = Flat(loss.forward(x, t, m));
        for (var n = 0; n < 2; n++)
        {
            var idx = Enumerable.Range(n * 21, 21).Where(i => ms[i]).ToArray();
            Assert.Equal(Lovasz(idx.Select(i => xs[i]).ToArray(), idx.Select(i => ts[i]).ToArray()), values[n], 10);
        }
        using var whole = new LovaszHingeLoss(perImage: false);
        var all = Enumerable.Range(0, 42).Where(i => ms[i]).ToArray();
        Assert.Equal(Lovasz(all.Select(i => xs[i]).ToArray(), all.Select(i => ts[i]).ToArray()), whole.forward(x, t, m).ToDouble(), 10);
    }

    [Fact]
    public void LovaszHingeOfSeveralChannelsIsSmpsMultiLabelLovasz()
    {
        // smp's LovaszLoss(mode="multilabel"): the hinge over every channel and pixel of an image together.
        using var scope = NewDisposeScope();
        manual_seed(7);
        var x = randn(new long[] { 2, 3, 4, 5 }, dtype: float64) * 2;
        var t = rand(new long[] { 2, 3, 4, 5 }, dtype: float64).gt(0.5).to(float64);
        var xs = Flat(x);
        var ts = Flat(t);
        using var loss = new LovaszHingeLoss(perImage: true, reduction: Reduction.None);
        var values = Flat(loss.forward(x, t));
        for (var n = 0; n < 2; n++)
            Assert.Equal(Lovasz(xs[(n * 60)..((n + 1) * 60)], ts[(n * 60)..((n + 1) * 60)]), values[n], 10);
        using var whole = new LovaszHingeLoss(perImage: false);
        Assert.Equal(Lovasz(xs, ts), whole.forward(x, t).ToDouble(), 10);
    }
}
