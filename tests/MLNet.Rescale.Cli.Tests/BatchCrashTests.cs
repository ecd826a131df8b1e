using System.Diagnostics;
using MLNet.Rescale.Batch;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Networks;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.Rescale.Cli.Tests;

/// <summary>
/// A batch worker killed with SIGKILL while it writes leaves only complete outputs, and its rerun finishes the shard:
/// the real <c>rescale</c> tool in child processes, given its shard by a Kubernetes Indexed Job's variables.
/// </summary>
public sealed class BatchCrashTests(ITestOutputHelper log) : IDisposable
{
    private const int Images = 48, Shards = 2, Shard = 1;
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private static string RescaleDll => Cli.RescaleDll;

    private static string DotnetHost => Cli.DotnetHost;

    private static Process Start(string[] args, List<string> lines)
    {
        var psi = new ProcessStartInfo(DotnetHost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(RescaleDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        // A Kubernetes Indexed Job's pod: the index from the Job controller, the count from the manifest.
        psi.Environment["JOB_COMPLETION_INDEX"] = Shard.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["RESCALE_SHARD_COUNT"] = Shards.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add("stderr: " + e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static List<string> Outputs(string folder) => !Directory.Exists(folder) ? [] :
        [.. Directory.EnumerateFiles(folder, "*.png", SearchOption.AllDirectories)];

    private static List<string> Temporaries(string folder) => !Directory.Exists(folder) ? [] :
        [.. Directory.EnumerateFiles(folder, ".*.tmp", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })];

    [Fact]
    public void Sigkill_mid_batch_leaves_only_complete_outputs_and_the_rerun_finishes_the_shard()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.True(File.Exists(RescaleDll), $"{RescaleDll} is missing");
        string model = dir.File("irn.safetensors"), input = dir.File("store"), output = dir.File("out");
        using (var gen = new Generator(3))
        using (var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [2] }, gen))
            ModelFile.Save(net, model);
        var source = ImageFile.Read(TestPaths.Image("butterfly.png"));
        var mine = new SortedSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Images; i++)
        {
            string rel = $"{i % 4}/img_{i:D3}.png";
            Directory.CreateDirectory(Path.Combine(input, $"{i % 4}"));
            ImageFile.Write(source.Crop(i * 2, i * 3, 128, 112), Path.Combine(input, rel));
            if (BatchShard.Of(rel, Shards) == Shard) mine.Add(rel);
        }
        Assert.InRange(mine.Count, 10, Images - 10);
        string[] args = ["batch", input, output, "--model", model, "--threads", "1"];

        var counts = new List<int>();
        int temporariesSeen = 0;
        for (int kill = 0; kill < 3; kill++)
        {
            var lines = new List<string>();
            int before = Outputs(output).Count, target = before + 3;
            using var p = Start(args, lines);
            var clock = Stopwatch.StartNew();
            while (Outputs(output).Count < target && !p.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(10);
            bool exitedEarly = p.HasExited;
            p.Kill();
            p.WaitForExit();
            lock (lines) Assert.False(exitedEarly, $"run {kill} ended before it could be killed:\n{string.Join("\n", lines)}");
            temporariesSeen += Temporaries(output).Count;

            // Only this shard's images, each a whole image that decodes at the LR size.
            var outputs = Outputs(output);
            counts.Add(outputs.Count);
            Assert.True(outputs.Count >= target - 1, $"run {kill}: {outputs.Count} outputs after the kill, {before} before");
            foreach (var file in outputs)
            {
                string rel = Path.GetRelativePath(output, file);
                Assert.Contains(rel, mine);
                var lr = ImageFile.Read(file);
                Assert.Equal((64, 56), (lr.Width, lr.Height));
            }
        }
        Assert.True(counts[^1] < mine.Count, "the kills left nothing to finish");

        // A kill inside a write (rare with images this small) leaves a temporary file beside the output: plant one for an
        // image of this shard not yet written and one for another shard's image, whose worker may be writing it now.
        string pending = mine.First(rel => !File.Exists(Path.Combine(output, rel)));
        string ours = Path.Combine(output, Path.GetDirectoryName(pending)!, $".{Path.GetFileName(pending)}.{Guid.NewGuid():N}.tmp");
        string othersRel = $"0/img_{Enumerable.Range(0, Images).First(i => BatchShard.Of($"{i % 4}/img_{i:D3}.png", Shards) != Shard && i % 4 == 0):D3}.png";
        string theirs = Path.Combine(output, "0", $".{Path.GetFileName(othersRel)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(Path.GetDirectoryName(ours)!);
        Directory.CreateDirectory(Path.GetDirectoryName(theirs)!);
        File.WriteAllBytes(ours, File.ReadAllBytes(Path.Combine(input, pending))[..100]);
        File.WriteAllBytes(theirs, [1, 2, 3]);

        // The rerun removes what the killed writes left, skips what is done and writes the rest.
        var final = new List<string>();
        using (var p = Start([.. args, "--report", dir.File("report.jsonl")], final))
        {
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "the rerun did not finish");
            p.WaitForExit();
            lock (final) Assert.True(p.ExitCode == 0, string.Join("\n", final));
        }
        string all = string.Join("\n", final);
        Assert.Contains($"shard {Shard}/{Shards} (from JOB_COMPLETION_INDEX): {mine.Count} of {Images} images", all);
        Assert.Contains($"{mine.Count - counts[^1]} written, {counts[^1]} up to date, 0 failed", all);
        Assert.Equal(mine, new SortedSet<string>(Outputs(output).Select(f => Path.GetRelativePath(output, f)), StringComparer.Ordinal));
        Assert.Equal([theirs], Temporaries(output));
        Assert.Contains("removed 1 temporary files of interrupted writes", all);
        Assert.Equal(mine.Count, File.ReadAllLines(dir.File("report.jsonl")).Length);
        log.WriteLine($"outputs after each of 3 SIGKILLs: {string.Join(", ", counts)} of {mine.Count}; {temporariesSeen} temporary files of killed writes found (removed by the rerun)");
    }
}
