using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Catalog;

/// <summary>
/// MultiLabelFocalLoss with segmentation_models_pytorch's <c>normalized</c> and <c>reduced_threshold</c>, against
/// smp's focal_loss_with_logits transcribed in doubles (values and central-difference gradients).
/// </summary>
public class MultiLabelFocalOptionTests
{
    private const int N = 2,
        C = 3,
        S = 10;

    // smp: focal_term = (1 - pt)^γ (or the reduced form), loss = focal_term · BCE, / Σ focal_term when
    // normalized, then α-balanced, mean over every element (included classes only).
    private static double Reference(double[] x, double[] t, double gamma, double alpha, bool normalized, double threshold, bool background)
    {
        double norm = 0;
        var terms = new double[x.Length];
        var mods = new double[x.Length];
        for (var k = 0; k < x.Length; k++)
        {
            var p = Hand.Sigmoid(x[k]);
            var pt = p * t[k] + (1 - p) * (1 - t[k]);
            var mod = threshold > 0 ? (pt < threshold ? 1 : Math.Pow((1 - pt) / threshold, gamma)) : Math.Pow(1 - pt, gamma);
            mods[k] = mod;
            terms[k] = mod * (t[k] * Hand.Softplus(-x[k]) + (1 - t[k]) * Hand.Softplus(x[k]));
        }
        double total = 0;
        var count = 0;
        for (var n = 0; n < N; n++)
        for (var c = background ? 0 : 1; c < C; c++)
        for (var s = 0; s < S; s++)
            norm += mods[Hand.K(n, c, s, C, S)];
        norm = Math.Max(norm, 1e-6);
        for (var n = 0; n < N; n++)
        for (var c = background ? 0 : 1; c < C; c++)
        for (var s = 0; s < S; s++)
        {
            var k = Hand.K(n, c, s, C, S);
            var v = normalized ? terms[k] / norm : terms[k];
            total += alpha >= 0 ? (alpha * t[k] + (1 - alpha) * (1 - t[k])) * v : v;
            count++;
        }
        return total / count;
    }

    [Theory]
    [InlineData(2.0, 0.25, true, 0.0, true)]
    [InlineData(2.0, -1.0, false, 0.5, true)]
    [InlineData(1.5, 0.25, true, 0.4, false)]
    public void MatchesSmpsFocalLossWithLogits(double gamma, double alpha, bool normalized, double threshold, bool background)
    {
        var x = Hand.Random(N * C * S, seed: 81);
        var t = Hand.Random(N * C * S, seed: 82, binary: true);
        using var loss = new MultiLabelFocalLoss(
            gamma: gamma,
            alpha: alpha,
            includeBackground: background,
            normalized: normalized,
            reducedThreshold: threshold
        );
        var input = Hand.T(x, N, C, S).requires_grad_(true);
        var value = loss.forward(input, Hand.T(t, N, C, S));
        Hand.Close(Reference(x, t, gamma, alpha, normalized, threshold, background), value.ToDouble(), 1e-12);
        value.backward();
        // Entries away from the reduced threshold's jump (central differences there would straddle it).
        var grad = Hand.Flat(input.grad!);
        var entries = Enumerable
            .Range(0, x.Length)
            .Where(k =>
            {
                var p = Hand.Sigmoid(x[k]);
                var pt = p * t[k] + (1 - p) * (1 - t[k]);
                return threshold == 0 || Math.Abs(pt - threshold) > 1e-3;
            })
            .Where((_, i) => i % 7 == 0)
            .ToArray();
        Hand.CloseToCentralDifferences(v => Reference(v, t, gamma, alpha, normalized, threshold, background), x, grad, entries);
    }
}
