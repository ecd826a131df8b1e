using Microsoft.ML;
using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Rescaling;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Reporting;
using MLNet.Rescale.Training;
using static MLNet.Rescale.ML.Tests.EstimatorChecks;

namespace MLNet.Rescale.ML.Tests;

[Collection(SmallImagesCollection.Name)]
public sealed class RescalingTests(SmallImages small)
{
    private static string ShippedX2 => Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors");
    private readonly MLContext ml = new(seed: 1);

    [Fact]
    public void InvertibleDownscaler_wraps_a_pretrained_model_and_writes_its_LR()
    {
        var t = TestEstimatorCore(ml.Transforms.InvertibleDownscaler(ShippedX2), small.InMemory(ml), small.TempFile("m.zip"),
            invalidInput: small.Paths(ml), invalidColumn: "Image");
        var output = t.Transform(small.InMemory(ml));
        var lr = output.ReadImages("LR")[0];
        using var net = ModelFile.Load(ShippedX2);
        Assert.Equal(new Rescaler(net).Downscale(small.Images[0]).Data, lr.Data);
        Assert.Equal((32, 32), (lr.Width, lr.Height));
        RescaleNetwork annotated = null!;
        output.Schema["LR"].Annotations.GetValue(AnnotationNames.RescalingModel, ref annotated);
        Assert.Same(t.Network, annotated);
        int scale = 0;
        output.Schema["LR"].Annotations.GetValue(AnnotationNames.Scale, ref scale);
        Assert.Equal(2, scale);
        // A known HR size gives a known LR size (⌈W/2⌉ × ⌈H/2⌉), so ML.NET's ExtractPixels can follow.
        var sized = ml.Transforms.ResizeImages("Image", 63, 50, "Image").Fit(small.InMemory(ml)).Transform(small.InMemory(ml));
        Assert.Equal("Image<25, 32>", t.GetOutputSchema(sized.Schema)["LR"].Type.ToString());
        var missing = Path.Combine(small.Folder, "missing.safetensors");
        Assert.Contains(missing, Assert.Throws<InvalidDataException>(() => ml.Transforms.InvertibleDownscaler(missing)).Message);
    }

    [Fact]
    public void InvertibleDownscaler_trains_IRN_on_the_image_column()
    {
        string run = Path.Combine(Path.GetDirectoryName(small.TempFile("x"))!, "run");
        var options = new InvertibleDownscaler.Options
        {
            Blocks = 1, Iterations = 3, BatchSize = 2, PatchSize = 16, Seed = 5, RunFolder = run,
        };
        var t = TestEstimatorCore(ml.Transforms.InvertibleDownscaler(options), small.InMemory(ml), small.TempFile("m.zip"));
        Assert.Equal(("IRN", 2), (t.Network.Architecture, t.Scale));
        // Trained: the run's log reached the budget, and the weights moved away from the same seed's initialization
        // (a fit of 0 iterations, itself reproducible).
        var log = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"));
        Assert.Contains("\"iteration\":3", log[^1]);
        float[] Weights(InvertibleDownscalerTransformer d) => d.Network.state_dict().Values.SelectMany(t => t.data<float>().ToArray()).ToArray();
        var untrainedOptions = new InvertibleDownscaler.Options { Blocks = 1, Iterations = 0, BatchSize = 2, PatchSize = 16, Seed = 5 };
        var init = ml.Transforms.InvertibleDownscaler(untrainedOptions).Fit(small.InMemory(ml));
        Assert.Equal(Weights(init), Weights(ml.Transforms.InvertibleDownscaler(untrainedOptions).Fit(small.InMemory(ml))));
        Assert.NotEqual(Weights(init), Weights(t));
    }

