using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Rescaling;

namespace MLNet.Rescale.ML.Tests;

/// <summary>The input of the contract pipeline: a text column "Path".</summary>
public sealed class ContractInput
{
    public string Path { get; set; } = "";
}

/// <summary>What a PredictionEngine returns from the contract pipeline.</summary>
public sealed class ContractOutput
{
    public float[] UpPixels { get; set; } = [];
    public float[] HrPixels { get; set; } = [];
}

/// <summary>
/// The call sequence an ML.NET user's program is written against (issue 17), exactly: ML.NET's LoadImages and
/// ResizeImages, our downscaler, codec and upscaler, ML.NET's ExtractPixels; fit, save with <c>mlContext.Model.Save</c>,
/// load in a fresh context and in a new process (the built <c>rescale pipeline</c>), evaluate, and PredictionEngine
/// before and after loading. Everything must agree exactly.
/// </summary>
[Collection(SmallImagesCollection.Name)]
public sealed class ContractPipelineTests(SmallImages small)
{
    private static string ShippedX2 => Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors");

    private IDataView Data(MLContext ml) =>
        ml.Data.LoadFromEnumerable(Directory.GetFiles(small.Folder, "*.png").Order().Select(p => new ContractInput { Path = p }).ToList());

    [Fact]
    public void The_contract_pipeline_fits_saves_loads_and_predicts_with_identical_output()
    {
        var ml = new MLContext(seed: 0);
        var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path")
            .Append(ml.Transforms.ResizeImages("Image", 256, 256, "Image"))
            .Append(ml.Transforms.InvertibleDownscaler(ShippedX2, outputColumnName: "LR", inputColumnName: "Image"))
            .Append(ml.Transforms.CompressImages(outputColumnName: "LRjpeg", inputColumnName: "LR", codec: "jpeg:75"))
            .Append(ml.Transforms.CompressionAwareUpscaler(outputColumnName: "Upscaled", inputColumnName: "LRjpeg"))
            .Append(ml.Transforms.ExtractPixels("HrPixels", "Image"))
            .Append(ml.Transforms.ExtractPixels("UpPixels", "Upscaled"));
        var data = Data(ml);
        ITransformer model = pipeline.Fit(data);
        var scored = model.Transform(data);
        Assert.Equal("Image<128, 128>", scored.Schema["LR"].Type.ToString());
        Assert.Equal("Image<256, 256>", scored.Schema["Upscaled"].Type.ToString());
        var upPixels = scored.GetColumn<float[]>("UpPixels").ToList();
        var hrPixels = scored.GetColumn<float[]>("HrPixels").ToList();
        Assert.Equal(2, upPixels.Count);
        Assert.All(upPixels, p => Assert.Equal(3 * 256 * 256, p.Length));
        RescaleMetrics m = ml.Rescaling().Evaluate(model.Transform(data), labelColumnName: "Image", scoreColumnName: "Upscaled");
        Assert.Equal(2, m.CropBorder);
        // Well above what a broken pipeline gives (the LR through JPEG 75 back up ×2: about 30 dB on these crops).
        Assert.All(m.PerImage, i => Assert.InRange(i.PsnrY, 24, 60));

        // The pixels the upscaler wrote are what ExtractPixels read (R, G, B planes of 0–255).
        var restored = scored.ReadImages("Upscaled")[0];
        Assert.Equal(restored.Data.Select(v => MathF.Round(v * 255)), upPixels[0]);

        string zip = small.TempFile("model.zip");
        ml.Model.Save(model, data.Schema, zip);
        ITransformer loaded = new MLContext().Model.Load(zip, out DataViewSchema schema);
        Assert.Equal(["Path"], schema.Select(c => c.Name));
        var reloaded = loaded.Transform(data);
        Assert.Equal(upPixels, reloaded.GetColumn<float[]>("UpPixels").ToList());
        Assert.Equal(hrPixels, reloaded.GetColumn<float[]>("HrPixels").ToList());
        var m2 = ml.Rescaling().Evaluate(reloaded);
        Assert.Equal(m.PerImage.Select(i => i.PsnrY), m2.PerImage.Select(i => i.PsnrY));

        // PredictionEngine, before and after loading: one row at a time, the same pixels.
        var input = new ContractInput { Path = Directory.GetFiles(small.Folder, "*.png").Order().First() };
        using (var engine = ml.Model.CreatePredictionEngine<ContractInput, ContractOutput>(model))
        {
            var p = engine.Predict(input);
            Assert.Equal(upPixels[0], p.UpPixels);
            Assert.Equal(upPixels[0], engine.Predict(input).UpPixels);   // and again: the row cache follows the engine's rows
        }
        using (var engine = ml.Model.CreatePredictionEngine<ContractInput, ContractOutput>(loaded))
            Assert.Equal(upPixels[0], engine.Predict(input).UpPixels);

        // A new process: the built CLI loads the zip and scores the same folder.
        var (exit, stdout, stderr) = RunCli("pipeline", zip, "--data", small.Folder, "--json", "--threads", TorchSharp.torch.get_num_threads().ToString());
        Assert.True(exit == 0, $"rescale pipeline exited {exit}: {stderr}");
        var json = JsonNode.Parse(stdout)!;
        var images = json["images"]!.AsArray();
        Assert.Equal(["bird", "butterfly"], images.Select(i => i!["name"]!.GetValue<string>()));
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(m.PerImage[i].PsnrY, images[i]!["psnr_y"]!.GetValue<double>(), 9);
            Assert.Equal(m.PerImage[i].SsimY, images[i]!["ssim_y"]!.GetValue<double>(), 9);
        }

