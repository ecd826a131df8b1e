using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

// Micro-benchmarks of the libtorch-backed tensor layer.
//   dotnet run -c Release --project bench/MLNet.Rescale.Bench [-- --json] [--calls N] [--iters N] [--warmup N] [--threads N] [--no-python]
// (1) interop overhead: ns per call of a one-P/Invoke call (numel()) and of a tiny op (x + 1.0 on a
//     1-element tensor, including creating and disposing the result through a dispose scope);
// (2) conv2d 3x3 64→64 on 1x64x256x256, padding 1: forward, and forward + backward of sum with input and
//     weight requiring grad; median of N after warm-up; then the same op in PyTorch (bench/conv_reference.py
//     under /usr/bin/python3) and the ratio.

var opts = Options.Parse(args);
var inv = CultureInfo.InvariantCulture;
set_num_threads(opts.Threads);
var results = new JsonObject
{
    ["threads"] = get_num_threads(),
    ["processors"] = Environment.ProcessorCount,
    ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
};

// ---- (1) interop overhead --------------------------------------------------------------------------
using (var one = ones(1).DetachFromDisposeScope())
{
    // numel(): one P/Invoke (SafeHandle add-ref/release around the call), no allocation.
    long sink = 0;
    for (int i = 0; i < 200_000; i++) sink += one.numel();
    double numelNs = MedianOf(5, () =>
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < opts.Calls; i++) sink += one.numel();
        return sw.Elapsed.TotalNanoseconds / opts.Calls;
    });
    if (sink == 42) Console.Write(""); // keep the loop

    // x + 1.0: one P/Invoke for the op, a native at::Tensor + managed wrapper for the result, its registration in
    // the scope, and its disposal (a second P/Invoke) when the scope closes every 1,000 ops.
    const int batch = 1000;
    void TinyOps(int n)
    {
        for (int done = 0; done < n; done += batch)
        {
            using var scope = NewDisposeScope();
            for (int i = 0; i < batch; i++) _ = one + 1.0;
        }
    }
    TinyOps(200_000);
    double addNs = MedianOf(5, () =>
    {
        var sw = Stopwatch.StartNew();
        TinyOps(opts.Calls);
        return sw.Elapsed.TotalNanoseconds / opts.Calls;
    });

    // The same op disposed explicitly, without any scope.
    void Unscoped(int n)
    {
        for (int i = 0; i < n; i++)
        {
            using var r = one + 1.0;
        }
    }
    Unscoped(200_000);
    double addUnscopedNs = MedianOf(5, () =>
    {
        var sw = Stopwatch.StartNew();
        Unscoped(opts.Calls);
        return sw.Elapsed.TotalNanoseconds / opts.Calls;
    });

    results["numel_ns_per_call"] = numelNs;
    results["tiny_add_scoped_ns_per_op"] = addNs;
    results["tiny_add_unscoped_ns_per_op"] = addUnscopedNs;
    results["calls"] = opts.Calls;
}

// ---- (2) conv2d forward + backward -------------------------------------------------------------------
using (var g = new Generator(0))
using (var x = randn([1, 64, 256, 256], generator: g).DetachFromDisposeScope().requires_grad_())
using (var w = (randn([64, 64, 3, 3], generator: g) * 0.05).DetachFromDisposeScope().requires_grad_())
{
    void Forward()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        _ = nn.functional.conv2d(x, w, padding: [1, 1]);
    }
    void ForwardBackward()
    {
        x.grad?.zero_();
        w.grad?.zero_();
        using var scope = NewDisposeScope();
        nn.functional.conv2d(x, w, padding: [1, 1]).sum().backward();
    }
    var (fwd, fwdMin) = TimeMs(Forward, opts.Warmup, opts.Iters);
    var (fb, fbMin) = TimeMs(ForwardBackward, opts.Warmup, opts.Iters);
    results["conv_forward_ms_median"] = fwd;
    results["conv_forward_ms_min"] = fwdMin;
    results["conv_fwd_bwd_ms_median"] = fb;
    results["conv_fwd_bwd_ms_min"] = fbMin;
}

JsonObject? py = null;
if (opts.Python) py = RunPython(opts);
if (py is not null)
{
    results["pytorch"] = py;
    results["ratio_conv_forward"] = (double)results["conv_forward_ms_median"]! / (double)py["conv_forward_ms_median"]!;
    results["ratio_conv_fwd_bwd"] = (double)results["conv_fwd_bwd_ms_median"]! / (double)py["conv_fwd_bwd_ms_median"]!;
}

