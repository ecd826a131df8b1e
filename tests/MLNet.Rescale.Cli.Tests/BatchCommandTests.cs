using System.Text.Json.Nodes;
using MLNet.Rescale.Batch;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Networks;
using static TorchSharp.torch;

namespace MLNet.Rescale.Cli.Tests;

/// <summary><c>rescale batch</c> end to end, in-process, on small generated images and a small random-weight network.</summary>
public sealed class BatchCommandTests : IDisposable
{
    private readonly TempDir dir = new();
    private readonly string model;
    private readonly string input;
    private readonly List<string> relative = [];

    public BatchCommandTests()
    {
        model = dir.File("irn_x2_b1.safetensors");
        using (var gen = new Generator(7))
        using (var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1] }, gen))
            ModelFile.Save(net, model);
        input = dir.File("store");
        // Crops of a fixture in nested folders, some of odd sizes, in three formats.
        var source = ImageFile.Read(TestPaths.Image("butterfly.png"));
        string[] names = ["a.png", "b.jpg", "sub/c.png", "sub/d.webp", "sub/deeper/e.png", "sub/deeper/f.jpg", "g.png", "h.png"];
        for (int i = 0; i < names.Length; i++)
        {
            string path = Path.Combine(input, names[i]);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            ImageFile.Write(source.Crop(i * 17, i * 11, 24 + i * 3, 20 + i * 2), path);
            relative.Add(names[i]);
        }
    }

    public void Dispose() => dir.Dispose();

    private CliRun Batch(string output, params string[] more) =>
        Cli.Run(["batch", input, output, "--model", model, "--threads", "1", .. more]);

    private static SortedSet<string> Files(string folder) => new(
        Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(f => Path.GetRelativePath(folder, f)), StringComparer.Ordinal);

    [Fact]
    public void Batch_mirrors_the_tree_writes_a_manifest_and_a_rerun_skips_everything()
    {
        string output = dir.File("out"), report = dir.File("report.jsonl");
        var run = Batch(output, "--report", report, "--psnr", "--gaussian-scale", "0", "--workers", "2");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(new SortedSet<string>(relative, StringComparer.Ordinal), Files(output));
        foreach (var rel in relative)
        {
            var hr = ImageFile.Read(Path.Combine(input, rel));
            var lr = ImageFile.Read(Path.Combine(output, rel));
            Assert.Equal(((hr.Width + 1) / 2, (hr.Height + 1) / 2), (lr.Width, lr.Height));
            Assert.Equal(ImageFile.FormatFromExtension(rel), ImageFile.DetectFormat(File.ReadAllBytes(Path.Combine(output, rel))));
        }
        Assert.Contains("8 written, 0 up to date, 0 failed", run.Out);
        Assert.Contains("round-trip Y-PSNR mean", run.Out);
        var lines = File.ReadAllLines(report).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(8, lines.Count);
        Assert.All(lines, l =>
        {
            Assert.Equal("written", (string?)l["status"]);
            // A fresh IRN is a near-identity coupling on Haar: with z = 0 it round-trips reasonably.
            Assert.True((double)l["psnr_y"]! > 20, l.ToJsonString());
            Assert.True((double)l["seconds"]! >= 0);
            Assert.True(File.Exists((string)l["output"]!));
        });

        var rerun = Batch(output, "--report", report);
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Contains("0 written, 8 up to date, 0 failed", rerun.Out);
        Assert.All(File.ReadAllLines(report), l => Assert.Equal("up-to-date", (string?)JsonNode.Parse(l)!["status"]));

        var forced = Batch(output, "--force", "--format", "webp", "--quality", "70");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.Contains("8 written", forced.Out);
        Assert.True(File.Exists(Path.Combine(output, "sub", "deeper", "f.webp")));
    }

    [Fact]
    public void Three_shards_together_write_exactly_what_one_unsharded_run_writes()
    {
        string whole = dir.File("whole"), sharded = dir.File("sharded");
        Assert.Equal(0, Batch(whole).ExitCode);
        var counts = new List<int>();
        for (int i = 0; i < 3; i++)
        {
            var run = Batch(sharded, "--shard", $"{i}/3");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains($"shard {i}/3: ", run.Out);
            counts.Add(relative.Count(r => BatchShard.Of(r, 3) == i));
            Assert.Contains($"{counts[^1]} of 8 images", run.Out);
        }
        Assert.Equal(8, counts.Sum());
        Assert.Equal(Files(whole), Files(sharded));
        foreach (var rel in relative)
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, rel)), File.ReadAllBytes(Path.Combine(sharded, rel)));
    }

    [Fact]
    public void A_corrupt_input_is_listed_and_the_rest_written_with_exit_code_3()
    {
        File.WriteAllText(Path.Combine(input, "sub", "broken.png"), "this is not a PNG");
        string output = dir.File("out"), report = dir.File("r.jsonl");
        var run = Batch(output, "--report", report);
        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Contains("8 written, 0 up to date, 1 failed", run.Out);
        Assert.Contains($"failed: {Path.Combine(input, "sub", "broken.png")}: not a PNG, JPEG, WebP or BMP file", run.Out);
        Assert.False(File.Exists(Path.Combine(output, "sub", "broken.png")));
        var failed = Assert.Single(File.ReadAllLines(report), l => l.Contains("\"failed\"", StringComparison.Ordinal));
        Assert.Contains("broken.png", failed);
    }

    [Fact]
    public void An_unwritable_output_is_one_error_naming_the_path()
    {
        string output = dir.File("out");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "sub"), "a file where a folder must be");
        var run = Batch(output);
        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(run.ErrLines);
        Assert.StartsWith($"rescale: error: {Path.Combine(output, "sub")}/", line);
        Assert.Contains("cannot write the output", line);

        File.WriteAllText(dir.File("file"), "not a folder");
        run = Batch(dir.File("file"));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("the output folder is a file", Assert.Single(run.ErrLines));
    }

    [Theory]
    [InlineData(new[] { "--shard", "3/3" }, "--shard: shard index must be below the count")]
    [InlineData(new[] { "--shard", "x" }, "--shard: shard must be I/N")]
    [InlineData(new[] { "--shard", "0/2", "--shard-count", "2" }, "--shard I/N already gives the count")]
    [InlineData(new[] { "--shard-count", "2" }, "--shard-count needs an index")]
    [InlineData(new[] { "--format", "gif" }, "--format must be png, jpeg, webp or bmp")]
    [InlineData(new[] { "--quality", "0" }, "--quality must be in 1..100")]
    [InlineData(new[] { "--workers", "0" }, "--workers must be at least 1")]
    [InlineData(new[] { "--collaborative", "--hcd-recipe", "fast" }, "--hcd-recipe must be paper or serving")]
    public void Bad_options_are_usage_errors_saying_what_is_wrong(string[] options, string message)
    {
        var run = Batch(dir.File("out"), options);
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(message, Assert.Single(run.ErrLines));
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void A_missing_model_or_input_folder_is_one_error_naming_it()
    {
        var run = Cli.Run("batch", input, dir.File("out"), "--model", dir.File("nope.safetensors"));
        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"rescale: error: {dir.File("nope.safetensors")}: no such file", Assert.Single(run.ErrLines));
        run = Cli.Run("batch", dir.File("nothing"), dir.File("out"), "--model", model);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(dir.File("nothing"), Assert.Single(run.ErrLines));
    }

    [Fact]
    public void Collaborative_batch_runs_hcd_within_a_budget()
    {
        string output = dir.File("hcd");
        var run = Batch(output, "--collaborative", "--hcd-recipe", "serving", "--hcd-budget", "30", "--psnr");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("HCD ", run.Out);
        Assert.Contains("budget 30 s/MP", run.Out);
        Assert.Equal(new SortedSet<string>(relative, StringComparer.Ordinal), Files(output));
    }
}