    [Fact]
    public void InvertibleDownscaler_reports_each_iteration_and_the_validation_PSNR_of_its_validation_set()
    {
        // Trained on bird, validated on butterfly every 2 iterations and at the end.
        var train = ml.FromImages(small.Images.Take(1));
        var validation = ml.FromImages(small.Images.Skip(1));
        var curve = new TrainingCurve();
        var options = new InvertibleDownscaler.Options
        {
            Blocks = 1, Iterations = 5, BatchSize = 2, PatchSize = 16, Seed = 5,
            ValidationSet = validation, ValidateEvery = 2, Progress = curve,
        };
        var t = ml.Transforms.InvertibleDownscaler(options).Fit(train);
        Assert.Equal([1L, 2, 3, 4, 5], curve.Reports.Select(r => r.Iteration));
        Assert.Equal([2L, 4, 5], curve.Reports.Where(r => r.ValidationPsnr is not null).Select(r => r.Iteration));
        Assert.All(curve.Reports, r => Assert.Equal(["fit", "latent", "reconstruction"], r.Terms.Terms.Select(kv => kv.Key)));
        Assert.All(curve.Reports, r => Assert.Equal(r.Terms.Terms.Sum(kv => kv.Value), r.Loss, 3));
        // The last validation scored the fitted network: its round trip (latent seed 0) on the validation image.
        var hr = small.Images[1];
        var rescaler = new Rescaler(t.Network, new RescalerOptions { Seed = 0 });
        double expected = Metrics.Psnr(rescaler.Upscale(rescaler.Downscale(hr), hr.Width, hr.Height), hr, 2, yOnly: true);
        Assert.Equal(expected, curve.Reports[^1].ValidationPsnr!.Value, 9);

        // Without the image column, or without rows, the validation set is rejected before training.
        options.ValidationSet = small.Paths(ml);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.InvertibleDownscaler(options).Fit(train));
        Assert.Contains("validation set", e.Message);
        Assert.Contains("'Image' not found", e.Message);
        options.ValidationSet = ml.FromImages([]);
        Assert.Contains("no rows", Assert.Throws<InvalidOperationException>(() => ml.Transforms.InvertibleDownscaler(options).Fit(train)).Message);
        Assert.Throws<ArgumentException>(() => ml.Transforms.InvertibleDownscaler(new InvertibleDownscaler.Options { ValidateEvery = -1 }));
    }

    [Fact]
    public void CompressionAwareUpscaler_takes_the_network_from_the_LR_column_or_a_model_file()
    {
        var down = ml.Transforms.InvertibleDownscaler(ShippedX2).Fit(small.InMemory(ml));
        var lrData = down.Transform(small.InMemory(ml));
        var options = new CompressionAwareUpscaler.Options { Seed = 3 };
        var up = TestEstimatorCore(ml.Transforms.CompressionAwareUpscaler(options), lrData, small.TempFile("m.zip"),
            invalidInput: small.Paths(ml), invalidColumn: "LR");
        Assert.Same(down.Network, up.Network);
        var restored = up.Transform(lrData).ReadImages("Upscaled")[0];
        Assert.Equal((64, 64), (restored.Width, restored.Height));
        var lr = lrData.ReadImages("LR")[0];
        using var net = ModelFile.Load(ShippedX2);
        Assert.Equal(new Rescaler(net, new RescalerOptions { Seed = 3 }).Upscale(lr).Data, restored.Data);

        // A client loads the upscaler alone from the model file (no downscaler upstream) and gets the same images.
        options.ModelFile = ShippedX2;
        var client = ml.Transforms.CompressionAwareUpscaler(options).Fit(ml.FromImages(lrData.ReadImages("LR"), "LR"));
        Assert.Equal(restored.Data, client.Upscale(lr).Data);
        // Its scale is known before fitting, so the output size is too.
        var sized = ml.Transforms.ResizeImages("LR", 20, 10, "LR").Fit(ml.FromImages([lr], "LR"));
        var shape = ml.Transforms.CompressionAwareUpscaler(options).GetOutputSchema(sized.GetOutputSchema(ml.FromImages([lr], "LR").Schema).Shape());
        Assert.Equal("Image<20, 40>", shape.Single(c => c.Name == "Upscaled").ItemType.ToString());
    }

    [Fact]
    public void CollaborativeLrOptimizer_runs_HCD_with_the_downscaler_network()
    {
        var down = ml.Transforms.InvertibleDownscaler(ShippedX2).Fit(small.InMemory(ml));
        var lrData = down.Transform(small.InMemory(ml));
        var options = new CollaborativeLrOptimizer.Options { HrIterations = 1, LrIterations = 1, Seed = 4, Codec = "jpeg:75" };
        var t = TestEstimatorCore(ml.Transforms.CollaborativeLrOptimizer(options), lrData, small.TempFile("m.zip"),
            invalidInput: small.InMemory(ml), invalidColumn: "LR");
        var optimized = t.Transform(lrData).ReadImages("LR")[0];
        using var net = ModelFile.Load(ShippedX2);
        var expected = new CollaborativeOptimizer(net, new CollaborativeOptions { HrIterations = 1, LrIterations = 1, Seed = 4,
            LrChannel = new Evaluation.LossyCodec(ImageFormat.Jpeg, 75).Surrogate() }).Downscale(new Rescaler(net), small.Images[0]);
        Assert.Equal(expected.Data, optimized.Data);
        Assert.ThrowsAny<FormatException>(() => ml.Transforms.CollaborativeLrOptimizer(new() { Codec = "gif:3" }));
    }

    [Fact]
    public void CollaborativeLrOptimizer_keeps_its_budget_start_decay_and_momentum_through_save_and_load()
    {
        var down = ml.Transforms.InvertibleDownscaler(ShippedX2).Fit(small.InMemory(ml));
        var lrData = down.Transform(small.InMemory(ml));
        var options = new CollaborativeLrOptimizer.Options
        {
            HrIterations = 0, LrIterations = 2, Budget = 5000, StartAtZero = true, StepDecay = 0.8, Momentum = 0.5,
        };
        using var fitted = ml.Transforms.CollaborativeLrOptimizer(options).Fit(lrData);
        var o = fitted.CollaborativeOptions;
        Assert.Equal((5000, true, 0.8, 0.5), (o.Budget, o.StartAtZero, o.StepDecay, o.Momentum));
        string path = small.TempFile("hcd-budget.zip");
        ml.Model.Save(fitted, lrData.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        var hcd = loaded as CollaborativeLrOptimizerTransformer ?? ((IEnumerable<ITransformer>)loaded).OfType<CollaborativeLrOptimizerTransformer>().Single();
        try
        {
            var l = hcd.CollaborativeOptions;
            Assert.Equal((5000, true, 0.8, 0.5), (l.Budget, l.StartAtZero, l.StepDecay, l.Momentum));
            Assert.Equal(fitted.Transform(lrData).ReadImages("LR")[0].Data, hcd.Transform(lrData).ReadImages("LR")[0].Data);
        }
        finally
        {
            hcd.Dispose();
        }
    }

    [Fact]
    public void Evaluate_scores_Y_PSNR_and_SSIM_with_the_scale_as_border()
    {
        var pipeline = ml.Transforms.InvertibleDownscaler(ShippedX2).Append(ml.Transforms.CompressionAwareUpscaler(new CompressionAwareUpscaler.Options { Seed = 0 }));
        var scored = pipeline.Fit(small.InMemory(ml)).Transform(small.InMemory(ml));
        var metrics = ml.Rescaling().Evaluate(scored);
        var restored = scored.ReadImages("Upscaled");
        Assert.Equal(2, metrics.CropBorder);
        Assert.Equal(2, metrics.PerImage.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(Metrics.Psnr(restored[i], small.Images[i], 2, yOnly: true), metrics.PerImage[i].PsnrY);
            Assert.Equal(Metrics.Ssim(restored[i], small.Images[i], 2, yOnly: true), metrics.PerImage[i].SsimY);
        }
        Assert.Equal(metrics.PerImage.Average(m => m.PsnrY), metrics.PsnrY);
        Assert.InRange(metrics.PsnrY, 25, 60);
        // A column without a Scale annotation needs the border given.
        Assert.Throws<ArgumentException>(() => { ml.Rescaling().Evaluate(small.InMemory(ml), "Image", "Image"); });
        Assert.Equal(double.PositiveInfinity, ml.Rescaling().Evaluate(small.InMemory(ml), "Image", "Image", cropBorder: 2).PsnrY);
    }
}
