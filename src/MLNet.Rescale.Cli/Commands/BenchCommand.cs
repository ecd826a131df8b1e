using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MLNet.Rescale.Cli.Benchmarking;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Reporting;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale bench --model irn --scale S --size N --threads T</c>: forward/inverse (and training-step) timings as
/// JSON with torch_reference.py's keys; <c>--compare</c> runs the PyTorch reference on the very same weights first and
/// prints both side by side.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Architecture: irn or sain.", DefaultValueFactory = _ => "irn", HelpName = "irn|sain" };
        model.AcceptOnlyFromAmong("irn", "sain");
        var scale = new Option<int>("--scale") { Description = "Scale factor: 2, 4 or 8.", DefaultValueFactory = _ => 4, HelpName = "S" };
        var size = new Option<int>("--size") { Description = "HR height and width of the timed image.", DefaultValueFactory = _ => 256, HelpName = "N" };
        var threads = CliContext.ThreadsOption();
        var weights = new Option<string?>("--weights")
        {
            Description = "Weights to time: a model file, or a plain state dict (e.g. torch_reference.py --save-weights) loaded by name into the --model of --scale (IRN: --blocks).",
            HelpName = "FILE",
        };
        var repeat = new Option<int>("--repeat") { Description = "Timed runs (median reported) after one warm-up.", DefaultValueFactory = _ => 3, HelpName = "R" };
        var trainBatch = new Option<int>("--train-batch") { Description = "Batch of the timed training step (0 skips it).", DefaultValueFactory = _ => 0, HelpName = "B" };
        var trainPatch = new Option<int>("--train-patch") { Description = "Patch side of the timed training step.", DefaultValueFactory = _ => 128, HelpName = "P" };
        var json = new Option<bool>("--json") { Description = "Print only the JSON result." };
        var blocks = new Option<int>("--blocks") { Description = "Coupling blocks per Haar level of a fresh IRN.", DefaultValueFactory = _ => 8, HelpName = "K" };
        var compare = new Option<bool>("--compare") { Description = "Run the PyTorch reference (torch_reference.py) first and time ours on its weights; print both side by side." };
        var rounds = new Option<int>("--rounds")
        {
            Description = "With --compare: run PyTorch and ours this many times, alternating, and report the median of each side's runs (one run per side is at the mercy of the machine's moods).",
            DefaultValueFactory = _ => 1,
            HelpName = "K",
        };
        var plot = new Option<string?>("--plot")
        {
            Description = "With --compare: write each side's time of every run (forward, inverse, training step) as an SVG chart to FILE.",
            HelpName = "FILE",
        };
        var reference = new Option<string?>("--reference") { Description = "Path of torch_reference.py (default <repo>/../shared/bench/torch_reference.py).", HelpName = "PATH" };
        var python = new Option<string>("--python")
        {
            Description = "Interpreter that has torch (Debian's).",
            DefaultValueFactory = _ => TorchReference.DefaultPython,
            HelpName = "PATH",
        };
        var onnx = new Option<bool>("--onnx")
        {
            Description = "Time the network beside its ONNX export in ONNX Runtime, same weights and threads: downscaling an N×N image and upscaling its LR back to N×N (serving latent), --rounds alternating rounds.",
        };
        var command = new Command("bench", "Time IRN forward, inverse and a training step (optionally beside PyTorch, or beside ONNX Runtime).")
        {
            model, scale, size, threads, weights, repeat, trainBatch, trainPatch, json, blocks, compare, rounds, plot, reference, python, onnx,
        };
        command.SetCliAction((r, cli) =>
        {
            var s = new BenchSettings
            {
                Model = r.GetValue(model)!,
                Scale = r.GetValue(scale),
                Size = r.GetValue(size),
                Threads = r.GetValue(threads),
                Repeat = r.GetValue(repeat),
                TrainBatch = r.GetValue(trainBatch),
                TrainPatch = r.GetValue(trainPatch),
                Blocks = r.GetValue(blocks),
            };
            Validate(s);
            int roundCount = r.GetValue(rounds);
            if (roundCount < 1) throw new CliException($"--rounds must be at least 1, got {roundCount}", CliContext.UsageError);
            if (r.GetValue(onnx) && r.GetValue(compare)) throw new CliException("--onnx and --compare are two different comparisons: give one", CliContext.UsageError);
            if (roundCount > 1 && !r.GetValue(compare) && !r.GetValue(onnx)) throw new CliException("--rounds alternates two engines: it needs --compare or --onnx", CliContext.UsageError);
            string? plotPath = r.GetValue(plot);
            if (plotPath is not null && !r.GetValue(compare)) throw new CliException("--plot charts the runs of both sides: it needs --compare", CliContext.UsageError);
            CliContext.ApplyThreads(s.Threads);
            bool asJson = r.GetValue(json);
            string? weightsPath = r.GetValue(weights);
            if (r.GetValue(onnx))
            {
                using var net = weightsPath is null ? NetworkBenchmark.CreateNetwork(s) : CliContext.LoadModelOrWeights(weightsPath, () => NetworkBenchmark.CreateNetwork(s));
                CheckSize(s, net.Scale);
                var result = OnnxBenchmark.Run(net, s, roundCount, asJson ? null : cli.Out.WriteLine);
                if (asJson) cli.Out.WriteLine(result.ToJsonString());
                else PrintOnnxTable(cli, result);
                return CliContext.Success;
            }
            if (!r.GetValue(compare))
            {
                using var net = weightsPath is null ? NetworkBenchmark.CreateNetwork(s) : CliContext.LoadModelOrWeights(weightsPath, () => NetworkBenchmark.CreateNetwork(s));
                CheckSize(s, net.Scale);
                var ours = NetworkBenchmark.Run(net, s);
                if (asJson) cli.Out.WriteLine(ours.ToJsonString());
                else PrintTable(cli, s, ours, null);
                return CliContext.Success;
            }

            if (weightsPath is not null)
                throw new CliException("--compare times both on the reference's own weights; drop --weights", CliContext.UsageError);
            if (s.Blocks != 8)
                throw new CliException("--compare needs --blocks 8 (torch_reference.py builds IRN with 8 blocks per level)", CliContext.UsageError);
            string script = r.GetValue(reference) ?? TorchReference.DefaultScript();
            string tmp = Path.Combine(Path.GetTempPath(), $"rescale-bench-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");
            try
            {
                var torchRuns = new List<JsonObject>();
                var ourRuns = new List<JsonObject>();
                RescaleNetwork? net = null;
                try
                {
                    for (int k = 1; k <= roundCount; k++)
                    {
                        string round = roundCount > 1 ? $"round {k}/{roundCount}: " : "";
                        if (!asJson) cli.Out.WriteLine($"{round}running the PyTorch reference: {r.GetValue(python)} {script} …");
                        torchRuns.Add(TorchReference.Run(r.GetValue(python)!, script, s, tmp));
                        if (!asJson) cli.Out.WriteLine($"{round}running mlnet-rescale on the same weights …");
                        net ??= CliContext.LoadModelOrWeights(tmp, () => NetworkBenchmark.CreateNetwork(s));
                        ourRuns.Add(NetworkBenchmark.Run(net, s));
                    }
                }
                finally
                {
                    net?.Dispose();
                }
                var torch = NetworkBenchmark.Combine(torchRuns);
                var ours = NetworkBenchmark.Combine(ourRuns);
                if (plotPath is not null)
                {
                    CliContext.At(plotPath, () => ChartRenderer.Write(plotPath, RunCharts(s, ourRuns, torchRuns)));
                    if (!asJson) cli.Out.WriteLine($"runs chart: {plotPath}");
                }
                if (asJson)
                    cli.Out.WriteLine(new JsonObject { ["ours"] = ours, ["pytorch"] = torch }.ToJsonString());
                else
                    PrintTable(cli, s, ours, torch, roundCount);
                return CliContext.Success;
            }
            finally
            {
                try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        });
        return command;
    }

    private static void Validate(BenchSettings s)
    {
        void Need(bool ok, string message)
        {
            if (!ok) throw new CliException(message, CliContext.UsageError);
        }
        Need(s.Scale is 2 or 4 or 8, $"--scale must be 2, 4 or 8, got {s.Scale}");
        Need(s.Size >= 1, $"--size must be positive, got {s.Size}");
        Need(s.Repeat >= 1, $"--repeat must be at least 1, got {s.Repeat}");
        Need(s.TrainBatch >= 0, $"--train-batch must be ≥ 0, got {s.TrainBatch}");
        Need(s.Blocks >= 0, $"--blocks must be ≥ 0, got {s.Blocks}");
        if (s.TrainBatch > 0) Need(s.TrainPatch >= 1 && s.TrainPatch % s.Scale == 0, $"--train-patch must be a positive multiple of the scale {s.Scale}, got {s.TrainPatch}");
        CheckSize(s, s.Scale);
    }

    private static void CheckSize(BenchSettings s, int scale)
    {
        if (s.Size % scale != 0)
            throw new CliException($"--size {s.Size} is not a multiple of the scale {scale}", CliContext.UsageError);
    }

    private static void PrintTable(CliContext cli, BenchSettings s, JsonObject ours, JsonObject? torch, int rounds = 1)
    {
        var title = $"{s.Model.ToUpperInvariant()} ×{ours["scale"]}, {s.Size}×{s.Size}, {s.Threads} thread(s), median of {s.Repeat}";
        if (rounds > 1) title += $" per run, median of {rounds} alternating runs";
        if (torch?["torch"] is { } version) title += $", torch {version}";
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title)).AddColumn("");
        table.AddColumn(new TableColumn("mlnet-rescale").RightAligned());
        if (torch is not null)
        {
            table.AddColumn(new TableColumn("PyTorch").RightAligned());
            table.AddColumn(new TableColumn("ours / PyTorch").RightAligned());
        }
        var rows = new List<(string Key, string Label, string Format)>
        {
            ("params", "parameters", "N0"),
            ("forward_s", "forward (s)", "0.0000"),
            ("inverse_s", "inverse (s)", "0.0000"),
        };
        if (s.TrainBatch > 0) rows.Add(("train_step_s", $"train step B={s.TrainBatch} P={s.TrainPatch} (s)", "0.0000"));
        rows.Add(("peak_rss_mib", "peak RSS (MiB)", "0"));
        foreach (var (key, label, format) in rows)
        {
            double? a = Number(ours, key), b = torch is null ? null : Number(torch, key);
            var cells = new List<string> { label, Fmt(a, format) };
            if (torch is not null)
            {
                cells.Add(Fmt(b, format));
                cells.Add(a is { } x && b is { } y && y > 0 ? (x / y).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "–");
            }
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }
        cli.Console.Write(table);
        if (rounds > 1 && torch is not null)
            foreach (var (key, label, _) in rows.Where(row => row.Key.EndsWith("_s", StringComparison.Ordinal)))
                if (ours[key + "_runs"] is JsonArray a && torch[key + "_runs"] is JsonArray b)
                    cli.Out.WriteLine($"{label} per run: ours {Runs(a)}; PyTorch {Runs(b)}");
        if (torch is not null && Number(ours, "params") != Number(torch, "params"))
            cli.Out.WriteLine("warning: parameter counts differ, the two networks are not the same");
    }

    private static void PrintOnnxTable(CliContext cli, JsonObject o)
    {
        int size = (int)Number(o, "size")!, lr = (int)Number(o, "lr_size")!;
        var table = new Table().Border(TableBorder.Rounded).AddColumn("")
            .Title(Markup.Escape($"{o["model"]} ×{o["scale"]}, {o["threads"]} thread(s), median of {o["repeat"]} per round, median of {o["rounds"]} alternating rounds, ONNX Runtime {o["onnxruntime"]}"));
        table.AddColumn(new TableColumn("TorchSharp (s)").RightAligned());
        table.AddColumn(new TableColumn("ONNX Runtime (s)").RightAligned());
        table.AddColumn(new TableColumn("ONNX / TorchSharp").RightAligned());
        foreach (var (key, label) in new[] { ("down", $"downscale {size}² → {lr}²"), ("up", $"upscale {lr}² → {size}²") })
        {
            double t = Number(o, $"torch_{key}_s")!.Value, x = Number(o, $"onnx_{key}_s")!.Value;
            table.AddRow(Markup.Escape(label), t.ToString("0.000", CultureInfo.InvariantCulture), x.ToString("0.000", CultureInfo.InvariantCulture),
                (x / t).ToString("0.00", CultureInfo.InvariantCulture) + "×");
        }
        cli.Console.Write(table);
        foreach (var key in new[] { "torch_down_s", "onnx_down_s", "torch_up_s", "onnx_up_s" })
            if (o[key + "_runs"] is JsonArray runs) cli.Out.WriteLine($"{key[..^2]} per round: {Runs(runs)}");
        cli.Out.WriteLine($"same output: max |TorchSharp − ONNX Runtime| = {Number(o, "torch_vs_onnx_max_abs_lr"):g3} (LR), {Number(o, "torch_vs_onnx_max_abs_hr"):g3} (HR)");
    }

    private static double? Number(JsonObject o, string key) =>
        o[key] is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture)
            : null;

    // One chart per timed measure: every run's seconds, ours against PyTorch's, in the order they ran.
    internal static List<Chart> RunCharts(BenchSettings s, List<JsonObject> ours, List<JsonObject> torch)
    {
        var charts = new List<Chart>();
        var measures = new List<(string Key, string Label)> { ("forward_s", $"forward {s.Size}×{s.Size}"), ("inverse_s", $"inverse {s.Size}×{s.Size}") };
        if (s.TrainBatch > 0) measures.Add(("train_step_s", $"training step, batch {s.TrainBatch} × {s.TrainPatch}²"));
        static IReadOnlyList<(double, double)> Points(List<JsonObject> runs, string key) =>
            runs.Select((run, i) => ((double)(i + 1), Number(run, key) ?? double.NaN)).ToList();
        foreach (var (key, label) in measures)
            charts.Add(new($"{s.Model.ToUpperInvariant()} ×{s.Scale} {label}, {s.Threads} thread(s): seconds per run", "run (alternating)", "seconds",
                [new Series("mlnet-rescale", Points(ours, key), "#1f77b4", Markers: true), new Series("PyTorch", Points(torch, key), "#d62728", Markers: true)]));
        return charts;
    }

    private static string Runs(JsonArray runs) =>
        string.Join(", ", runs.Select(v => v!.GetValue<double>().ToString("0.000", CultureInfo.InvariantCulture)));

    private static string Fmt(double? v, string format) => v is { } d ? d.ToString(format, CultureInfo.InvariantCulture) : "–";
}
