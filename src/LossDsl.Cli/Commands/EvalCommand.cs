using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;
using Reduction = TorchSharp.torch.nn.Reduction;

namespace LossDsl.Cli.Commands;

/// <summary>
/// <c>lossdsl eval CASE.json</c> (or <c>-</c> for standard input): evaluates one catalog loss on the
/// case's tensors and prints <c>{"loss": …, "shape": […]}</c>, plus <c>"grad"</c> with <c>--grad</c>.
/// A malformed case exits with code 2 and one line on standard error naming the field; a loss or gradient
/// that is not finite, or a failure while computing it, exits with code 1 and one line saying what happened.
/// </summary>
public static class EvalCommand
{
    /// <summary>A problem with the case file: the field and what was expected.</summary>
    public sealed class CaseException(string message) : Exception(message);

    /// <summary>The loss ran but its value or gradient is not finite: where, and how many.</summary>
    public sealed class NonFiniteException(string message) : Exception(message);

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string path, bool grad, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            string text;
            if (path == "-")
                text = stdin.ReadToEnd();
            else if (!File.Exists(path))
                throw new CaseException($"case file '{path}' not found");
            else
                text = File.ReadAllText(path);
            stdout.WriteLine(Evaluate(text, grad));
            return 0;
        }
        catch (CaseException ex)
        {
            stderr.WriteLine($"lossdsl eval: {ex.Message}");
            return 2;
        }
        catch (ArgumentException ex)
        {
            stderr.WriteLine($"lossdsl eval: {OneLine(WithoutParameterSuffix(ex))}");
            return 2;
        }
        catch (JsonException ex)
        {
            stderr.WriteLine($"lossdsl eval: the case is not valid JSON: {OneLine(ex.Message)}");
            return 2;
        }
        catch (NonFiniteException ex)
        {
            stderr.WriteLine($"lossdsl eval: {ex.Message}");
            return 1;
        }
        catch (Exception ex)
            when (ex is System.Runtime.InteropServices.ExternalException or InvalidOperationException or OutOfMemoryException)
        {
            stderr.WriteLine($"lossdsl eval: the loss failed: {OneLine(ex.Message)}");
            return 1;
        }
    }

    // The message names the tensor or option already; .NET's " (Parameter 'x')" and "Actual value was" add nothing.
    private static string WithoutParameterSuffix(ArgumentException ex)
    {
        var message = ex.Message;
        var suffix = ex.ParamName is { } name ? message.IndexOf($" (Parameter '{name}')", StringComparison.Ordinal) : -1;
        return suffix > 0 ? message.Substring(0, suffix) : message;
    }

    private static string OneLine(string s) => s.Replace('\n', ' ').Replace('\r', ' ');

    /// <summary>Evaluates a case given as JSON text; returns the JSON result.</summary>
    public static string Evaluate(string json, bool grad)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new CaseException("the case must be a JSON object");
        foreach (var p in root.EnumerateObject())
            if (
                p.Name
                is not ("loss" or "options" or "reduction" or "input" or "target" or "mask" or "weight" or "classWeights" or "ignoreIndex")
            )
                throw new CaseException(
                    $"unknown field '{p.Name}'; expected loss, options, reduction, input, target, mask, weight, classWeights, ignoreIndex"
                );

        var name =
            root.TryGetProperty("loss", out var l) && l.ValueKind == JsonValueKind.String
                ? l.GetString()!
                : throw new CaseException("field 'loss' is missing or not a string; expected a catalog name (see lossdsl list)");
        var entry =
            LossCatalog.Find(name)
            ?? throw new CaseException(
                $"field 'loss': unknown loss '{name}'; expected one of {string.Join(", ", LossCatalog.All.Select(e => e.Name))}"
            );

        var reduction = Reduction.Mean;
        if (root.TryGetProperty("reduction", out var r))
        {
            reduction =
                r.ValueKind == JsonValueKind.String
                    ? r.GetString()!.ToLowerInvariant() switch
                    {
                        "mean" => Reduction.Mean,
                        "sum" => Reduction.Sum,
                        "none" => Reduction.None,
                        var other => throw new CaseException($"field 'reduction': '{other}' is not mean, sum or none"),
                    }
                    : throw new CaseException("field 'reduction' must be a string: mean, sum or none");
        }

        var options = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        if (root.TryGetProperty("options", out var o))
        {
            if (o.ValueKind != JsonValueKind.Object)
                throw new CaseException("field 'options' must be an object of option names to values");
            foreach (var p in o.EnumerateObject())
                options[p.Name] = p.Value.ValueKind switch
                {
                    JsonValueKind.Number => p.Value.GetDouble(),
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    JsonValueKind.String => p.Value.GetString(),
                    JsonValueKind.Array when p.Value.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number) => p
                        .Value.EnumerateArray()
                        .Select(x => x.GetDouble())
                        .ToArray(),
                    _ => throw new CaseException(
                        $"field 'options.{p.Name}' must be a number, a bool, a string or (for a per-class option) an array of numbers"
                    ),
                };
        }

        using var scope = NewDisposeScope();
        var input = ReadTensor(root, "input", required: true, defaultType: ScalarType.Float32)!;
        var target = ReadTensor(root, "target", required: true, defaultType: input.dtype)!;
        var mask = ReadTensor(root, "mask", required: false, defaultType: ScalarType.Float32);
        var pixelWeight = ReadTensor(root, "weight", required: false, defaultType: input.dtype);
        Tensor? weights = null;
        if (root.TryGetProperty("classWeights", out var w))
        {
            if (w.ValueKind != JsonValueKind.Array || w.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.Number))
                throw new CaseException("field 'classWeights' must be an array of numbers (one per class)");
            weights = tensor(w.EnumerateArray().Select(x => x.GetDouble()).ToArray(), dtype: input.dtype);
        }
        long? ignoreIndex = null;
        if (root.TryGetProperty("ignoreIndex", out var ii))
            ignoreIndex =
                ii.ValueKind == JsonValueKind.Number && ii.TryGetInt64(out var v)
                    ? v
                    : throw new CaseException("field 'ignoreIndex' must be an integer");
        // ignoreIndex is a constructor parameter, so it may also be given with the other options.
        if (options.Remove("ignoreIndex", out var optionIndex))
        {
            var fromOptions =
                optionIndex is double d && d == Math.Round(d) && Math.Abs(d) < 9e15
                    ? (long)d
                    : throw new CaseException("field 'options.ignoreIndex' must be an integer");
            if (ignoreIndex is { } top && top != fromOptions)
                throw new CaseException(
                    $"ignoreIndex is given twice with different values ({top} and options.ignoreIndex = {fromOptions})"
                );
            ignoreIndex = fromOptions;
        }
        if (ignoreIndex is not null && entry.Task != LossTask.Multiclass)
            throw new CaseException(
                $"ignoreIndex applies to class-index targets; loss '{entry.Name}' is binary (use a mask for invalid pixels)"
            );

        using var loss = entry.Create(options, reduction, weights, ignoreIndex ?? -100);
        var x = grad ? input.detach().requires_grad_(true) : input;
        var value = loss.forward(x, target, mask, pixelWeight);
        var sb = new StringBuilder();
        sb.Append("{\"loss\": ")
            .Append(Json(value, "value", entry.Name))
            .Append(", \"shape\": [")
            .Append(string.Join(", ", value.shape))
            .Append(']');
        if (grad)
        {
            value.sum().backward();
            sb.Append(", \"grad\": ").Append(Json(x.grad!, "gradient", entry.Name));
        }
        sb.Append('}');
        return sb.ToString();
    }

    // The tensor as nested JSON arrays (a bare number for a 0-dimensional tensor), read from the host once.
    // A NaN or infinite entry is an error, not a "null" in the output: where it is and how many there are.
    private static string Json(Tensor t, string what, string loss)
    {
        var data = t.detach().to(ScalarType.Float64).contiguous().data<double>().ToArray();
        var first = Array.FindIndex(data, v => !double.IsFinite(v));
        if (first < 0)
            return Nested(data, t.shape);
        var count = data.Count(v => !double.IsFinite(v));
        var at = t.dim() == 0 ? "" : $" at [{string.Join(", ", InputValidation.Unravel(first, t.shape))}]";
        throw new NonFiniteException(
            $"the {what} of loss '{loss}' is not finite: {Hyperparameters.Show(data[first])}{at} ({count} of {data.Length} entries)"
        );
    }

    private static Tensor? ReadTensor(JsonElement root, string field, bool required, ScalarType defaultType)
    {
        if (!root.TryGetProperty(field, out var t))
            return required ? throw new CaseException($"field '{field}' is missing; expected {{\"shape\": [...], \"data\": [...]}}") : null;
        if (t.ValueKind != JsonValueKind.Object)
            throw new CaseException($"field '{field}' must be an object {{\"shape\": [...], \"data\": [...], \"dtype\": ...}}");
        if (
            !t.TryGetProperty("shape", out var s)
            || s.ValueKind != JsonValueKind.Array
            || s.EnumerateArray().Any(d => d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var n) || n < 0)
        )
            throw new CaseException($"field '{field}.shape' must be an array of non-negative integers");
        var shape = s.EnumerateArray().Select(d => d.GetInt64()).ToArray();
        if (
            !t.TryGetProperty("data", out var d)
            || d.ValueKind != JsonValueKind.Array
            || d.EnumerateArray().Any(v => v.ValueKind is not (JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
        )
            throw new CaseException($"field '{field}.data' must be a flat array of numbers");
        var values = d.EnumerateArray()
            .Select(v =>
                v.ValueKind == JsonValueKind.True ? 1.0
                : v.ValueKind == JsonValueKind.False ? 0.0
                : v.GetDouble()
            )
            .ToArray();
        long count;
        try
        {
            count = shape.Aggregate(1L, (a, b) => checked(a * b));
        }
        catch (OverflowException)
        {
            throw new CaseException($"field '{field}.shape' [{string.Join(", ", shape)}] has more elements than a tensor can hold");
        }
        if (values.Length != count)
            throw new CaseException(
                $"field '{field}.data' has {values.Length} values but shape [{string.Join(", ", shape)}] needs {count}"
            );
        var type = defaultType;
        if (t.TryGetProperty("dtype", out var dt))
        {
            type = (dt.ValueKind == JsonValueKind.String ? dt.GetString() : null) switch
            {
                "float32" => ScalarType.Float32,
                "float64" => ScalarType.Float64,
                "float16" => ScalarType.Float16,
                "bfloat16" => ScalarType.BFloat16,
                "int64" => ScalarType.Int64,
                "bool" => ScalarType.Bool,
                var other => throw new CaseException(
                    $"field '{field}.dtype': '{other}' is not float32, float64, float16, bfloat16, int64 or bool"
                ),
            };
        }
        if (type == ScalarType.Int64 && values.Any(v => v != Math.Round(v)))
            throw new CaseException($"field '{field}.data' must hold integers for dtype int64");
        return tensor(values, dtype: ScalarType.Float64).reshape(shape).to(type);
    }

    private static string Nested(double[] data, long[] shape)
    {
        var sb = new StringBuilder();
        var i = 0;
        void Write(int dim)
        {
            if (dim == shape.Length)
            {
                sb.Append(data[i++].ToString("R", CultureInfo.InvariantCulture));
                return;
            }
            sb.Append('[');
            for (var k = 0; k < shape[dim]; k++)
            {
                if (k > 0)
                    sb.Append(", ");
                Write(dim + 1);
            }
            sb.Append(']');
        }
        Write(0);
        return sb.ToString();
    }
}

/// <summary>The <c>eval</c> verb.</summary>
internal sealed class EvalVerb : ICliCommand
{
    /// <inheritdoc />
    public System.CommandLine.Command Create()
    {
        var caseArg = new System.CommandLine.Argument<string>("case") { Description = "A case file (JSON), or - for standard input." };
        var gradOpt = new System.CommandLine.Option<bool>("--grad") { Description = "Also print the gradient with respect to the input." };
        var command = new System.CommandLine.Command(
            "eval",
            "Evaluate one catalog loss on the tensors of a JSON case and print {\"loss\": ..., \"shape\": [...]} (and \"grad\")."
        )
        {
            caseArg,
            gradOpt,
        };
        command.SetAction(r => EvalCommand.Run(r.GetValue(caseArg)!, r.GetValue(gradOpt), Console.In, Console.Out, Console.Error));
        return command;
    }
}
