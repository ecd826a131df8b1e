using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Onnx;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// What a client application deploys: an upscaler exported with <c>rescale export --onnx</c> run by a pipeline of
/// ML.NET's own transforms only (LoadImages → ExtractPixels → ApplyOnnxModel → ConvertToImage), no MLNet.Rescale and
/// no libtorch in the pipeline, giving the pixels of the libtorch engine's <c>--gaussian-scale 0</c> upscale.
/// </summary>
public sealed class OnnxPipelineTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("onnx-pipeline-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private sealed class Row
    {
        public string Path { get; set; } = "";
    }

    [Fact]
    public void MLNET_own_transforms_upscale_with_the_exported_graph_like_the_engine()
    {
        // The LR a server would send: the shipped IRN ×2's LR of a test image, written as PNG.
        using var net = ModelFile.Load(System.IO.Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors"));
        var rescaler = new Rescaler(net, new RescalerOptions { Temperature = 0 });
        var lr = rescaler.Downscale(ImageFile.Read(TestPaths.Image("bird.png")));
        string lrPath = System.IO.Path.Combine(dir, "bird-lr.png");
        ImageFile.Write(lr, lrPath);
        var (_, upscaleOnnx) = OnnxExport.Export(net, System.IO.Path.Combine(dir, "onnx"));
        var expected = rescaler.Upscale(ImageFile.Read(lrPath));

        // The client: ML.NET's transforms only. The graph's H and W are dynamic; the shape dictionary fixes them (input and
        // output) for this LR size, since ConvertToImage needs a vector of known size.
        int w = lr.Width, h = lr.Height;
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable([new Row { Path = lrPath }]);
        var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(Row.Path))
            // ExtractPixels needs an image column of known size: resizing to the LR's own size declares it.
            .Append(ml.Transforms.ResizeImages("Image", w, h, "Image"))
            .Append(ml.Transforms.ExtractPixels("input", "Image", scaleImage: 1f / 255, outputAsFloatArray: true))
            .Append(ml.Transforms.ApplyOnnxModel(["output"], ["input"], upscaleOnnx,
                shapeDictionary: new Dictionary<string, int[]> { ["input"] = [1, 3, h, w], ["output"] = [1, 3, 2 * h, 2 * w] }, gpuDeviceId: null, fallbackToCpu: false))
            // To 8-bit values (rounded, clamped) before ConvertToImage: given a scale, ConvertToImage writes alpha 0 when the
            // vector has no alpha plane, and the premultiplied image is black; unscaled it keeps the default alpha 255.
            .Append(ml.Transforms.Expression("Pixels", "x => max(0, min(255, x * 255 + 0.5))", "output"))
            .Append(ml.Transforms.ConvertToImage(2 * h, 2 * w, "Upscaled", "Pixels"));
        var transformed = pipeline.Fit(data).Transform(data);

        // The HR the graph computed, before ConvertToImage's 8-bit conversion, and the image ML.NET made of it.
        var output = transformed.GetColumn<float[]>("output").Single();
        Assert.Equal(3 * 4 * w * h, output.Length);
        var fromGraph = new Image(2 * w, 2 * h, 3, output.Select(v => MathF.Round(Math.Clamp(v, 0f, 1f) * 255f) / 255f).ToArray());
        int worst = fromGraph.ToInterleaved8().Zip(expected.ToInterleaved8(), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1, $"the ML.NET pipeline's HR differs from the engine's by {worst} levels");

        // Read the image while its cursor is open: ML.NET disposes the images a cursor made when it closes.
        using var cursor = transformed.GetRowCursor(transformed.Schema);
        var getImage = cursor.GetGetter<MLImage>(transformed.Schema["Upscaled"]);
        Assert.True(cursor.MoveNext());
        MLImage image = null!;
        getImage(ref image);
        Assert.Equal((2 * w, 2 * h), (image.Width, image.Height));
        var pixels = image.GetBGRPixels;
        int worstImage = 0, bad = 0;
        for (int y = 0; y < image.Height; y++)
        for (int x = 0; x < image.Width; x++)
        for (int c = 0; c < 3; c++)
        {
            int ours = (int)MathF.Round(expected.Data[c * expected.PlaneSize + y * expected.Width + x] * 255f);
            int theirs = pixels[(y * image.Width + x) * 3 + (2 - c)];
            worstImage = Math.Max(worstImage, Math.Abs(ours - theirs));
            if (Math.Abs(ours - theirs) > 1) bad++;
        }
        // Rounding half up in the expression where the engine rounds half to even: within one level either way.
        Assert.True(worstImage <= 1, $"ConvertToImage's image differs from the engine's by {worstImage} levels ({bad} values by more than one)");
    }
}
