using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using MLNet.Rescale.Training;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

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
        set_num_threads(s.Threads);
        using var gen = new Generator(0);
        var result = new JsonObject
        {
            ["model"] = s.Model,
            ["scale"] = net.Scale,
            ["size"] = s.Size,
            ["threads"] = s.Threads,
            ["params"] = net.parameters().Where(p => p.requires_grad).Sum(p => p.numel()),
        };
        net.eval();
        using (inference_mode())
        using (NewDisposeScope())
        {
            var x = rand([1, 3, s.Size, s.Size], generator: gen);
            var output = net.forward(x);
            result["forward_s"] = Timed(() =>
            {
                using var scope = NewDisposeScope();
                net.forward(x);
            }, s.Repeat);
            var latent = RescaleNetwork.LatentOf(output);
            var inverseInput = cat([RescaleNetwork.LrOf(output), randn(latent.shape, generator: gen)], 1);
            result["inverse_s"] = Timed(() =>
            {
                using var scope = NewDisposeScope();
                net.inverse(inverseInput);
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
        net.train();
        var trained = net.parameters().Where(p => p.requires_grad).ToArray();
        using var adam = new SafeAdam(trained, 2e-4, weight_decay: 1e-5);
        using var outer = NewDisposeScope();
        var xb = rand([s.TrainBatch, 3, s.TrainPatch, s.TrainPatch], generator: gen);
        double b = s.TrainBatch;
        try
        {
            return Timed(() =>
            {
                using var scope = NewDisposeScope();
                adam.zero_grad();
                var o = net.forward(xb);
                var z = RescaleNetwork.LatentOf(o);
                var lrQ = Quantization.Quantize(RescaleNetwork.LrOf(o));
                var rec = net.inverse(cat([lrQ, randn(z.shape, generator: gen)], 1));
                var loss = (z.Squared().sum() / S(b)).Plus(Losses.Charbonnier(rec, xb));
                loss.backward();
                nn.utils.clip_grad_norm_(trained, 10);
                adam.step();
            }, s.Repeat);
        }
        finally
        {
            net.eval();
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

    /// <summary>The median (the mean of the middle two for an even count), as Python's statistics.median.</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        var v = values.ToArray();
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
