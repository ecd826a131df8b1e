using System.Diagnostics;
using System.Text.Json.Nodes;
using MLNet.Rescale.Batch;
using MLNet.Rescale.Imaging;
using Xunit;

namespace MLNet.Rescale.Tests;

/// <summary>
/// The batch's planning, sharding, skipping and fault handling, with a bicubic stand-in for the network (what the
/// network does to an image is the CLI tests' and the rescaler's business).
/// </summary>
public sealed class ImageBatchTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "rescale-batch-tests-" + Guid.NewGuid().ToString("N"));

    public ImageBatchTests() => Directory.CreateDirectory(root);

    public void Dispose()
    {
        try { Directory.Delete(root, recursive: true); } catch (IOException) { }
    }

    private string In => Path.Combine(root, "in");

    /// <summary>Halves with bicubic (the LR is ⌈W/2⌉×⌈H/2⌉); counts calls.</summary>
    private sealed class BicubicHalver : IBatchRescaler
    {
        public int Calls;
        public int Scale => 2;

        public Task<Image> DownscaleAsync(Image hr, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult(Resize.Bicubic(hr, (hr.Width + 1) / 2, (hr.Height + 1) / 2).Quantize8());
        }

        public Task<Image> UpscaleAsync(Image lr, int width, int height, CancellationToken cancellationToken = default) =>
            Task.FromResult(Resize.Bicubic(lr, width, height));
    }

    private static Image Pattern(int width, int height, int seed)
    {
        var rnd = new Random(seed);
        var image = new Image(width, height, 3);
        for (int i = 0; i < image.Data.Length; i++) image.Data[i] = rnd.Next(256) / 255f;
        return image;
    }

    /// <summary>A store of <paramref name="count"/> tiny images in nested folders, in every format.</summary>
    private List<string> MakeStore(int count)
    {
        string[] extensions = [".png", ".jpg", ".webp", ".bmp"];
        var relative = new List<string>();
        for (int i = 0; i < count; i++)
        {
            string rel = $"{(char)('a' + i % 5)}/{i % 3}/img_{i:D4}{extensions[i % extensions.Length]}";
            string path = Path.Combine(In, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            ImageFile.Write(Pattern(6 + i % 5, 5 + i % 4, i), path);
            relative.Add(rel);
        }
        return relative;
    }

    private BatchPlan Plan(string output, BatchShard? shard = null, ImageFormat? format = null, bool force = false) =>
        ImageBatch.Plan(new BatchOptions { InputFolder = In, OutputFolder = Path.Combine(root, output), Shard = shard ?? BatchShard.All, Format = format, Force = force });

    private static BatchSummary Run(BatchPlan plan, IBatchRescaler? rescaler = null, BatchRunOptions? options = null) =>
        ImageBatch.RunAsync(plan, rescaler ?? new BicubicHalver(), options).GetAwaiter().GetResult();

    private static SortedSet<string> Files(string folder) => new(
        Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')), StringComparer.Ordinal);

    [Fact]
    public void The_shards_of_a_store_together_are_exactly_the_unsharded_run_without_overlap()
    {
        var relative = MakeStore(300);
        var whole = Run(Plan("whole"));
        Assert.Equal(300, whole.Written);
        var expected = Files(Path.Combine(root, "whole"));
        Assert.Equal(new SortedSet<string>(relative, StringComparer.Ordinal), expected);

        foreach (int n in new[] { 1, 2, 3, 7 })
        {
            string output = $"sharded{n}";
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < n; i++)
            {
                var plan = Plan(output, new BatchShard(i, n));
                Assert.Equal(300, plan.StoreImages);
                Assert.All(plan.Items, item => Assert.True(seen.Add(item.RelativePath), $"{item.RelativePath} is in two shards of {n}"));
                if (n > 1) Assert.InRange(plan.Items.Count, 300 / n / 2, 300 / n * 2);
                var summary = Run(plan);
                Assert.Equal(plan.Items.Count, summary.Written);
                Assert.Equal(0, summary.UpToDate);
            }
            Assert.Equal(expected, Files(Path.Combine(root, output)));
            // Each output is the one the unsharded run wrote.
            foreach (var rel in expected)
                Assert.Equal(File.ReadAllBytes(Path.Combine(root, "whole", rel)), File.ReadAllBytes(Path.Combine(root, output, rel)));
        }
    }

    [Fact]
    public void A_rerun_skips_up_to_date_outputs_and_redoes_changed_inputs_truncated_outputs_and_forced_ones()
    {
        MakeStore(12);
        var first = Run(Plan("out"));
        Assert.Equal(12, first.Written);

        var counting = new BicubicHalver();
        var again = Run(Plan("out"), counting);
        Assert.Equal((0, 12, 0), (again.Written, again.UpToDate, again.Failed));
        Assert.Equal(0, counting.Calls);

        var items = Plan("out").Items;
        // An input changed after its output was written, and an output cut short (not by us: our writes are atomic).
        File.SetLastWriteTimeUtc(items[0].InputPath, File.GetLastWriteTimeUtc(items[0].OutputPath).AddMinutes(1));
        foreach (var cut in items.Skip(1).Take(4))
        {
            var bytes = File.ReadAllBytes(cut.OutputPath);
            File.WriteAllBytes(cut.OutputPath, bytes[..(bytes.Length - 3)]);
            Assert.False(ImageBatch.IsComplete(cut.OutputPath), cut.OutputPath);
        }
        Assert.All(items.Skip(5), item => Assert.True(ImageBatch.IsComplete(item.OutputPath), item.OutputPath));
        var plan = Plan("out");
        Assert.Equal(5, plan.Pending);
        Assert.Equal(items.Take(5).Select(i => i.RelativePath), plan.Items.Where(i => !i.UpToDate).Select(i => i.RelativePath));
        var repaired = Run(plan);
        Assert.Equal((5, 7), (repaired.Written, repaired.UpToDate));
        Assert.All(items, item => Assert.True(ImageBatch.IsComplete(item.OutputPath), item.OutputPath));

        var forced = Run(Plan("out", force: true));
        Assert.Equal((12, 0), (forced.Written, forced.UpToDate));
    }

    [Fact]
    public void A_corrupt_input_is_reported_and_the_others_are_written()
    {
        MakeStore(6);
        File.WriteAllBytes(Path.Combine(In, "a", "broken.png"), [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 1, 2, 3]);
        File.WriteAllText(Path.Combine(In, "b", "text.jpg"), "not an image");
        File.WriteAllBytes(Path.Combine(In, "empty.webp"), []);
        var results = new List<BatchItemResult>();
        var summary = Run(Plan("out"), options: new BatchRunOptions { Completed = results.Add, Workers = 2 });
        Assert.Equal(6, summary.Written);
        Assert.Equal(3, summary.Failed);
        Assert.Equal(9, results.Count);
        foreach (var f in summary.Failures)
        {
            Assert.Equal(BatchStatus.Failed, f.Status);
            Assert.StartsWith(f.Input + ": ", f.Error);
            Assert.False(File.Exists(f.Output), f.Output);
        }
        Assert.Contains(summary.Failures, f => f.Input.EndsWith("empty.webp", StringComparison.Ordinal) && f.Error!.Contains("empty"));
    }

    [Fact]
    public void Results_make_manifest_lines_with_sizes_psnr_and_status()
    {
        MakeStore(3);
        File.WriteAllText(Path.Combine(In, "bad.png"), "x");
        string report = Path.Combine(root, "reports", "r.jsonl");
        using (var writer = new BatchReportWriter(report))
        {
            Run(Plan("out"), options: new BatchRunOptions { Psnr = true, Completed = writer.Write });
            Assert.False(File.Exists(report), "the manifest appears only when complete");
            writer.Complete();
        }
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(report)!, ".*.tmp"));
        var lines = File.ReadAllLines(report).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(4, lines.Count);
        var written = lines.Where(l => (string?)l["status"] == "written").ToList();
        Assert.Equal(3, written.Count);
        foreach (var line in written)
        {
            int w = (int)line["width"]!, h = (int)line["height"]!;
            Assert.Equal(((w + 1) / 2, (h + 1) / 2), ((int)line["lr_width"]!, (int)line["lr_height"]!));
            Assert.Equal(new FileInfo((string)line["output"]!).Length, (long)line["output_bytes"]!);
            Assert.Equal(new FileInfo((string)line["input"]!).Length, (long)line["input_bytes"]!);
            Assert.InRange((double)line["psnr_y"]!, 5, 100);
            Assert.Null(line["error"]);
        }
        var failed = Assert.Single(lines, l => (string?)l["status"] == "failed");
        Assert.Contains("bad.png", (string)failed["error"]!);
        Assert.Null(failed["psnr_y"]);

        // A rerun lists the skipped images as up to date, with their output sizes.
        var rerun = new List<BatchItemResult>();
        Run(Plan("out"), options: new BatchRunOptions { Completed = rerun.Add });
        Assert.Equal(3, rerun.Count(r => r.Status == BatchStatus.UpToDate && r.OutputBytes > 0));
        Assert.Contains("\"status\":\"up-to-date\"", rerun[0].ToJson());
    }

    [Fact]
    public void Output_format_changes_extensions_and_inputs_that_would_share_an_output_are_reported()
    {
        Directory.CreateDirectory(In);
        ImageFile.Write(Pattern(8, 8, 1), Path.Combine(In, "x.png"));
        ImageFile.Write(Pattern(8, 8, 2), Path.Combine(In, "x.jpg"));
        ImageFile.Write(Pattern(8, 8, 3), Path.Combine(In, "y.bmp"));
        File.WriteAllText(Path.Combine(In, "notes.txt"), "not an image");
        File.WriteAllText(Path.Combine(In, ".hidden.png"), "skipped");
        var summary = Run(Plan("out", format: ImageFormat.Webp));
        Assert.Equal(new SortedSet<string>(["x.webp", "y.webp"], StringComparer.Ordinal), Files(Path.Combine(root, "out")));
        Assert.Equal(ImageFormat.Webp, ImageFile.DetectFormat(File.ReadAllBytes(Path.Combine(root, "out", "x.webp"))));
        var conflict = Assert.Single(summary.Failures);
        Assert.EndsWith("x.png", conflict.Input);
        Assert.Contains("x.jpg", conflict.Error);
    }

    [Fact]
    public void Folders_that_overlap_or_do_not_exist_are_refused_naming_them()
    {
        MakeStore(2);
        Assert.Contains("does not exist", Assert.Throws<DirectoryNotFoundException>(() =>
            ImageBatch.Plan(new BatchOptions { InputFolder = Path.Combine(root, "nope"), OutputFolder = Path.Combine(root, "o") })).Message);
        Assert.Contains("must differ", Assert.Throws<ArgumentException>(() =>
            ImageBatch.Plan(new BatchOptions { InputFolder = In, OutputFolder = In + "/" })).Message);
        Assert.Contains("inside one another", Assert.Throws<ArgumentException>(() =>
            ImageBatch.Plan(new BatchOptions { InputFolder = In, OutputFolder = Path.Combine(In, "lr") })).Message);
        Assert.Contains("inside one another", Assert.Throws<ArgumentException>(() =>
            ImageBatch.Plan(new BatchOptions { InputFolder = In, OutputFolder = root })).Message);
    }

    [Fact]
    public void An_output_that_cannot_be_written_stops_the_run_naming_it()
    {
        var relative = MakeStore(8);
        string output = Path.Combine(root, "out");
        // A file where the first image's output folder must be.
        string blocked = Path.Combine(output, relative.Order(StringComparer.Ordinal).First().Split('/')[0]);
        Directory.CreateDirectory(output);
        File.WriteAllText(blocked, "in the way");
        var e = Assert.Throws<BatchOutputException>(() => Run(Plan("out")));
        Assert.StartsWith(blocked + "/", e.Path);
        Assert.StartsWith($"{e.Path}: cannot write the output: ", e.Message);
        Assert.Empty(Directory.EnumerateFiles(output, ".*.tmp", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }));
    }

    [FactNeedsTmpfs]
    public void A_full_disk_stops_the_run_with_one_error_naming_the_output()
    {
        MakeStore(4);
        ImageFile.Write(Pattern(400, 400, 9), Path.Combine(In, "big.png"));
        string output = Path.Combine(root, "full");
        Directory.CreateDirectory(output);
        Assert.True(Mount($"-t tmpfs -o size=64k tmpfs {output}"), "mount failed");
        try
        {
            var e = Assert.Throws<BatchOutputException>(() => Run(Plan("full")));
            Assert.Contains("no space left", e.Message);
            Assert.StartsWith(output + "/", e.Path);
            // Nothing partial: every output present is complete, and no temporary file is left.
            Assert.All(Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories), f => Assert.True(ImageBatch.IsComplete(f), f));
            Assert.Empty(Directory.EnumerateFiles(output, ".*.tmp", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }));
        }
        finally
        {
            Mount($"-l {output}", "umount");
        }
    }

    internal static bool Mount(string arguments, string command = "mount")
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    [Fact]
    public void Stale_temporary_files_are_removed_only_for_this_shards_outputs()
    {
        var relative = MakeStore(40);
        string output = Path.Combine(root, "out");
        var owner = relative.ToDictionary(r => r, r => BatchShard.Of(r, 2));
        var temporaries = new Dictionary<string, string>();
        foreach (var rel in relative)
        {
            string outPath = Path.Combine(output, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
            string tmp = Path.Combine(Path.GetDirectoryName(outPath)!, $".{Path.GetFileName(outPath)}.{Guid.NewGuid():N}.tmp");
            File.WriteAllText(tmp, "half");
            temporaries[rel] = tmp;
        }
        string unrelated = Path.Combine(output, ".something-else.tmp");
        File.WriteAllText(unrelated, "not ours");

        int removed = ImageBatch.RemoveStaleTemporaryFiles(Plan("out", new BatchShard(0, 2)));
        Assert.Equal(owner.Count(o => o.Value == 0), removed);
        foreach (var (rel, tmp) in temporaries) Assert.Equal(owner[rel] == 1, File.Exists(tmp));
        Assert.Equal(owner.Count(o => o.Value == 1), ImageBatch.RemoveStaleTemporaryFiles(Plan("out", new BatchShard(1, 2))));
        Assert.True(File.Exists(unrelated));
    }
}

/// <summary>A fact that needs to mount a tmpfs (root on Linux, with the right to mount); skipped, saying why, elsewhere.</summary>
public sealed class FactNeedsTmpfsAttribute : FactAttribute
{
    private static readonly string? Reason = Probe();

    public FactNeedsTmpfsAttribute()
    {
        if (Reason is not null) Skip = Reason;
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux()) return "needs Linux (a tmpfs mount stands for a full disk)";
        if (Environment.UserName != "root") return "needs root to mount a small tmpfs (standing for a full disk)";
        string dir = Directory.CreateTempSubdirectory("rescale-tmpfs-probe").FullName;
        try
        {
            if (!ImageBatchTests.Mount($"-t tmpfs -o size=16k tmpfs {dir}")) return "cannot mount a tmpfs here (standing for a full disk)";
            ImageBatchTests.Mount($"-l {dir}", "umount");
            return null;
        }
        finally
        {
            try { Directory.Delete(dir); } catch (IOException) { }
        }
    }
}
