using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLNet.Rescale.Cli.Benchmarking;

/// <summary>Runs shared/bench/torch_reference.py (Debian's python3-torch) with the same settings.</summary>
internal static class TorchReference
{
    public const string DefaultPython = "/usr/bin/python3";

    /// <summary><c>&lt;repo&gt;/../shared/bench/torch_reference.py</c>, the repository found above the tool or the working directory.</summary>
    public static string DefaultScript()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "MLNet.Rescale.sln")))
                    return Path.GetFullPath(Path.Combine(d.FullName, "..", "shared", "bench", "torch_reference.py"));
        return Path.GetFullPath(Path.Combine("..", "shared", "bench", "torch_reference.py"));
    }

    /// <summary>Runs the reference, saving its randomly initialized weights to <paramref name="weightsPath"/>; returns its JSON.</summary>
    public static JsonObject Run(string python, string script, BenchSettings s, string weightsPath)
    {
        if (!File.Exists(python))
            throw new CliException($"{python}: not found; the PyTorch comparison needs Debian's python3 with python3-torch (scripts/install-deps.sh --with-python-torch)", CliContext.NotImplemented);
        if (!File.Exists(script))
            throw new CliException($"{script}: reference script not found (pass --reference PATH to torch_reference.py)", CliContext.NotImplemented);
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        foreach (var (k, v) in new (string, object)[]
        {
            ("--model", s.Model), ("--scale", s.Scale), ("--size", s.Size), ("--threads", s.Threads), ("--repeat", s.Repeat),
            ("--train-batch", s.TrainBatch), ("--train-patch", s.TrainPatch), ("--save-weights", weightsPath),
        })
        {
            psi.ArgumentList.Add(k);
            psi.ArgumentList.Add(Convert.ToString(v, CultureInfo.InvariantCulture)!);
        }
        using var process = Process.Start(psi) ?? throw new CliException($"{python}: could not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        string err = stderr.Result, output = stdout.Result;
        if (process.ExitCode != 0)
        {
            if (err.Contains("No module named 'torch'", StringComparison.Ordinal))
                throw new CliException($"{python}: PyTorch is not installed for this interpreter (apt-get install python3-torch, or scripts/install-deps.sh --with-python-torch)", CliContext.NotImplemented);
            var last = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no output";
            throw new CliException($"{script}: the PyTorch reference failed (exit {process.ExitCode}): {last}");
        }
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'));
        try
        {
            return JsonNode.Parse(line ?? "") as JsonObject ?? throw new CliException($"{script}: no JSON result in its output");
        }
        catch (JsonException e)
        {
            throw new CliException($"{script}: cannot read its JSON result ({e.Message})");
        }
    }
}
