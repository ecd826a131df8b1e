using System.Text.Json.Nodes;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using MLNet.Rescale.IO;
using MLNet.Rescale.Tests.Shared;
using MLNet.Rescale.Reporting;
using MLNet.Rescale.Training;
using TorchSharp;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

public sealed class TrainingTests : IDisposable
{
    private readonly TrainingFolders folders = new("train");
    private string root => folders.Root;
    private string data => folders.Data;
    private string val => folders.Val;

    public void Dispose() => folders.Dispose();

    private TrainerOptions Tiny(long iterations) => new()
    {
        Scale = 2, BlocksPerLevel = [1], Growth = 8, BatchSize = 4, Patch = 32, LearningRate = 1e-3,
        Iterations = iterations, DataFolders = [data], CheckpointEvery = 1000, ValidateEvery = 0, Seed = 7, Threads = 1,
    };

    [Fact]
    public void LossTermsMatchHandComputedValues()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new[] { 0.5f, 1.0f, 0.0f, 2.0f }, [2, 2, 1, 1]);
        var b = tensor(new[] { 0.0f, 1.0f, 1.0f, 0.0f }, [2, 2, 1, 1]);
        // Σ(a−b)²/B = (0.25 + 0 + 1 + 4)/2
        Assert.Equal(2.625, Losses.SumSquares(a, b).ToDouble(), 6);
        // Σ√((a−b)² + 1e−6)/B
        double expected = (Math.Sqrt(0.25 + 1e-6) + Math.Sqrt(1e-6) + Math.Sqrt(1 + 1e-6) + Math.Sqrt(4 + 1e-6)) / 2;
        Assert.Equal(expected, Losses.Charbonnier(a, b).ToDouble(), 6);
    }

    [Fact]
    public void ObjectiveCombinesTheReferenceTerms()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(1);
        using var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1], Growth = 8 }, gen);
        var hr = rand([2, 3, 16, 16], generator: gen);
        var lrRef = rand([2, 3, 8, 8], generator: gen);
        var w = IrnLossWeights.ForScale(2);
        Assert.Equal(4, w.Fit);
        var loss = new IrnObjective(net, w).Compute(hr, lrRef, gen);
        var output = net.forward(hr);
        double fit = 4 * (RescaleNetwork.LrOf(output) - lrRef).square().sum().ToDouble() / 2;
        double latent = RescaleNetwork.LatentOf(output).square().sum().ToDouble() / 2;
        Assert.Equal(["fit", "latent", "reconstruction"], loss.Terms.Select(t => t.Key));
        Assert.Equal(fit, loss["fit"].ToDouble(), 3);
        Assert.Equal(latent, loss["latent"].ToDouble(), 3);
        Assert.Equal(loss["fit"].ToDouble() + loss["latent"].ToDouble() + loss["reconstruction"].ToDouble(), loss.Total.ToDouble(), 3);
    }

    [Fact]
    public void ALatentScaleOfZeroReconstructsFromTheQuantizedLrAndAZeroLatent()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(1);
        using var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1], Growth = 8, LatentScale = 0 }, gen);
        var hr = rand([2, 3, 16, 16], generator: gen);
        var lrRef = rand([2, 3, 8, 8], generator: gen);
        var loss = new IrnObjective(net, IrnLossWeights.ForScale(2)).Compute(hr, lrRef, gen);
        var lr = RescaleNetwork.LrOf(net.forward(hr));
        var quantized = (lr.clamp(0, 1) * 255).round() / 255;
        var rec = net.inverse(cat([quantized, zeros([2, 9, 8, 8])], 1));
        double expected = ((rec - hr).square() + 1e-6).sqrt().sum().ToDouble() / 2;
        Assert.Equal(expected, loss["reconstruction"].ToDouble(), 3);
        // With the reference's N(0, 1) the same network reconstructs differently.
        using var gen2 = new Generator(1);
        using var standard = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1], Growth = 8 }, gen2);
        StateDicts.LoadStrict(standard, net.state_dict());
        Assert.NotEqual(expected, new IrnObjective(standard, IrnLossWeights.ForScale(2)).Compute(hr, lrRef, gen)["reconstruction"].ToDouble(), 3);
    }

    [Fact]
    public void ARunRecordsItsLatentScaleInTheModel()
    {
        using (var t = new Trainer(Path.Combine(root, "z0"), Tiny(2) with { LatentScale = 0 })) t.Run();
        Assert.Equal("0.0", SafetensorsFile.Read(Path.Combine(root, "z0", "model.safetensors")).Metadata["latent_scale"]);
        using var model = ModelFile.Load(Path.Combine(root, "z0", "model.safetensors"));
        Assert.Equal(0.0, model.LatentScale);
    }

    [Fact]
    public void AWarmStartLeftOpenTrainsWithTheInitModelsLatentSpreadAndRecordsIt()
    {
        using (var t = new Trainer(Path.Combine(root, "z0"), Tiny(1) with { LatentScale = 0 })) t.Run();
        string init = Path.Combine(root, "z0", "model.safetensors");
        double Recorded(string run) =>
            System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(root, run, "options.json")))!["LatentScale"]!.GetValue<double>();

        // Same scale, and a x4 whose first level starts from the x2: both inherit 0.
        using (var t = new Trainer(Path.Combine(root, "same"), Tiny(1) with { InitFrom = init }))
        {
            Assert.Equal(0.0, t.Network.LatentScale);
            t.Run();
        }
        Assert.Equal(0.0, Recorded("same"));
        using (var t = new Trainer(Path.Combine(root, "x4"), Tiny(1) with { Scale = 4, BlocksPerLevel = [1, 1], InitFrom = init }))
            Assert.Equal(0.0, t.Network.LatentScale);
        // A spread given explicitly wins; without a warm start it is the reference's 1.
        using (var t = new Trainer(Path.Combine(root, "told"), Tiny(1) with { InitFrom = init, LatentScale = 0.5 }))
            Assert.Equal(0.5, t.Network.LatentScale);
        using (var t = new Trainer(Path.Combine(root, "fresh"), Tiny(1)))
            Assert.Equal(1.0, t.Network.LatentScale);
        Assert.Equal(1.0, Recorded("fresh"));
        // Resuming keeps the resolved value even if the init file changes meanwhile.
        File.Delete(init);
        using (var t = new Trainer(Path.Combine(root, "same"), Tiny(2), resume: true))
            Assert.Equal(0.0, t.Network.LatentScale);
    }

    [Theory]
    [InlineData(false, 0.35, 0.65)]  // uniform over the two images: half the patches each
    [InlineData(true, 0.98, 1.0)]    // by area: the large image holds 23,409 of the 23,490 crop positions (99.7%)
    public void SampleByAreaDrawsImagesInProportionToTheirCropPositions(bool byArea, double low, double high)
    {
        // A black 32² image and a white 320²: each patch's mean tells which image it came from.
        var small = new Imaging.Image(32, 32, 3);
        var large = new Imaging.Image(320, 320, 3);
        Array.Fill(large.Data, 1f);
        var data = new TrainingData([small, large], scale: 2, patch: 16, batchSize: 4, seed: 5, sampleByArea: byArea);
        int fromLarge = 0, patches = 0;
        for (long i = 0; i < 250; i++)
        {
            var batch = data.Make(i);
            int size = 3 * 16 * 16;
            for (int b = 0; b < batch.Size; b++, patches++)
                if (batch.Hr.AsSpan(b * size, size).ToArray().Average() > 0.5) fromLarge++;
        }
        double share = (double)fromLarge / patches;
        Assert.InRange(share, low, high);
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
            return new IrnObjective(trainer.Network, IrnLossWeights.ForScale(2)).Compute(hr, lr, g).Total.ToDouble();
        }
        double before = LossWithFixedLatent();
        trainer.Step(batch);
        double after = LossWithFixedLatent();
        Assert.True(after < before, $"loss {before} → {after}");
    }

    [Fact]
    public void ShortTrainingImprovesValidationPsnr()
    {
        using var trainer = new Trainer(Path.Combine(root, "run"), Tiny(60) with { ValidationFolder = val });
        double before = trainer.Validate();
        trainer.Run();
        double after = trainer.Validate();
        Assert.True(after > before + 0.5, $"validation Y-PSNR {before:F2} → {after:F2} dB");
        // Training draws nothing by itself (a pipeline's Fit never loads the chart library); the curve is asked for.
        Assert.False(File.Exists(Path.Combine(root, "run", "curve.svg")));
        trainer.WriteCurve();
        Assert.StartsWith("<svg", File.ReadAllText(Path.Combine(root, "run", "curve.svg")));
        Assert.Contains("val_psnr_y", File.ReadAllText(Path.Combine(root, "run", "metrics.jsonl")));
        using var model = ModelFile.Load(Path.Combine(root, "run", "model.safetensors"));
        Assert.Equal(2, model.Scale);
    }

    [Fact]
    public void ResumeContinuesExactlyLikeAnUninterruptedRun()
    {
        float[][] Weights(Trainer t) => t.Network.named_parameters().Select(kv => Floats(kv.parameter)).ToArray();
        float[][] straight;
        using (var t = new Trainer(Path.Combine(root, "a"), Tiny(6))) { t.Run(); straight = Weights(t); }
        using (var t = new Trainer(Path.Combine(root, "b"), Tiny(3))) t.Run();
        using (var t = new Trainer(Path.Combine(root, "b"), Tiny(6), resume: true))
        {
            Assert.Equal(3, t.Iteration);
            t.Run();
            var resumed = Weights(t);
            for (int i = 0; i < straight.Length; i++) Assert.Equal(straight[i], resumed[i]);
        }
    }

    [Fact]
    public void AResumedRunsLogCountsTrainingTimeOnFromTheCheckpoint()
    {
        var run = Path.Combine(root, "clock");
        using (var t = new Trainer(run, Tiny(20) with { CheckpointEvery = 10 })) t.Run();
        var metrics = Path.Combine(run, "metrics.jsonl");
        double SecondsAt(long iteration) => File.ReadLines(metrics).Select(l => JsonNode.Parse(l)!)
            .Single(r => r["iteration"]!.GetValue<long>() == iteration)["seconds"]!.GetValue<double>();
        double before = SecondsAt(20);
        Assert.True(before > 0);
        using (var t = new Trainer(run, Tiny(30), resume: true)) t.Run();
        // Iterations 21..30 were trained after the first 20: their clock starts where the log left off, not at 0.
        Assert.True(SecondsAt(30) > before, $"seconds at 30 ({SecondsAt(30)}) should exceed seconds at 20 ({before})");
        Assert.Equal(before, SecondsAt(20));
    }

    [Fact]
    public void AnIrnRunFolderWrittenBeforeSainStillResumes()
    {
        var run = Path.Combine(root, "old");
        using (var t = new Trainer(run, Tiny(2))) t.Run();
        // Rewrite options.json as the trainer wrote it before it knew SAIN (and the latent spread): exactly these fields.
        var path = Path.Combine(run, "options.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        // (The device, which came with the move to TorchSharp, is the caller's choice and not saved.)
        Assert.False(json.ContainsKey("Device"));
        foreach (var key in new[] { "Architecture", "EnhancedBlocks", "VanillaBlocks", "Codec", "LatentScale", "SampleByArea", "AverageDecay", "ExtraValidationFolders" }) Assert.True(json.Remove(key), key);
        Assert.Equal(
            ["Scale", "BlocksPerLevel", "Growth", "DataFolders", "ValidationFolder", "BatchSize", "Patch", "LearningRate", "WeightDecay",
             "Beta1", "Beta2", "ClipNorm", "Milestones", "Gamma", "Warmup", "FitWeight", "Iterations", "Minutes", "ValidateEvery",
             "CheckpointEvery", "Seed", "InitFrom", "Threads"],
            json.Select(kv => kv.Key));
        File.WriteAllText(path, json.ToJsonString());

        using var resumed = new Trainer(run, Tiny(3), resume: true);
        Assert.Equal(TrainingArchitecture.Irn, resumed.Options.Architecture);
        Assert.IsType<InvRescaleNet>(resumed.Network);
        Assert.Equal(1.0, resumed.Network.LatentScale); // the reference's N(0, 1), which such runs trained with
        Assert.Equal(2, resumed.Iteration);
        resumed.Run();
        Assert.Equal(3, resumed.Iteration);
        // IRN's metrics keep their keys, so plots and scripts written for old runs read new ones.
        var last = JsonNode.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).Last())!.AsObject();
        Assert.Equal(["iteration", "seconds", "loss", "fit", "latent", "reconstruction", "lr"], last.Select(kv => kv.Key));
        Assert.Equal("Irn", JsonNode.Parse(File.ReadAllText(path))!["Architecture"]!.GetValue<string>());
    }

    [Fact]
    public void AnInterruptedCheckpointWriteKeepsThePreviousCheckpoint()
    {
        var run = Path.Combine(root, "run");
        using (var t = new Trainer(run, Tiny(2))) t.Run();
        var path = Path.Combine(run, "checkpoint.safetensors");
        var good = File.ReadAllBytes(path);
        // A writer that dies half way (as a killed process would) must not touch the target.
        Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(good.AsSpan(0, good.Length / 2));
            throw new IOException("killed");
        }));
        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
        using var t2 = new Trainer(run, Tiny(3), resume: true);
        Assert.Equal(2, t2.Iteration);
    }

    [Fact]
    public void AScaleFourRunStartsItsFirstLevelFromAScaleTwoModel()
    {
        var x2 = Path.Combine(root, "x2", "model.safetensors");
        using (var t = new Trainer(Path.Combine(root, "x2"), Tiny(2))) t.Run();
        using var x4 = new Trainer(Path.Combine(root, "x4"), Tiny(1) with { Scale = 4, BlocksPerLevel = [1, 1], InitFrom = x2 });
        using var source = ModelFile.Load(x2);
        var level1 = source.state_dict();
        // ×2: Haar (0), block (1). ×4: Haar (0), block (1), Haar (2), block (3): names 0 and 1 coincide.
        Assert.Equal(level1.Keys.Order(), x4.InitializedFrom.Order());
        var mine = x4.Network.state_dict();
        foreach (var (name, t) in level1) Assert.Equal(Floats(t), Floats(mine[name]));
        Assert.DoesNotContain(x4.InitializedFrom, n => n.StartsWith("operations.3.", StringComparison.Ordinal));
    }

    [Fact]
    public void ImagesInMemoryValidateLikeTheSameImagesInAFolder()
    {
        // Same options and seed: the same initial network, so the same validation score from the folder and from memory.
        var butterfly = Imaging.ImageFile.Read(Path.Combine(data, "butterfly.png"));
        var bird = Imaging.ImageFile.Read(Path.Combine(val, "bird.png"));
        using var fromFolder = new Trainer(Path.Combine(root, "folder"), Tiny(4) with { ValidationFolder = val });
        using var inMemory = new Trainer(Path.Combine(root, "memory"), Tiny(4) with { ValidateEvery = 2 }, [butterfly], [bird]);
        Assert.True(inMemory.Validates);
        double expected = fromFolder.Validate();
        Assert.InRange(expected, 5, 60);
        Assert.Equal(expected, inMemory.Validate());

        // The run validates every ValidateEvery iterations and reports it; the log keeps it.
        var reports = new List<TrainingProgress>();
        inMemory.Run(new SyncProgress(reports.Add));
        Assert.Equal([1L, 2, 3, 4], reports.Select(r => r.Iteration));
        Assert.Equal([false, true, false, true], reports.Select(r => r.ValidationPsnr is not null));
        Assert.Equal(inMemory.Validate(), reports[^1].ValidationPsnr!.Value, 9);
        var logged = File.ReadAllLines(Path.Combine(root, "memory", "metrics.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Where(r => r["val_psnr_y"] is not null).Select(r => r["iteration"]!.GetValue<long>());
        Assert.Equal([2L, 4], logged);
    }

    private static float[][] TrainedWeights(RescaleNetwork net) =>
        net.named_parameters().Where(kv => kv.parameter.requires_grad).Select(kv => Floats(kv.parameter)).ToArray();

    [Fact]
    public void AnAveragingRunSavesTheMovingAverageOfItsWeights()
    {
        const double decay = 0.9;
        var run = Path.Combine(root, "average");
        using var trainer = new Trainer(run, Tiny(10) with { AverageDecay = decay });
        using var batches = new TrainingData([data], 2, 32, 4, 3);
        // The average by hand: it starts at the initial weights and follows each step with the warmed-up decay.
        var expected = TrainedWeights(trainer.Network).Select(w => w.Select(v => (double)v).ToArray()).ToArray();
        for (int t = 1; t <= 4; t++)
        {
            trainer.Step(batches.Make(t));
            double d = Math.Min(decay, (1.0 + t) / (10.0 + t));
            var now = TrainedWeights(trainer.Network);
            for (int i = 0; i < now.Length; i++)
                for (int j = 0; j < now[i].Length; j++) expected[i][j] = d * expected[i][j] + (1 - d) * now[i][j];
        }
        var trainedNow = TrainedWeights(trainer.Network);
        trainer.SaveCheckpoint();
        using var model = ModelFile.Load(Path.Combine(run, "model.safetensors"));
        var saved = TrainedWeights(model);
        double maxError = 0, maxFromTrained = 0;
        for (int i = 0; i < saved.Length; i++)
            for (int j = 0; j < saved[i].Length; j++)
            {
                maxError = Math.Max(maxError, Math.Abs(saved[i][j] - expected[i][j]));
                maxFromTrained = Math.Max(maxFromTrained, Math.Abs(saved[i][j] - trainedNow[i][j]));
            }
        Assert.True(maxError < 1e-5, $"saved weights differ from the hand-computed average by {maxError}");
        Assert.True(maxFromTrained > 1e-4, $"the saved model should be the average, not the last weights (max difference {maxFromTrained})");
        // Saving swapped the average in and out: the network trains on from its own weights.
        var after = TrainedWeights(trainer.Network);
        for (int i = 0; i < after.Length; i++) Assert.Equal(trainedNow[i], after[i]);
        Assert.Contains("moving average, decay 0.9", File.ReadAllText(Path.Combine(run, "model.safetensors")));
    }

    [Fact]
    public void AnAveragingRunResumesItsAverageExactly()
    {
        var options = Tiny(6) with { AverageDecay = 0.8 };
        float[][] Saved(string run)
        {
            using var model = ModelFile.Load(Path.Combine(run, "model.safetensors"));
            return TrainedWeights(model);
        }
        using (var t = new Trainer(Path.Combine(root, "a"), options)) t.Run();
        using (var t = new Trainer(Path.Combine(root, "b"), options with { Iterations = 3 })) t.Run();
        using (var t = new Trainer(Path.Combine(root, "b"), options, resume: true)) t.Run();
        var straight = Saved(Path.Combine(root, "a"));
        var resumed = Saved(Path.Combine(root, "b"));
        for (int i = 0; i < straight.Length; i++) Assert.Equal(straight[i], resumed[i]);
        // A checkpoint without the average cannot resume an averaging run: one error naming the file.
        using (var t = new Trainer(Path.Combine(root, "plain"), Tiny(2))) t.Run();
        var folder = Path.Combine(root, "plain");
        var json = File.ReadAllText(Path.Combine(folder, "options.json")).Replace("\"AverageDecay\": null", "\"AverageDecay\": 0.8");
        Assert.Contains("0.8", json);
        File.WriteAllText(Path.Combine(folder, "options.json"), json);
        var e = Assert.Throws<InvalidDataException>(() => new Trainer(folder, Tiny(4), resume: true));
        Assert.Contains("checkpoint.safetensors", e.Message);
        Assert.Contains("lacks average.", e.Message);
    }

    [Fact]
    public void ExtraValidationFoldersAreScoredAtEveryValidationLoggedAndDrawn()
    {
        // The same image under another folder name scores exactly what the validation folder scores, every time.
        var set14 = Directory.CreateDirectory(Path.Combine(root, "Set14")).FullName;
        File.Copy(Path.Combine(val, "bird.png"), Path.Combine(set14, "bird.png"));
        var run = Path.Combine(root, "extra");
        using (var trainer = new Trainer(run, Tiny(4) with { ValidationFolder = val, ExtraValidationFolders = [set14 + "/"], ValidateEvery = 2 }))
        {
            trainer.Run();
            trainer.WriteCurve();
        }
        var validated = File.ReadLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Where(r => r["val_psnr_y"] is not null).ToList();
        Assert.Equal([2L, 4L], validated.Select(r => r["iteration"]!.GetValue<long>()));
        foreach (var r in validated) Assert.Equal(r["val_psnr_y"]!.GetValue<double>(), r["val_psnr_y_Set14"]!.GetValue<double>());
        Assert.Contains("Round trip on Set14", File.ReadAllText(Path.Combine(run, "curve.svg")));
    }

    [Fact]
    public void ExtraValidationFoldersNeedDistinctNamesAndAValidationFolder()
    {
        var other = Directory.CreateDirectory(Path.Combine(root, "elsewhere", "val")).FullName;
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Path.Combine(root, "twice"), Tiny(1) with { ValidationFolder = val, ExtraValidationFolders = [val, other] }));
        Assert.Contains("share the name 'val'", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Trainer(Path.Combine(root, "alone"), Tiny(1) with { ExtraValidationFolders = [other] }));
        Assert.Contains("beside a validation set", e.Message);
        // Validation images held in memory are a validation set too: the further folder is scored beside them.
        File.Copy(Path.Combine(val, "bird.png"), Path.Combine(other, "bird.png"));
        var bird = Imaging.ImageFile.Read(Path.Combine(val, "bird.png"));
        var butterfly = Imaging.ImageFile.Read(Path.Combine(data, "butterfly.png"));
        using var inMemory = new Trainer(Path.Combine(root, "memory"), Tiny(1) with { ExtraValidationFolders = [other] }, [butterfly], [bird]);
        Assert.Equal(inMemory.Validate(), Assert.Single(inMemory.ValidateExtraFolders()).Value);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void AnAverageDecayOutsideZeroToOneIsRefused(double decay) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(Path.Combine(root, "bad"), Tiny(1) with { AverageDecay = decay }));

    [Fact]
    public void ValidatingWithoutValidationImagesIsAClearError()
    {
        var butterfly = Imaging.ImageFile.Read(Path.Combine(data, "butterfly.png"));
        using var trainer = new Trainer(Path.Combine(root, "none"), Tiny(1), [butterfly]);
        Assert.False(trainer.Validates);
        Assert.Contains("no validation images", Assert.Throws<InvalidOperationException>(() => trainer.Validate()).Message);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Path.Combine(root, "empty"), Tiny(1), [butterfly], []));
        Assert.Contains("validation set has no images", e.Message);
    }

    /// <summary>Reports on the training thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