        // A foreign file is one error line naming it, exit 1.
        var bad = small.TempFile("bad.zip");
        File.WriteAllText(bad, "not a model");
        var (badExit, _, badErr) = RunCli("pipeline", bad, "--data", small.Folder);
        Assert.Equal(1, badExit);
        Assert.Contains(bad, badErr);
        Assert.Single(badErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        (model as IDisposable)?.Dispose();
        (loaded as IDisposable)?.Dispose();
    }

    [Fact]
    public void The_upscaler_finds_the_downscalers_network_through_a_codec_and_stands_alone_with_a_model_file()
    {
        var ml = new MLContext(seed: 0);
        var images = small.InMemory(ml);
        using var chain = ml.Transforms.InvertibleDownscaler(ShippedX2)
            .Append(ml.Transforms.CompressImages("LRjpeg", "LR", "jpeg:75"))
            .Append(ml.Transforms.CompressionAwareUpscaler("Upscaled", "LRjpeg"))
            .Fit(images);
        var parts = chain.ToList();
        Assert.Same(((InvertibleDownscalerTransformer)parts[0]).Network, ((CompressionAwareUpscalerTransformer)parts[2]).Network);
        var scored = chain.Transform(images);
        var compressed = ml.FromImages(scored.ReadImages("LRjpeg"), "LRjpeg");

        // A client with the JPEGs and the model file only.
        using var client = ml.Transforms.CompressionAwareUpscaler("Upscaled", "LRjpeg", modelFile: ShippedX2).Fit(compressed);
        Assert.Equal(scored.ReadImages("Upscaled").Select(i => i.Data), client.Transform(compressed).ReadImages("Upscaled").Select(i => i.Data));

        // Without a downscaler upstream and without a model file there is no network: an error naming the column.
        var e = Assert.Throws<InvalidOperationException>(() => ml.Transforms.CompressionAwareUpscaler("Upscaled", "LRjpeg").Fit(compressed));
        Assert.Contains("'LRjpeg'", e.Message);
    }

    /// <summary>Runs the built <c>rescale</c> (copied beside the tests by the project reference) in a child process.</summary>
    internal static (int Exit, string Out, string Err) RunCli(params string[] args)
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
