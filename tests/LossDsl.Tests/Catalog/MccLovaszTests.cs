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

    // The Lovász hinge of one image by its definition (Berman et al., eq. 9 and Alg. 1): errors sorted in
    // decreasing order, weighted by the increments of the Jaccard loss of the sorted labels.
    private static double Lovasz(double[] logits, double[] labels)
    {
        var n = logits.Length;
        if (n == 0)
            return 0;
        var errors = logits.Select((x, i) => 1 - x * (2 * labels[i] - 1)).ToArray();
        var order = Enumerable.Range(0, n).OrderByDescending(i => errors[i]).ToArray();
        var gts = labels.Sum();
        double loss = 0,
            previous = 0,
            cumulativeGt = 0,
            cumulativeNeg = 0;
        foreach (var i in order)
        {
            cumulativeGt += labels[i];
            cumulativeNeg += 1 - labels[i];
            var jaccard = 1 - (gts - cumulativeGt) / (gts + cumulativeNeg);
            loss += Math.Max(errors[i], 0) * (jaccard - previous);
            previous = jaccard;
        }
        return loss;
    }

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
}
