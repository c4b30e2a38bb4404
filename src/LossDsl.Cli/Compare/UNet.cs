using System.Collections.Generic;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LossDsl.Cli.Compare;

/// <summary>
/// A small U-Net: <see cref="Levels"/> resolution levels with two 3×3 conv–BatchNorm–ReLU layers
/// each, channels doubling per level from <see cref="BaseChannels"/>, max-pool down, transposed
/// convolution up, skip connections by concatenation, and a 1×1 head producing logits.
/// Input height and width must be divisible by 2^(levels − 1).
/// </summary>
internal sealed class UNet : Module<Tensor, Tensor>
{
    private readonly ModuleList<Module<Tensor, Tensor>> _down = new();
    private readonly ModuleList<Module<Tensor, Tensor>> _up = new();
    private readonly ModuleList<Module<Tensor, Tensor>> _merge = new();
    private readonly Module<Tensor, Tensor> _head;

    public UNet(int inChannels, int outChannels, int baseChannels, int levels)
        : base("UNet")
    {
        BaseChannels = baseChannels;
        Levels = levels;
        for (var i = 0; i < levels; i++)
            _down.Add(Block(i == 0 ? inChannels : Channels(i - 1), Channels(i)));
        for (var i = levels - 2; i >= 0; i--)
        {
            _up.Add(
                Sequential(
                    Upsample(scale_factor: new double[] { 2, 2 }, mode: UpsampleMode.Nearest),
                    Conv2d(Channels(i + 1), Channels(i), 1)
                )
            );
            _merge.Add(Block(2 * Channels(i), Channels(i)));
        }
        _head = Conv2d(baseChannels, outChannels, 1);
        RegisterComponents();
    }

    public int BaseChannels { get; }
    public int Levels { get; }

    private int Channels(int level) => BaseChannels << level;

    private static Module<Tensor, Tensor> Block(int input, int output) =>
        Sequential(
            Conv2d(input, output, 3, padding: 1, bias: false),
            BatchNorm2d(output),
            ReLU(),
            Conv2d(output, output, 3, padding: 1, bias: false),
            BatchNorm2d(output),
            ReLU()
        );

    /// <summary>Logits N, outChannels, H, W. Intermediates belong to the caller's dispose scope.</summary>
    public override Tensor forward(Tensor x)
    {
        var skips = new List<Tensor>(Levels);
        for (var i = 0; i < Levels; i++)
        {
            x = _down[i].call(x);
            if (i < Levels - 1)
            {
                skips.Add(x);
                x = functional.max_pool2d(x, 2);
            }
        }
        for (var j = 0; j < Levels - 1; j++)
        {
            var up = _up[j].call(x);
            x = _merge[j].call(cat(new[] { skips[Levels - 2 - j], up }, 1));
        }
        return _head.call(x);
    }

    /// <summary>Number of trainable parameters.</summary>
    public long ParameterCount()
    {
        long total = 0;
        foreach (var p in parameters())
            total += p.numel();
        return total;
    }
}
