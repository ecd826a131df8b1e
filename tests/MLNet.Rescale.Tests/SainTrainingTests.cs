using System.Text.Json.Nodes;
using MLNet.Rescale.Compression;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tests.Shared;
using MLNet.Rescale.Training;
using TorchSharp;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

public sealed class SainTrainingTests : IDisposable
{
    private readonly TrainingFolders folders = new("sain-train");
    private string root => folders.Root;
    private string data => folders.Data;
    private string val => folders.Val;

    public void Dispose() => folders.Dispose();

    private TrainerOptions Tiny(long iterations) => new()
    {
        Architecture = TrainingArchitecture.Sain, Scale = 2, EnhancedBlocks = 1, VanillaBlocks = 1, Growth = 8, BatchSize = 4, Patch = 32,
        LearningRate = 1e-3, Iterations = iterations, DataFolders = [data], CheckpointEvery = 1000, ValidateEvery = 0, Seed = 7, Threads = 1,
    };

    private static void Close(double expected, double actual, double relative = 1e-4, string what = "") =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected}, got {actual}");

    private static double SumSquares(float[] a, float[] b, int batch)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)(a[i] - b[i]) * (a[i] - b[i]);
        return s / batch;
    }

    /// <summary>Each image of an NCHW array through the real codec the plain way, one Image at a time.</summary>
    private static float[] CodedOneByOne(LossyCodec codec, float[] nchw, int n, int h, int w)
    {
        int size = 3 * h * w;
        var coded = new float[nchw.Length];
        for (int i = 0; i < n; i++)
            codec.Apply(new Image(w, h, 3, nchw.AsSpan(i * size, size).ToArray())).Data.CopyTo(coded, i * size);
        return coded;
    }

    [Fact]
    public void LossTermsMatchHandComputedValues()
    {
        // The conformance weights are perturbed, so every block (and E in particular) acts.
        using var net = (SainNetwork)ModelFile.Load(TestPaths.Conformance("sain_x2_small.safetensors"));
        using var scope = NewDisposeScope();
        using var gen = new Generator(5);
        var hr = rand([2, 3, 16, 16], generator: gen);
        var lrBic = rand([2, 3, 8, 8], generator: gen);
        var codec = LossyCodec.Parse("jpeg:75");
        var latentGen = new Generator(11);
        var latentState = latentGen.get_state();
        var loss = new SainObjective(net, codec, lambda: 4).Compute(hr, lrBic, latentGen);
        Assert.Equal(["back", "fit1", "fit2", "reg", "rel"], loss.Terms.Select(t => t.Key));

        using var _ = no_grad();
        var (output, lr) = net.ForwardWithLr(hr);
        float[] lrA = Floats(lr), bicA = Floats(lrBic);
        float[] simulated = Floats(RescaleNetwork.LrOf(output));
        float[] lrq = lrA.Select(v => MathF.Round(Math.Clamp(v, 0f, 1f) * 255f) / 255f).ToArray();
        double fit1 = 4 * SumSquares(lrA, bicA, 2);
        double fit2 = 4 * SumSquares(simulated, CodedOneByOne(codec, bicA, 2, 8, 8), 2);
        double rel = 4 * SumSquares(simulated, CodedOneByOne(codec, lrq, 2, 8, 8), 2);
        // The same latent draw, then the inverse from what the surrogate codec leaves of the quantized LR.
        latentGen.set_state(latentState);
        var lrqT = tensor(lrq, [2, 3, 8, 8]);
        var z = net.SampleLatent(lrqT.shape, latentGen);
        var (hrRec, restored) = net.InverseWithLr(cat([new DiffJpeg(75).forward(lrqT), z], 1));
        double reg = 4 * SumSquares(lrq, Floats(restored), 2);
        float[] rec = Floats(hrRec), hrA = Floats(hr);
        double back = 0;
        for (int i = 0; i < rec.Length; i++) back += Math.Sqrt((double)(rec[i] - hrA[i]) * (rec[i] - hrA[i]) + 1e-6);
        back /= 2;

        Assert.True(fit2 > 0 && rel > 0 && reg > 0, "every term is non-trivial on these weights");
        Close(fit1, loss["fit1"].ToDouble(), what: "fit1");
        Close(fit2, loss["fit2"].ToDouble(), what: "fit2");
        Close(rel, loss["rel"].ToDouble(), what: "rel");
        Close(reg, loss["reg"].ToDouble(), 1e-3, "reg");
        Close(back, loss["back"].ToDouble(), 1e-3, "back");
        double terms = loss["fit1"].ToDouble() + loss["fit2"].ToDouble() + loss["reg"].ToDouble() + loss["rel"].ToDouble();
        Close(loss["back"].ToDouble() + terms / 4, loss.Total.ToDouble(), 1e-6, "total = back + mean of the four");
        latentGen.Dispose();
    }

    [Theory]
    [InlineData("jpeg:75")]
    [InlineData("webp:50")]
    public void TheRealCodecOnABatchIsTheCodecOnEachImageAndHasNoGradient(string name)
    {
        var codec = LossyCodec.Parse(name);
        using var scope = NewDisposeScope();
        using var gen = new Generator(2);
        var x = rand([3, 3, 24, 24], generator: gen);
        x.requires_grad = true;
        var coded = codec.ApplyToBatch(x * 1.0);
        Assert.Equal(x.shape, coded.shape);
        Assert.False(coded.requires_grad);
        var expected = CodedOneByOne(codec, Floats(x), 3, 24, 24);
        Assert.Equal(expected, Floats(coded));
        Assert.NotEqual(Floats(x), expected);
    }

    [Fact]
    public void TheArchitectureChoosesNetworkObjectiveAndDefaults()
    {
        using (var init = new Generator(1))
        {
            var irn = TrainingObjective.Create(new TrainerOptions { BlocksPerLevel = [1], Growth = 8 }, init);
            using var _ = irn.Network;
            Assert.IsType<IrnObjective>(irn);
            Assert.Null(irn.ValidationCodec);
        }
        using (var init = new Generator(1))
        {
            var sain = Assert.IsType<SainObjective>(TrainingObjective.Create(new TrainerOptions { Architecture = TrainingArchitecture.Sain, Scale = 4, Growth = 8 }, init));
            using var net = Assert.IsType<SainNetwork>(sain.Network);
            Assert.Equal(16, sain.Lambda);
            Assert.Equal((10, 6), (net.Options.ResolvedEnhancedBlocks, net.Options.ResolvedVanillaBlocks));
            Assert.Equal("jpeg:75", sain.ValidationCodec!.ToString());
        }
        using (var init = new Generator(1))
        {
            var sain = Assert.IsType<SainObjective>(TrainingObjective.Create(Tiny(1) with { EnhancedBlocks = null, VanillaBlocks = null, Codec = "webp:80" }, init));
            using var net = Assert.IsType<SainNetwork>(sain.Network);
            Assert.Equal(4, sain.Lambda);
            Assert.Equal((5, 3), (net.Options.ResolvedEnhancedBlocks, net.Options.ResolvedVanillaBlocks));
            Assert.Equal(new LossyCodec(ImageFormat.Webp, 80), sain.Codec);
        }
        using (var init = new Generator(1))
            Assert.Throws<FormatException>(() => TrainingObjective.Create(Tiny(1) with { Codec = "png:5" }, init));
    }

    [Fact]
    public void OneStepLowersTheLossOnAFixedBatch()
    {
        using var trainer = new Trainer(Path.Combine(root, "run"), Tiny(10));
        var batch = new TrainingData([data], 2, 32, 4, 3).Make(0);
        double LossWithFixedLatent()
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var g = new Generator(99);
            var hr = tensor(batch.Hr, [4, 3, 32, 32]);
            var lr = tensor(batch.Lr, [4, 3, 16, 16]);
            return trainer.Objective.Compute(hr, lr, g).Total.ToDouble();
        }
        double before = LossWithFixedLatent();
        var terms = trainer.Step(batch);
        double after = LossWithFixedLatent();
        Assert.True(after < before, $"loss {before} → {after}");
        Assert.Equal(["back", "fit1", "fit2", "reg", "rel"], terms.Terms.Select(t => t.Key));
        Assert.All(terms.Terms, t => Assert.True(double.IsFinite(t.Value) && t.Value >= 0, t.Key));
    }

    [Fact]
    public void ResumeContinuesExactlyLikeAnUninterruptedRun()
    {
        float[][] Weights(Trainer t) => t.Network.named_parameters().Select(kv => Floats(kv.parameter)).ToArray();
        float[][] straight;
        using (var t = new Trainer(Path.Combine(root, "a"), Tiny(6))) { t.Run(); straight = Weights(t); }
        using (var t = new Trainer(Path.Combine(root, "b"), Tiny(3))) t.Run();
        using (var t = new Trainer(Path.Combine(root, "b"), Tiny(6) with { Architecture = TrainingArchitecture.Irn }, resume: true))
        {
            // The run folder, not the caller, says what the run is.
            Assert.IsType<SainNetwork>(t.Network);
            Assert.Equal(3, t.Iteration);
            t.Run();
            var resumed = Weights(t);
            Assert.Contains(t.Network.named_parameters(), kv => kv.name == "gmm.gmm_para");
            for (int i = 0; i < straight.Length; i++) Assert.Equal(straight[i], resumed[i]);
        }
        var metrics = File.ReadLines(Path.Combine(root, "b", "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(6, metrics[^1]["iteration"]!.GetValue<long>());
        foreach (var key in new[] { "loss", "back", "fit1", "fit2", "reg", "rel" }) Assert.NotNull(metrics[^1][key]);
        Assert.Equal("Sain", JsonNode.Parse(File.ReadAllText(Path.Combine(root, "b", "options.json")))!["Architecture"]!.GetValue<string>());
        using var model = ModelFile.Load(Path.Combine(root, "b", "model.safetensors"));
        Assert.Equal("SAIN", model.Architecture);
    }

    [Fact]
    public void ValidationScoresTheRoundTripThroughTheRealCodec()
    {
        using var trainer = new Trainer(Path.Combine(root, "run"), Tiny(1) with { ValidationFolder = val, Codec = "jpeg:30" });
        double validated = trainer.Validate();
        var rescaler = new Rescaler(trainer.Network, new RescalerOptions { Seed = 0 });
        var codec = LossyCodec.Parse("jpeg:30");
        Assert.Equal(Evaluator.Run(rescaler, val, codec.Apply).PsnrY, validated, 6);
        Assert.NotEqual(Evaluator.Run(rescaler, val).PsnrY, validated, 3);
    }
}
