using System.Diagnostics;
using System.Text.Json.Nodes;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Rescaling;
using MLNet.Rescale.Tensors;
using MLNet.Rescale.Training;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// Issue 7's "done when", at test size: LoadImages → InvertibleDownscaler(SAIN) → CollaborativeLrOptimizer →
/// CompressImages(JPEG 75) → CompressionAwareUpscaler → Evaluate fits, saves, and a NEW PROCESS (the built
/// <c>rescale pipeline</c>) loading the zip measures the same metrics. The README runs it on T91 and Set5.
/// </summary>
[Collection(SmallImagesCollection.Name)]
public sealed class PipelineEndToEndTests(SmallImages small)
{
    [Fact]
    public void The_SAIN_HCD_JPEG_pipeline_gives_the_same_metrics_in_a_new_process()
    {
        var ml = new RescaleContext(seed: 1);
        var pipeline = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Rescaling.InvertibleDownscaler(new InvertibleDownscaler.Options
            {
                Architecture = TrainingArchitecture.Sain, Scale = 2, Blocks = 1, VanillaBlocks = 1, Codec = "jpeg:75",
                Iterations = 2, BatchSize = 2, PatchSize = 32,
            }))
            .Append(ml.Rescaling.CollaborativeLrOptimizer(new() { HrIterations = 1, LrIterations = 1, Codec = "jpeg:75" }))
            .Append(ml.Transforms.CompressImages("LR", ImageFormat.Jpeg, 75))
            .Append(ml.Rescaling.CompressionAwareUpscaler());
        var data = ml.Data.LoadFromDirectory(small.Folder);
        var model = pipeline.Fit(data);
        var metrics = ml.Rescaling.Evaluate(model.Transform(data));
        Assert.Equal(2, metrics.PerImage.Count);
        Assert.All(metrics.PerImage, m => Assert.InRange(m.PsnrY, 5, 60));

        string zip = small.TempFile("sain-hcd-jpeg75.zip");
        ml.Model.Save(model, data.Schema, zip);
        var (exit, stdout, stderr) = RunCli("pipeline", zip, "--data", small.Folder, "--json", "--threads", Torch.NumThreads.ToString());
        Assert.True(exit == 0, $"rescale pipeline exited {exit}: {stderr}");
        var json = JsonNode.Parse(stdout)!;
        var images = json["images"]!.AsArray();
        Assert.Equal(["bird", "butterfly"], images.Select(i => i!["name"]!.GetValue<string>()));
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(metrics.PerImage[i].PsnrY, images[i]!["psnr_y"]!.GetValue<double>(), 9);
            Assert.Equal(metrics.PerImage[i].SsimY, images[i]!["ssim_y"]!.GetValue<double>(), 9);
        }
        Assert.Equal(metrics.PsnrY, json["psnr_y"]!.GetValue<double>(), 9);
        Assert.Equal(2, json["crop_border"]!.GetValue<int>());

        // A foreign file is one error line naming it, exit 1.
        var bad = small.TempFile("bad.zip");
        File.WriteAllText(bad, "not a model");
        var (badExit, _, badErr) = RunCli("pipeline", bad, "--data", small.Folder);
        Assert.Equal(1, badExit);
        Assert.Contains(bad, badErr);
    }

    /// <summary>Runs the built <c>rescale</c> (copied beside the tests by the project reference) in a child process.</summary>
    private static (int Exit, string Out, string Err) RunCli(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "rescale.dll");
        Assert.True(File.Exists(dll), $"{dll} not found: the test project references the CLI so that it is built beside the tests");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