if (opts.Json)
{
    Console.WriteLine(results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    return 0;
}

Console.WriteLine($"MLNet.Rescale.Bench — {results["runtime"]}, {get_num_threads()} libtorch threads, {Environment.ProcessorCount} processors");
Console.WriteLine();
Console.WriteLine($"{"interop (1-element tensor)",-44} {"ns/op",12}");
Console.WriteLine(new string('-', 57));
Row("t.numel() (one P/Invoke)", (double)results["numel_ns_per_call"]!);
Row("x + 1.0, result in a scope (alloc + free)", (double)results["tiny_add_scoped_ns_per_op"]!);
Row("x + 1.0, result disposed by `using`", (double)results["tiny_add_unscoped_ns_per_op"]!);
if (py is not null) Row("PyTorch (python) x + 1.0, for reference", (double)py["tiny_add_ns_per_op"]!);
Console.WriteLine();
Console.WriteLine($"conv2d 3x3 64→64, 1x64x256x256, pad 1 (median of {opts.Iters} after {opts.Warmup} warm-up, ms)");
Console.WriteLine($"{"",-22} {"ours",10} {"PyTorch",10} {"ratio",8}");
Console.WriteLine(new string('-', 53));
ConvRow("forward", "conv_forward_ms_median", "ratio_conv_forward");
ConvRow("forward + backward", "conv_fwd_bwd_ms_median", "ratio_conv_fwd_bwd");
if (py is not null) Console.WriteLine($"\nPyTorch {py["torch_version"]} via /usr/bin/python3, {py["threads"]} threads");
return 0;

void Row(string name, double ns) => Console.WriteLine($"{name,-44} {ns.ToString("F1", inv),12}");

void ConvRow(string name, string key, string ratioKey)
{
    double ours = (double)results[key]!;
    string theirs = py is null ? "n/a" : ((double)py[key]!).ToString("F1", inv);
    string ratio = py is null ? "n/a" : ((double)results[ratioKey]!).ToString("F3", inv);
    Console.WriteLine($"{name,-22} {ours.ToString("F1", inv),10} {theirs,10} {ratio,8}");
}

static double MedianOf(int n, Func<double> run)
{
    var v = Enumerable.Range(0, n).Select(_ => run()).Order().ToArray();
    return v[v.Length / 2];
}

static (double Median, double Min) TimeMs(Action run, int warmup, int iters)
{
    for (int i = 0; i < warmup; i++) run();
    var t = new double[iters];
    for (int i = 0; i < iters; i++)
    {
        var sw = Stopwatch.StartNew();
        run();
        t[i] = sw.Elapsed.TotalMilliseconds;
    }
    Array.Sort(t);
    double median = iters % 2 == 1 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2;
    return (median, t[0]);
}

static JsonObject? RunPython(Options o)
{
    var script = Path.Combine(AppContext.BaseDirectory, "conv_reference.py");
    if (!File.Exists("/usr/bin/python3") || !File.Exists(script))
    {
        Console.Error.WriteLine("PyTorch reference skipped: /usr/bin/python3 or conv_reference.py not found");
        return null;
    }
    var psi = new ProcessStartInfo("/usr/bin/python3")
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        UseShellExecute = false,
    };
    foreach (var a in new[] { script, "--threads", o.Threads.ToString(CultureInfo.InvariantCulture), "--warmup",
                 o.Warmup.ToString(CultureInfo.InvariantCulture), "--iters", o.Iters.ToString(CultureInfo.InvariantCulture),
                 "--tiny-calls", o.Calls.ToString(CultureInfo.InvariantCulture) })
        psi.ArgumentList.Add(a);
    // The interpreter must see Debian's python3-torch, not a user site or virtualenv.
    psi.Environment.Remove("PYTHONPATH");
    psi.Environment.Remove("PYTHONHOME");
    using var p = Process.Start(psi)!;
    var stderr = p.StandardError.ReadToEndAsync();
    var stdout = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0)
    {
        Console.Error.WriteLine($"PyTorch reference failed ({p.ExitCode}): {stderr.Result}");
        return null;
    }
    return JsonNode.Parse(stdout.Trim().Split('\n').Last())!.AsObject();
}

internal sealed record Options(bool Json, int Calls, int Iters, int Warmup, int Threads, bool Python)
{
    public static Options Parse(string[] args)
    {
        var o = new Options(false, 1_000_000, 10, 3, 2, true);
        for (int i = 0; i < args.Length; i++)
        {
            int Next() => int.Parse(args[++i], CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--json" => o with { Json = true },
                "--calls" => o with { Calls = Next() },
                "--iters" => o with { Iters = Next() },
                "--warmup" => o with { Warmup = Next() },
                "--threads" => o with { Threads = Next() },
                "--no-python" => o with { Python = false },
                _ => throw new ArgumentException($"unknown argument {args[i]}; use --json --calls N --iters N --warmup N --threads N --no-python"),
            };
        }
        return o;
    }
}
