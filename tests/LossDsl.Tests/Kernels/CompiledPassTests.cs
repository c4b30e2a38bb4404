using System;
using System.Linq;
using LossDsl.Tests.EndToEnd;
using Xunit;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Tests.Kernels;

/// <summary>
/// Every pass of every kernel in the repository runs as one compiled loop (the buffered evaluation is
/// only for the last few pixels of a run), for binary and multiclass inputs, with and without a mask,
/// with per-class targets and class indices. <see cref="CpuKernelTests"/> checks their values.
/// </summary>
public class CompiledPassTests
{
    [Theory]
    [MemberData(nameof(CpuKernelTests.LossNames), MemberType = typeof(CpuKernelTests))]
    public void EveryPassCompiles(string typeName)
    {
        var type = GeneratedParityTests.GeneratedLossTypes().Single(t => t.FullName == typeName);
        foreach (var (label, module) in GeneratedParityTests.Variants(type, Reduction.Mean))
            using (module)
            {
                if (!module.HasCpuKernel)
                    continue;
                foreach (var masked in new[] { false, true })
                {
                    var kernel = module.KernelFor(masked)!;
                    // One pass for pixel-wise losses, two for region losses, three where every term is divided
                    // by a batch total whose derivative needs another total (BinaryFocalLoss normalized).
                    Assert.InRange(kernel.Passes, 1, 3);
                    var classes = module.Task == LossTask.Binary ? new long[] { 1 } : new long[] { 2, 5, 16 };
                    foreach (var c in classes)
                    foreach (var index in module.Task == LossTask.Binary ? new[] { false } : new[] { false, true })
                        for (var pass = 1; pass <= kernel.Passes; pass++)
                            foreach (var check in new[] { false, true })
                            // Where the kernel keeps its softmax between passes, both passes compile in that form too.
                            foreach (var kept in kernel.KeepsActivation ? new[] { false, true } : new[] { false })
                                Assert.True(
                                    kernel.IsCompiled(pass, c, index, check, kept: kept),
                                    $"{type.Name} [{label}] masked={masked} C={c} index={index} check={check} kept={kept} pass {pass}"
                                );
                }
            }
    }
}
