using System.Diagnostics;
using System.Text.Json.Nodes;
using MLNet.Rescale.IO;
using MLNet.Rescale.Tests.Shared;
using Xunit;
using Xunit.Abstractions;

namespace MLNet.Rescale.Cli.Tests;

/// <summary>
/// A training run killed with SIGKILL at random moments (with a checkpoint written every iteration, so many kills
/// land inside a checkpoint write) must always leave a loadable checkpoint and model, and <c>--resume</c> must go on
/// from that checkpoint. Runs the real <c>rescale</c> tool in child processes.
/// </summary>
public sealed class CrashSafetyTests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 15;
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private static string RescaleDll => Cli.RescaleDll;

    private static string DotnetHost => Cli.DotnetHost;

    private static Process Start(IEnumerable<string> args, List<string> lines, ManualResetEventSlim training)
    {
        var psi = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(RescaleDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (lines) lines.Add(e.Data);
            if (e.Data.StartsWith("training ", StringComparison.Ordinal)) training.Set();
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add("stderr: " + e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>The iteration the checkpoint holds, after checking that it and the model file load completely.</summary>
    private static long CheckRunFolder(string run)
    {
        var ckpt = SafetensorsFile.Read(Path.Combine(run, "checkpoint.safetensors"));
        Assert.Contains(ckpt.Entries, e => e.Name.StartsWith("model.", StringComparison.Ordinal));
        Assert.Contains(ckpt.Entries, e => e.Name.StartsWith("optim.", StringComparison.Ordinal));
        using (var scope = TorchSharp.torch.NewDisposeScope())
            foreach (var e in ckpt.Entries) ckpt.Load(e.Name);
        using (ModelFile.Load(Path.Combine(run, "model.safetensors"))) { }
        Assert.NotNull(JsonNode.Parse(File.ReadAllText(Path.Combine(run, "options.json"))));
        return long.Parse(ckpt.Metadata["iteration"], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Sigkill_during_checkpoint_writes_always_leaves_a_resumable_run()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.True(File.Exists(RescaleDll), $"{RescaleDll} is missing");
        string data = Directory.CreateDirectory(dir.File("data")).FullName;
        File.Copy(TestPaths.Image("butterfly.png"), Path.Combine(data, "butterfly.png"));
        File.Copy(TestPaths.Image("bird.png"), Path.Combine(data, "bird.png"));
        string run = dir.File("run");
        string[] common = ["train", "--scale", "2", "--data", data, "--out", run, "--blocks", "1", "--batch", "1", "--patch", "16",
            "--threads", "1", "--checkpoint-every", "1", "--validate-every", "0"];
        var rnd = new Random(9);
        var iterations = new List<long>();
        int tempFilesSeen = 0;
        for (int k = 0; k < Kills; k++)
        {
            var lines = new List<string>();
            using var training = new ManualResetEventSlim();
            using var p = Start([.. common, "--iterations", "1000000", .. (k == 0 ? Array.Empty<string>() : ["--resume"])], lines, training);
            bool started = training.Wait(TimeSpan.FromMinutes(2));
            if (started && k > 0)
            {
                // The resumed run starts from the checkpoint the last kill left.
                string? from;
                lock (lines) from = lines.FirstOrDefault(l => l.StartsWith("training ", StringComparison.Ordinal));
                Assert.Contains($"from iteration {iterations[^1]} ", from);
            }
            // Let it write some checkpoints (one per iteration), then kill it wherever it is.
            if (started && k == 0)
                for (int wait = 0; wait < 1200 && !File.Exists(Path.Combine(run, "checkpoint.safetensors")) && !p.HasExited; wait++) Thread.Sleep(100);
            if (started) Thread.Sleep(100 + rnd.Next(900));
            bool exitedEarly = p.HasExited;
            p.Kill();
            p.WaitForExit();
            lock (lines) Assert.True(started && !exitedEarly, $"run {k} did not train:\n{string.Join("\n", lines)}");
            tempFilesSeen += Directory.EnumerateFiles(run, ".*.tmp").Count();
            iterations.Add(CheckRunFolder(run));
            if (k > 0) Assert.True(iterations[^1] >= iterations[^2], $"checkpoint went back from {iterations[^2]} to {iterations[^1]}");
        }

        // A final resume runs to a budget a few iterations past the last checkpoint and ends normally.
        long target = iterations[^1] + 3;
        var final = new List<string>();
        using (var done = new ManualResetEventSlim())
        using (var p = Start([.. common, "--iterations", target.ToString(System.Globalization.CultureInfo.InvariantCulture), "--resume"], final, done))
        {
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "the final resume did not finish");
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, string.Join("\n", final));
        }
        Assert.Contains(final, l => l.Contains($"from iteration {iterations[^1]} ", StringComparison.Ordinal));
        Assert.Contains(final, l => l.Contains($"stopped at iteration {target}", StringComparison.Ordinal));
        Assert.Equal(target, CheckRunFolder(run));
        // The resumed run cleared the temporary files of the killed writes, and the log has one row per logged iteration.
        Assert.Empty(Directory.EnumerateFiles(run, ".*.tmp"));
        var logged = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["iteration"]!.GetValue<long>()).ToList();
        Assert.Equal(logged.Distinct().OrderBy(i => i), logged);
        output.WriteLine($"{Kills} SIGKILLs; checkpoints after each: {string.Join(", ", iterations)}; final {target}; "
            + $"{tempFilesSeen} half-written temporary files found after kills (kills inside a checkpoint write)");
        Assert.True(iterations[^1] > iterations[0], "resuming made no progress");
    }
}
