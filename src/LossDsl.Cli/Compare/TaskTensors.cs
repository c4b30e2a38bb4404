using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LossDsl.Cli.Compare;

/// <summary>A split as tensors on the training device, created once and shared by every run.</summary>
internal sealed class SplitTensors : IDisposable
{
    /// <summary>Copies <paramref name="set"/> into tensors on <paramref name="device"/>.</summary>
    public SplitTensors(SegmentationSet set, Device device)
    {
        Set = set;
        using var images = set.ImageTensor();
        using var labels = set.LabelTensor();
        using var valid = set.ValidTensor();
        Images = images.to(device);
        Labels = labels.to(device);
        Valid = valid.to(device);
        Count = set.Count;
    }

    /// <summary>The split itself (host arrays).</summary>
    public SegmentationSet Set { get; }

    /// <summary>Float32 N, C, H, W.</summary>
    public Tensor Images { get; }

    /// <summary>Int64 class indices N, H, W.</summary>
    public Tensor Labels { get; }

    /// <summary>Bool validity mask N, H, W.</summary>
    public Tensor Valid { get; }

    /// <summary>N.</summary>
    public int Count { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        Valid.Dispose();
    }
}

/// <summary>The three splits of a task as tensors.</summary>
internal sealed record TaskTensors(SplitTensors Train, SplitTensors Validation, SplitTensors Test) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
        Test.Dispose();
    }
}
