using System;
using System.Diagnostics;
using LossDsl.Testing;
using Xunit;
using Xunit.Abstractions;
using FsCheck.Fluent;
using static TorchSharp.torch;

namespace LossDsl.Properties.Tests.Kit;

public class ScratchTiming(ITestOutputHelper output)
{
    [Fact]
    public void Time()
    {
        var o = LossCaseOptions.For(LossTask.Multiclass);
        var cases = LossGen.Cases(o).Sample(30, 200);
        var loss = new DiceLoss(activation: Activation.Softmax);
        foreach (var c in cases) LossEval.Evaluate(loss, c);
        var sw = Stopwatch.StartNew();
        foreach (var c in cases) LossEval.Evaluate(loss, c);
        output.WriteLine($"dice eval {sw.Elapsed.TotalMilliseconds / cases.Length} ms");
        sw.Restart();
        foreach (var c in cases) { using var s = NewDisposeScope(); c.InputTensor(); c.TargetTensor(); c.MaskTensor(); }
        output.WriteLine($"tensors {sw.Elapsed.TotalMilliseconds / cases.Length} ms");
        sw.Restart();
        foreach (var c in cases) { using var s = NewDisposeScope(); loss.forward(c.InputTensor(), c.TargetTensor(), c.MaskTensor()); }
        output.WriteLine($"forward {sw.Elapsed.TotalMilliseconds / cases.Length} ms");
        loss.CheckValues = false;
        sw.Restart();
        foreach (var c in cases) { using var s = NewDisposeScope(); loss.forward(c.InputTensor(), c.TargetTensor(), c.MaskTensor()); }
        output.WriteLine($"forward nocheck {sw.Elapsed.TotalMilliseconds / cases.Length} ms");
        sw.Restart();
        foreach (var c in cases) { using var s = NewDisposeScope(); loss.Reference(c.InputTensor(), c.TargetTensor(), c.MaskTensor()); }
        output.WriteLine($"reference {sw.Elapsed.TotalMilliseconds / cases.Length} ms");
        sw.Restart();
        foreach (var c in cases) { using var s = NewDisposeScope(); loss.forward(c.InputTensor(), c.TargetTensor(), c.MaskTensor()); }
        output.WriteLine($"forward nocheck again {sw.Elapsed.TotalMilliseconds / cases.Length} ms");
        var bce = new BceLoss();
        var bcases = LossGen.Cases(LossCaseOptions.For(LossTask.Binary)).Sample(30, 200);
        foreach (var c in bcases) { using var s = NewDisposeScope(); bce.forward(c.InputTensor(), c.TargetTensor(), c.MaskTensor()); }
        sw.Restart();
        foreach (var c in bcases) { using var s = NewDisposeScope(); bce.forward(c.InputTensor(), c.TargetTensor(), c.MaskTensor()); }
        output.WriteLine($"bce forward {sw.Elapsed.TotalMilliseconds / cases.Length} ms");
        sw.Restart();
        foreach (var c in bcases) { using var s = NewDisposeScope(); var x = c.InputTensor(); for (int i = 0; i < 30; i++) x = x + 1; }
        output.WriteLine($"30 adds {sw.Elapsed.TotalMilliseconds / cases.Length} ms");
        sw.Restart();
        var g = LossGen.Cases(o).Sample(30, 200);
        output.WriteLine($"gen {sw.Elapsed.TotalMilliseconds / 200} ms");
        output.WriteLine($"threads {get_num_threads()}");
    }
}
