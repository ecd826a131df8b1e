using Microsoft.ML;
using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Rescaling;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Training;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// Pipeline metrics follow <c>rescale eval</c>'s protocol (modcrop, border = scale) on sizes that are not multiples of
/// the scale; warm starts carry a model's architecture and weights; transformers holding networks are disposable and
/// free a shared network only when its last holder is disposed.
/// </summary>
[Collection(SmallImagesCollection.Name)]
public sealed class ProtocolAndLifetimeTests(SmallImages small)
{
    private static string ShippedIrnX2 => Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors");
    private static string ShippedSainX2 => Path.Combine(TestPaths.RepoRoot, "models", "sain-x2-jpeg.safetensors");
    private readonly MLContext ml = new(seed: 1);

    /// <summary>Fixture crops of odd sizes (101×75 and 90×67): neither side of bird, one side of butterfly a multiple of 2.</summary>
    private string OddSizedFolder()
    {
        string folder = Path.GetDirectoryName(small.TempFile("x"))!;
        var bird = ImageFile.Read(TestPaths.Image("bird.png"));
        var butterfly = ImageFile.Read(TestPaths.Image("butterfly.png"));
        ImageFile.Write(bird.Crop(90, 100, 101, 75), Path.Combine(folder, "bird.png"));
        ImageFile.Write(butterfly.Crop(80, 70, 90, 67), Path.Combine(folder, "butterfly.png"));
        return folder;
    }

