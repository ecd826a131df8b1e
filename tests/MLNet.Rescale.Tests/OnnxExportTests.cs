using Microsoft.ML.OnnxRuntime;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.IO;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Onnx;
using MLNet.Rescale.Tests.Shared;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// The exported ONNX graphs run in ONNX Runtime and compute what the TorchSharp networks compute: on the reference
/// vectors of the papers' code (float32, 1e-4), for every shipped model, and as whole images through
/// <see cref="OnnxRescaler"/> against <see cref="Rescaler"/>.
/// </summary>
public sealed class OnnxExportTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("onnx-export-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    public static TheoryData<string> ShippedModels => new() { "irn-x2", "irn-x4", "sain-x2-jpeg", "sain-x4-jpeg", "sain-x2-webp" };

    private static string ModelPath(string name) => Path.Combine(TestPaths.RepoRoot, "models", name + ".safetensors");

    /// <summary>Runs a graph on named [N, C, H, W] inputs and returns its output as a tensor.</summary>
    private static Tensor RunOnnx(byte[] model, params (string Name, Tensor Value)[] inputs)
    {
        using var session = new InferenceSession(model);
        var values = inputs.Select(i =>
        {
            var t = i.Value.cpu().contiguous();
            return OrtValue.CreateTensorValueFromMemory(t.data<float>().ToArray(), t.shape);
        }).ToList();
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputs.Select(i => i.Name).ToList(), values, ["output"]);
            var shape = outputs[0].GetTensorTypeAndShape().Shape;
            return tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray(), shape);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    private void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double scale = Math.Max(1, expected.abs().max().item<float>());
        double error = (expected - actual).abs().max().item<float>();
        output.WriteLine($"{what}: max abs error {error:g3} (tolerance {1e-4 * scale:g3})");
        Assert.True(error <= 1e-4 * scale, $"{what}: max abs error {error:g3} > {1e-4 * scale:g3}");
    }

    [Theory]
    [InlineData("irn_x2_small.safetensors")]
    [InlineData("irn_x4_small.safetensors")]
    [InlineData("sain_x2_small.safetensors")]
    public void Graphs_reproduce_the_reference_vectors_in_ONNX_Runtime(string vector)
    {
        using var scope = NewDisposeScope();
        var file = SafetensorsFile.Read(TestPaths.Conformance(vector));
        using var net = ModelFile.Load(file);
        bool sain = net is SainNetwork;
        var hr = file.Load("io.hr");
        var lr = RunOnnx(OnnxExport.Downscaler(net), ("input", hr));
        var expectedLr = sain ? file.Load("io.forward_lr") : file.Load("io.forward").narrow(1, 0, 3);
        AssertClose(expectedLr, lr, $"{vector} downscale.onnx vs the reference");

        var input = file.Load(sain ? "io.lr_compressed" : "io.lr_quantized");
        var hrBack = RunOnnx(OnnxExport.Upscaler(net, latentInput: true), ("input", input), ("z", file.Load("io.z")));
        AssertClose(file.Load("io.inverse").narrow(1, 0, 3), hrBack, $"{vector} upscale.onnx (latent input) vs the reference");
    }

    [Theory]
    [MemberData(nameof(ShippedModels))]
    public void Shipped_models_export_and_agree_with_TorchSharp(string name)
    {
        using var scope = NewDisposeScope();
        using var net = ModelFile.Load(ModelPath(name));
        net.eval();
        var (downPath, upPath) = OnnxExport.Export(net, Path.Combine(dir, name));
        Assert.Equal(Path.Combine(dir, name, "downscale.onnx"), downPath);
        int s = net.Scale;
        using var gen = new Generator(7);
        var hr = rand([1, 3, 12 * s, 10 * s], generator: gen);
        var lr = rand([1, 3, 12, 10], generator: gen);
        Tensor expectedLr, expectedHr;
        using (inference_mode())
        {
            expectedLr = net.Downscale(hr);
            expectedHr = net.Upscale(lr, net.SampleLatent(lr.shape, temperature: 0));
        }
        AssertClose(expectedLr, RunOnnx(File.ReadAllBytes(downPath), ("input", hr)), $"{name} downscale.onnx");
        AssertClose(expectedHr, RunOnnx(File.ReadAllBytes(upPath), ("input", lr)), $"{name} upscale.onnx (serving latent)");
    }

    [Fact]
    public void Sain_serving_latent_is_the_mixture_expectation_at_temperature_zero()
    {
        using var scope = NewDisposeScope();
        using var net = (SainNetwork)ModelFile.Load(ModelPath("sain-x2-jpeg"));
        var para = net.Mixture.GmmPara;
        double expected = (para[0].softmax(0) * para[1]).sum().item<float>();
        using var g1 = new Generator(1);
        using var g2 = new Generator(2);
        var a = net.SampleLatent([1, 3, 4, 5], g1, temperature: 0);
        var b = net.SampleLatent([1, 3, 4, 5], g2, temperature: 0);
        Assert.Equal([1L, 9, 4, 5], a.shape);
        Assert.Equal(0.0, (a - b).abs().max().item<float>());
        Assert.Equal(expected, a[0, 0, 0, 0].item<float>(), 6);
        // Not the trivial value: the shipped mixture's expectation is away from 0.
        Assert.NotEqual(0.0, expected, 3);
    }

    private static Image TestImage(int width, int height, int seed)
    {
        // Smooth structure plus noise, so the networks see image-like content.
        var rng = new Random(seed);
        var image = new Image(width, height, 3);
        for (int c = 0; c < 3; c++)
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            double v = 0.5 + 0.3 * Math.Sin(x * 0.11 + c) * Math.Cos(y * 0.07 - c) + 0.05 * rng.NextDouble();
            image.Data[c * image.PlaneSize + y * width + x] = MathF.Round((float)v * 255f) / 255f;
        }
        return image;
    }

    private static int MaxLevelDifference(Image a, Image b)
    {
        Assert.Equal((a.Width, a.Height, a.Channels), (b.Width, b.Height, b.Channels));
        return a.ToInterleaved8().Zip(b.ToInterleaved8(), (x, y) => Math.Abs(x - y)).Max();
    }

    [Theory]
    [InlineData("irn-x2")]
    [InlineData("sain-x4-jpeg")]
    public void OnnxRescaler_matches_the_libtorch_Rescaler_within_one_level(string name)
    {
        using var net = ModelFile.Load(ModelPath(name));
        var export = Path.Combine(dir, name);
        OnnxExport.Export(net, export);
        var rescaler = new Rescaler(net, new RescalerOptions { Temperature = 0 });
        using var onnx = OnnxRescaler.FromFolder(export);
        Assert.Equal(net.Scale, onnx.Scale);
        // Sizes not divisible by the scale: both pad by reflection and crop back.
        var hr = TestImage(101, 75, 3);
        var lrTorch = rescaler.Downscale(hr);
        var lrOnnx = onnx.Downscale(hr);
        Assert.True(MaxLevelDifference(lrTorch, lrOnnx) <= 1, "LR differs by more than one level");
        var upTorch = rescaler.Upscale(lrTorch, hr.Width, hr.Height);
        var upOnnx = onnx.Upscale(lrTorch, hr.Width, hr.Height);
        Assert.True(MaxLevelDifference(upTorch, upOnnx) <= 1, "HR differs by more than one level");
    }

    [Fact]
    public void OnnxRescaler_tiles_large_images_like_the_whole_image()
    {
        using var net = ModelFile.Load(ModelPath("irn-x2"));
        var export = Path.Combine(dir, "irn-x2");
        OnnxExport.Export(net, export);
        using var tiled = OnnxRescaler.FromFolder(export, new OnnxRescalerOptions { TileSize = 48, TileOverlap = 12 });
        using var whole = OnnxRescaler.FromFolder(export, new OnnxRescalerOptions { TileSize = 0 });
        var hr = TestImage(200, 150, 5);
        var lrWhole = whole.Downscale(hr);
        var lrTiled = tiled.Downscale(hr);
        Assert.True(Metrics.Psnr(lrWhole, lrTiled) >= 50, $"tiled LR {Metrics.Psnr(lrWhole, lrTiled):F1} dB");
        var upWhole = whole.Upscale(lrWhole);
        var upTiled = tiled.Upscale(lrWhole);
        Assert.True(Metrics.Psnr(upWhole, upTiled) >= 50, $"tiled HR {Metrics.Psnr(upWhole, upTiled):F1} dB");
        // And the tiling is real: 3 × 2 tiles of the 100 × 75 LR grid.
        Assert.Equal(6, TileGrid.Count(lrWhole.Width, lrWhole.Height, 48));
    }

    [Fact]
    public void OnnxRescaler_names_the_file_of_a_bad_model()
    {
        string garbage = Path.Combine(dir, "garbage.onnx");
        File.WriteAllBytes(garbage, [1, 2, 3, 4, 5, 6, 7, 8]);
        var e = Assert.Throws<InvalidDataException>(() => new OnnxRescaler(null, garbage));
        Assert.Contains(garbage, e.Message);

        using var net = ModelFile.Load(ModelPath("irn-x2"));
        string withLatent = Path.Combine(dir, "latent");
        OnnxExport.Export(net, withLatent, latentInput: true);
        var e2 = Assert.Throws<InvalidDataException>(() => new OnnxRescaler(null, Path.Combine(withLatent, "upscale.onnx")));
        Assert.Contains("--latent-input", e2.Message);
        var e3 = Assert.Throws<InvalidDataException>(() => new OnnxRescaler(null, Path.Combine(withLatent, "downscale.onnx")));
        Assert.Contains("not the upscale graph", e3.Message);
        Assert.Throws<FileNotFoundException>(() => new OnnxRescaler(Path.Combine(dir, "missing.onnx"), null));
    }
}
