using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.Optim;

namespace MLNet.Rescale.Cli.Benchmarking;

/// <summary>Settings of one benchmark run (the arguments torch_reference.py takes).</summary>
internal sealed record BenchSettings
{
    public string Model { get; init; } = "irn";
    public int Scale { get; init; } = 4;
    public int Size { get; init; } = 256;
    public int Threads { get; init; } = 2;
    public int Repeat { get; init; } = 3;
    public int TrainBatch { get; init; }
    public int TrainPatch { get; init; } = 128;
    public int Blocks { get; init; } = 8;
}

/// <summary>
/// Times IRN or SAIN the way shared/bench/torch_reference.py does: forward and inverse of one [1, 3, N, N] image (median of
/// <c>repeat</c> runs after one warm-up) and optionally one training step of its exact loss, then reports the same
/// JSON keys (plus <c>"impl": "mlnet-rescale"</c>).
/// </summary>
internal static class NetworkBenchmark
{
    public const string Impl = "mlnet-rescale";

    /// <summary>
    /// A fresh network of the settings, deterministic (seed 0): IRN with <c>Blocks</c> per level, or SAIN with the
    /// reference's enhanced/vanilla blocks for the scale (5/3 at ×2, 10/6 at ×4).
    /// </summary>
    public static RescaleNetwork CreateNetwork(BenchSettings s)
    {
        int levels = CliContext.At("--scale", () => RescaleNetwork.Levels(s.Scale));
        using var gen = new Generator(0);
        return s.Model == "sain"
            ? new SainNetwork(new SainOptions { Scale = s.Scale }, gen)
            : new InvRescaleNet(new IrnOptions { Scale = s.Scale, BlocksPerLevel = Enumerable.Repeat(s.Blocks, levels).ToArray() }, gen);
    }

    /// <summary>Runs the benchmark on <paramref name="net"/> (its scale wins over the settings') and returns the JSON object.</summary>
    public static JsonObject Run(RescaleNetwork net, BenchSettings s)
    {
        Torch.NumThreads = s.Threads;
        using var gen = new Generator(0);
        var result = new JsonObject
        {
            ["model"] = s.Model,
            ["scale"] = net.Scale,
            ["size"] = s.Size,
            ["threads"] = s.Threads,
            ["params"] = net.ParameterCount,
        };
        net.Eval();
        using (Torch.InferenceMode())
        using (Torch.NewScope())
        {
            var x = Tensor.Rand([1, 3, s.Size, s.Size], gen);
            var output = net.Forward(x);
            result["forward_s"] = Timed(() =>
            {
                using var scope = Torch.NewScope();
                net.Forward(x);
            }, s.Repeat);
            var latent = RescaleNetwork.LatentOf(output);
            var inverseInput = Tensor.Cat([RescaleNetwork.LrOf(output), Tensor.Randn(latent.Shape, gen)], 1);
            result["inverse_s"] = Timed(() =>
            {
                using var scope = Torch.NewScope();
                net.Inverse(inverseInput);
            }, s.Repeat);
        }
        if (s.TrainBatch > 0)
        {
            result["train_step_s"] = TrainStep(net, s, gen);
            result["train_batch"] = s.TrainBatch;
            result["train_patch"] = s.TrainPatch;
        }
        result["peak_rss_mib"] = PeakRssMib();
        result["impl"] = Impl;
        return result;
    }

    // torch_reference.py's step(): Adam(lr 2e-4, wd 1e-5); forward; straight-through quantized LR; inverse with a
    // fresh N(0, 1) latent; loss = Σz²/B + Σ√((rec − x)² + 1e-6)/B; backward; clip the gradient norm at 10; step.
    private static double TrainStep(RescaleNetwork net, BenchSettings s, Generator gen)
    {
        net.Train();
        using var adam = new Adam(net.Parameters(), new AdamOptions { LearningRate = 2e-4, WeightDecay = 1e-5 });
        using var outer = Torch.NewScope();
        var xb = Tensor.Rand([s.TrainBatch, 3, s.TrainPatch, s.TrainPatch], gen);
        double b = s.TrainBatch;
        try
        {
            return Timed(() =>
            {
                using var scope = Torch.NewScope();
                adam.ZeroGrad();
                var o = net.Forward(xb);
                var z = RescaleNetwork.LatentOf(o);
                var lrQ = Quantization.Quantize(RescaleNetwork.LrOf(o));
                var rec = net.Inverse(Tensor.Cat([lrQ, Tensor.Randn(z.Shape, gen)], 1));
                var loss = z.Square().Sum() / b + ((rec - xb).Square() + 1e-6).Sqrt().Sum() / b;
                loss.Backward();
                Gradients.ClipNorm(adam.Parameters, 10);
                adam.Step();
            }, s.Repeat);
        }
        finally
        {
            net.Eval();
        }
    }

    /// <summary>
    /// One result from several runs of the same benchmark: each time (<c>*_s</c>) is the median of the runs' times, which
    /// are kept as <c>*_s_runs</c>; the peak resident memory is the largest.
    /// </summary>
    public static JsonObject Combine(IReadOnlyList<JsonObject> runs)
    {
        if (runs.Count == 0) throw new ArgumentException("no runs to combine", nameof(runs));
        var result = (JsonObject)runs[0].DeepClone();
        if (runs.Count == 1) return result;
        foreach (var key in result.Select(kv => kv.Key).Where(k => k.EndsWith("_s", StringComparison.Ordinal)).ToList())
        {
            var times = runs.Select(run => run[key]!.GetValue<double>()).ToArray();
            result[key] = Median(times);
            result[key + "_runs"] = new JsonArray(times.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray());
        }
        if (result.ContainsKey("peak_rss_mib"))
            result["peak_rss_mib"] = runs.Max(run => run["peak_rss_mib"]!.GetValue<double>());
        result["runs"] = runs.Count;
        return result;
    }

    private static double Median(double[] values)
    {
        var v = (double[])values.Clone();
        Array.Sort(v);
        int n = v.Length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    /// <summary>One warm-up call, then the median of <paramref name="repeat"/> timed calls (as Python's statistics.median).</summary>
    public static double Timed(Action f, int repeat)
    {
        f();
        var times = new double[repeat];
        for (int i = 0; i < repeat; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            f();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        return Median(times);
    }

    /// <summary>Peak resident set size (VmHWM of /proc/self/status) in MiB, or 0 where there is no /proc.</summary>
    public static double PeakRssMib()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                var parts = line["VmHWM:".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return double.Parse(parts[0], CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return 0;
    }
}