    [Fact]
    public void Pipeline_metrics_equal_rescale_eval_on_sizes_not_a_multiple_of_the_scale()
    {
        string folder = OddSizedFolder();
        var hcdOptions = new CollaborativeLrOptimizer.Options { HrIterations = 1, LrIterations = 1, Seed = 7, Codec = "jpeg:75" };
        var plain = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Transforms.ModCropImages("Image", 2))
            .Append(ml.Transforms.InvertibleDownscaler(ShippedIrnX2))
            .Append(ml.Transforms.CompressImages("LR", "LR", "jpeg:75"))
            .Append(ml.Transforms.CompressionAwareUpscaler(new CompressionAwareUpscaler.Options { Seed = 0 }));
        var withHcd = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Transforms.ModCropImages("Image", 2))
            .Append(ml.Transforms.InvertibleDownscaler(ShippedIrnX2))
            .Append(ml.Transforms.CollaborativeLrOptimizer(hcdOptions))
            .Append(ml.Transforms.CompressImages("LR", "LR", "jpeg:75"))
            .Append(ml.Transforms.CompressionAwareUpscaler(new CompressionAwareUpscaler.Options { Seed = 0 }));
        var data = ml.Rescaling().LoadImagePaths(folder);
        using var plainModel = plain.Fit(data);
        using var hcdModel = withHcd.Fit(data);
        var pipelinePlain = ml.Rescaling().Evaluate(plainModel.Transform(data));
        var pipelineHcd = ml.Rescaling().Evaluate(hcdModel.Transform(data));

        // What `rescale eval -m irn-x2 --data folder --compress jpeg:75 --collaborative --hr-iters 1 --lr-iters 1 --hcd-seed 7` computes.
        using var net = ModelFile.Load(ShippedIrnX2);
        var codec = LossyCodec.Parse("jpeg:75");
        var collaborative = new CollaborativeOptimizer(net, new CollaborativeOptions
        {
            HrIterations = 1, LrIterations = 1, Seed = 7, LrChannel = codec.Surrogate(),
        });
        var eval = Evaluator.Run(new Rescaler(net, new RescalerOptions { Seed = 0 }), folder, codec.Apply, collaborative: collaborative);

        Assert.Equal([(100, 74), (90, 66)], eval.Images.Select(i => (i.Width, i.Height)));
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal((eval.Images[i].Width, eval.Images[i].Height), (pipelinePlain.PerImage[i].Width, pipelinePlain.PerImage[i].Height));
            Assert.Equal(eval.Images[i].PsnrY, pipelinePlain.PerImage[i].PsnrY);
            Assert.Equal(eval.Images[i].SsimY, pipelinePlain.PerImage[i].SsimY);
            Assert.Equal(eval.Images[i].CollaborativePsnrY!.Value, pipelineHcd.PerImage[i].PsnrY);
            Assert.Equal(eval.Images[i].CollaborativeSsimY!.Value, pipelineHcd.PerImage[i].SsimY);
        }
        Assert.Equal(eval.PsnrY, pipelinePlain.PsnrY, 12);
        Assert.Equal(2, pipelinePlain.CropBorder);
    }

    [Fact]
    public void Evaluate_without_a_modcrop_step_scores_the_modcropped_label_against_the_padded_round_trip()
    {
        string folder = OddSizedFolder();
        var pipeline = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Transforms.InvertibleDownscaler(ShippedIrnX2))
            .Append(ml.Transforms.CompressionAwareUpscaler(new CompressionAwareUpscaler.Options { Seed = 0 }));
        var data = ml.Rescaling().LoadImagePaths(folder);
        using var model = pipeline.Fit(data);
        var scored = model.Transform(data);
        // The downscaler pads 101×75 to 102×76, so the upscale is one step larger than the modcropped label.
        Assert.Equal([(102, 76), (90, 68)], scored.ReadImages("Upscaled").Select(i => (i.Width, i.Height)));
        var metrics = ml.Rescaling().Evaluate(scored);
        Assert.Equal([(100, 74), (90, 66)], metrics.PerImage.Select(m => (m.Width, m.Height)));
        var labels = scored.ReadImages("Image");
        var restored = scored.ReadImages("Upscaled");
        for (int i = 0; i < 2; i++)
        {
            var (w, h) = (metrics.PerImage[i].Width, metrics.PerImage[i].Height);
            Assert.Equal(Metrics.Psnr(restored[i].Crop(0, 0, w, h), labels[i].Crop(0, 0, w, h), 2, yOnly: true), metrics.PerImage[i].PsnrY);
        }

        // A score that does not come from its label (here the label was enlarged) is an error naming the row and sizes.
        var mismatched = ml.Transforms.ResizeImages("Image", 130, 90, "Image").Fit(scored).Transform(scored);
        var e = Assert.Throws<InvalidOperationException>(() => ml.Rescaling().Evaluate(mismatched));
        Assert.Contains("row 0", e.Message);
        Assert.Contains("102×76", e.Message);
        Assert.Contains("130×90", e.Message);
    }

    [Fact]
    public void A_warm_start_takes_the_models_sizes_and_weights()
    {
        var options = new InvertibleDownscaler.Options
        {
            Architecture = TrainingArchitecture.Sain, Scale = 2, Codec = "jpeg:75", InitFrom = ShippedSainX2,
            Iterations = 1, BatchSize = 2, PatchSize = 32, LearningRate = 1e-7, Seed = 3,
        };
        using var fitted = ml.Transforms.InvertibleDownscaler(options).Fit(small.InMemory(ml));
        using var shipped = ModelFile.Load(ShippedSainX2);
        var sain = Assert.IsType<SainNetwork>(fitted.Network);
        var reference = (SainNetwork)shipped;
        Assert.Equal((4, 2, 32), (sain.Options.ResolvedEnhancedBlocks, sain.Options.ResolvedVanillaBlocks, sain.Options.Growth));
        Assert.Equal((reference.Options.ResolvedEnhancedBlocks, reference.Options.ResolvedVanillaBlocks), (4, 2));
        // One Adam step of 1e-7 moves no weight by more than ~1e-7: every weight came from the model.
        var start = shipped.state_dict().ToDictionary(p => p.Key, p => p.Value.data<float>().ToArray());
        int compared = 0;
        foreach (var (name, p) in sain.state_dict())
        {
            var a = start[name];
            var b = p.data<float>().ToArray();
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5, $"{name}[{i}]: {a[i]} → {b[i]}");
            compared++;
        }
        Assert.Equal(start.Count, compared);
    }

    [Fact]
    public void A_warm_started_irn_keeps_the_latent_spread_its_model_was_trained_with()
    {
        using var shipped = ModelFile.Load(ShippedIrnX2);
        Assert.Equal(0.0, shipped.LatentScale);
        double Fitted(double? latentScale)
        {
            var options = new InvertibleDownscaler.Options
            {
                Scale = 2, InitFrom = ShippedIrnX2, Iterations = 1, BatchSize = 2, PatchSize = 32, Seed = 3, LatentScale = latentScale,
            };
            using var fitted = ml.Transforms.InvertibleDownscaler(options).Fit(small.InMemory(ml));
            return fitted.Network.LatentScale;
        }
        Assert.Equal(0.0, Fitted(null));
        Assert.Equal(1.0, Fitted(1.0));
    }

    private static bool Freed(RescaleNetwork network) => network.state_dict().Values.All(t => t.IsInvalid);

    [Fact]
    public void Disposing_a_chain_frees_its_shared_network_once_and_only_after_its_last_holder()
    {
        var pipeline = ml.Transforms.InvertibleDownscaler(ShippedIrnX2)
            .Append(ml.Transforms.CollaborativeLrOptimizer(new() { HrIterations = 0, LrIterations = 0 }))
            .Append(ml.Transforms.CompressionAwareUpscaler());
        var model = pipeline.Fit(small.InMemory(ml));
        var parts = model.ToList();
        var down = Assert.IsType<InvertibleDownscalerTransformer>(parts[0]);
        var network = down.Network;
        Assert.Same(network, Assert.IsType<CompressionAwareUpscalerTransformer>(parts[2]).Network);

        // An upscaler made from the downscaler holds the network too: the chain's disposal leaves it working.
        var client = down.CreateUpscaler(new CompressionAwareUpscaler.Options { Seed = 0 });
        var lr = down.Transform(small.InMemory(ml)).ReadImages("LR")[0];
        var before = client.Upscale(lr);
        model.Dispose();
        model.Dispose();                                          // idempotent
        Assert.False(Freed(network));
        Assert.Equal(before.Data, client.Upscale(lr).Data);
        Assert.Throws<ObjectDisposedException>(() => down.Transform(small.InMemory(ml)).ReadImages("LR"));
        client.Dispose();
        Assert.True(Freed(network));
        Assert.Throws<ObjectDisposedException>(() => client.Upscale(lr));
    }

    [Fact]
    public void A_loaded_model_is_disposable_and_frees_its_networks()
    {
        var pipeline = ml.Transforms.InvertibleDownscaler(ShippedIrnX2).Append(ml.Transforms.CompressionAwareUpscaler());
        string zip = small.TempFile("m.zip");
        using (var model = pipeline.Fit(small.InMemory(ml))) ml.Model.Save(model, small.InMemory(ml).Schema, zip);
        var loaded = ml.Model.Load(zip, out _);
        var chain = Assert.IsAssignableFrom<IEnumerable<ITransformer>>(loaded).ToList();
        var network = Assert.IsType<InvertibleDownscalerTransformer>(chain[0]).Network;
        Assert.Same(network, Assert.IsType<CompressionAwareUpscalerTransformer>(chain[1]).Network);
        Assert.Equal(64, loaded.Transform(small.InMemory(ml)).ReadImages("Upscaled")[0].Width);
        Assert.IsAssignableFrom<IDisposable>(loaded).Dispose();
        Assert.True(Freed(network));
    }
}
