using System;
using System.Linq;
using LossDsl.Cli.Compare;
using static TorchSharp.torch;

var sw = System.Diagnostics.Stopwatch.StartNew();
var all = SyntheticLidar.Generate(200, 1);
Console.WriteLine($"gen {sw.ElapsedMilliseconds} ms");
var st = all.Stats(2);
Console.WriteLine($"fg {st.ForegroundFraction:P2} invalid {st.InvalidFraction:P2}");
for (int i = 0; i < 10; i++) { var s = all.Select(new[]{i}).Stats(2); Console.Write($"{s.ForegroundFraction:P2}/{s.InvalidFraction:P1} "); }
Console.WriteLine();
var sat = SyntheticSatellite.Generate(200, 1).Stats(5);
Console.WriteLine("sat " + string.Join(" ", sat.ClassFractions.Select(f => f.ToString("P2"))) + $" invalid {sat.InvalidFraction:P2}");
set_num_threads(2);
int nTrain = int.Parse(args[0]), epochs = int.Parse(args[1]), bc = int.Parse(args[2]), levels = int.Parse(args[3]);
var data = SyntheticLidar.Generate(nTrain + 16, 7);
using var train = new SplitTensors(data.Select(Enumerable.Range(0, nTrain).ToArray()));
using var held = new SplitTensors(data.Select(Enumerable.Range(nTrain, 16).ToArray()));
var task = SyntheticLidar.Task;
foreach (var name in args.Skip(4))
{
    var e = LossRegistry.Find(LossDsl.LossTask.Binary, name)!;
    sw.Restart();
    var r = Trainer.Run(task, train, held, e, e.Create(task, st), 1, new TrainingPlan(epochs, int.Parse(Environment.GetEnvironmentVariable("BS") ?? "8"), double.Parse(Environment.GetEnvironmentVariable("LR") ?? "2e-3"), bc, levels), new[]{0}, p => Console.WriteLine($"{p.Loss} ep {p.Epoch} loss {p.TrainLoss:F4} dice {p.HeldOutScore:F3} {p.Seconds:F2}s"));
    var sc = r.Scores[1];
    Console.WriteLine($"{name}: dice {sc.Dice:F3} iou {sc.IoU:F3} P {sc.Precision:F3} R {sc.Recall:F3} total {sw.Elapsed.TotalSeconds:F1}s");
}
