using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Rescale.ML.Rescaling;
using MLNet.Rescale.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// The components use the <see cref="MLContext"/> they were created from as ML.NET's own components do: its log, its
/// cancellation, its GPU settings and its seed.
/// </summary>
[Collection(SmallImagesCollection.Name)]
public sealed class HostTests(SmallImages small)
{
    private static string ShippedX2 => Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors");
    private static string ShippedSain => Path.Combine(TestPaths.RepoRoot, "models", "sain-x2-jpeg.safetensors");

    private static InvertibleDownscaler.Options TinyTraining(long iterations) => new()
    {
        Blocks = 1, Growth = 8, Iterations = iterations, BatchSize = 2, PatchSize = 16,
    };

    /// <summary>
    /// <c>mlContext.CancelExecution()</c>: ML.NET keeps it internal (AutoML calls it when an experiment's time is up),
    /// so a test reaches it by reflection.
    /// </summary>
    private static void Cancel(MLContext ml) =>
        typeof(MLContext).GetMethod("CancelExecution", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!.Invoke(ml, null);

    private static List<LoggingEventArgs> Listen(MLContext ml)
    {
        var messages = new List<LoggingEventArgs>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e); };
        return messages;
    }

    // A component's own messages (without ML.NET's "Channel started"/"Channel disposed" notes).
    private static List<LoggingEventArgs> From(List<LoggingEventArgs> messages, string component)
    {
        lock (messages)
            return messages.Where(m => m.Source.Contains(component, StringComparison.Ordinal) && !m.RawMessage.StartsWith("Channel ", StringComparison.Ordinal)).ToList();
    }

    [Fact]
    public void A_training_Fit_reports_its_iterations_through_mlContext_Log()
    {
        var ml = new MLContext(seed: 1);
        var messages = Listen(ml);
        using var t = ml.Transforms.InvertibleDownscaler(TinyTraining(30)).Fit(small.InMemory(ml));
        var ours = From(messages, nameof(InvertibleDownscaler));
        Assert.Contains(ours, m => m.Kind == ChannelMessageKind.Info && m.RawMessage.StartsWith("training IRN ×2 on 2 images for 30 iterations", StringComparison.Ordinal));
        // Every iteration reaches the log: a tenth of the run (and the first) at Info, the rest at Trace, with loss and ETA.
        var iterations = ours.Where(m => m.RawMessage.StartsWith("iteration ", StringComparison.Ordinal)).ToList();
        Assert.Equal(Enumerable.Range(1, 30).Select(i => $"iteration {i}/30"), iterations.Select(m => m.RawMessage.Split(' ').Take(2).Aggregate((a, b) => a + " " + b)));
        Assert.All(iterations, m => Assert.Matches(@"loss [0-9.]+ \(.*\) lr .* ETA \d\d:\d\d:\d\d$", m.RawMessage));
        Assert.Equal([1, 4, 7, 10, 13, 16, 19, 22, 25, 28], iterations.Select((m, i) => (m, i)).Where(x => x.m.Kind == ChannelMessageKind.Info).Select(x => x.i + 1));
        Assert.Equal(20, iterations.Count(m => m.Kind == ChannelMessageKind.Trace));
        Assert.Contains(ours, m => m.Kind == ChannelMessageKind.Info && m.RawMessage == "trained 30 iterations");
    }

    [Fact]
    public void An_HCD_transform_reports_its_stages_through_mlContext_Log()
    {
        var ml = new MLContext(seed: 1);
        var messages = Listen(ml);
        var pipeline = ml.Transforms.InvertibleDownscaler(ShippedX2)
            .Append(ml.Transforms.CollaborativeLrOptimizer(new CollaborativeLrOptimizer.Options { HrIterations = 2, LrIterations = 3, CheckLatents = 0 }));
        using var model = (IDisposable)pipeline.Fit(small.InMemory(ml));
        ((ITransformer)model).Transform(small.InMemory(ml)).ReadImages("LR");
        var hcd = From(messages, nameof(CollaborativeLrOptimizer)).Select(m => (m.Kind, m.RawMessage)).ToList();
        // Per image: what is optimized, each stage as it starts (Info), each iteration (Trace), the time taken.
        var perImage = new (ChannelMessageKind, string)[]
        {
            (ChannelMessageKind.Info, "optimizing the LR of a 64×64 image: HR stage 2 iterations, LR stage 3"),
            (ChannelMessageKind.Info, "HR stage"),
            (ChannelMessageKind.Trace, "HR stage iteration 1/2"),
            (ChannelMessageKind.Trace, "HR stage iteration 2/2"),
            (ChannelMessageKind.Info, "LR stage"),
            (ChannelMessageKind.Trace, "LR stage iteration 1/3"),
            (ChannelMessageKind.Trace, "LR stage iteration 2/3"),
            (ChannelMessageKind.Trace, "LR stage iteration 3/3"),
        };
        var withoutTimes = hcd.Where(m => !m.RawMessage.StartsWith("optimized in ", StringComparison.Ordinal)).ToList();
        Assert.Equal(perImage.Concat(perImage), withoutTimes);
        Assert.Equal(2, hcd.Count(m => m.Kind == ChannelMessageKind.Info && m.RawMessage.StartsWith("optimized in ", StringComparison.Ordinal)));
    }

    [Fact]
    public void CancelExecution_stops_a_training_Fit_at_the_next_iteration_and_leaves_a_whole_checkpoint()
    {
        var ml = new MLContext(seed: 1);
        string run = Path.Combine(Path.GetDirectoryName(small.TempFile("x"))!, "run");
        ml.Log += (_, e) =>
        {
            if (e.RawMessage.StartsWith("iteration 3/", StringComparison.Ordinal)) Cancel(ml);
        };
        var options = TinyTraining(1000);
        options.RunFolder = run;
        options.Progress = new SyncProgressProbe();
        var e = Assert.Throws<OperationCanceledException>(() => ml.Transforms.InvertibleDownscaler(options).Fit(small.InMemory(ml)));
        Assert.Equal("Operation was cancelled.", e.Message);
        // Stopped at the iteration it was cancelled in, 997 short of the budget, with the run's files written whole.
        Assert.Equal(3, ((SyncProgressProbe)options.Progress).Last);
        Assert.Equal("3", IO.SafetensorsFile.Read(Path.Combine(run, "model.safetensors")).Metadata["trained_iterations"]);
        Assert.Equal("3", IO.SafetensorsFile.Read(Path.Combine(run, "checkpoint.safetensors")).Metadata["iteration"]);
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
    }

    [Fact]
    public void CancelExecution_stops_an_HCD_transform_at_the_next_iteration()
    {
        var ml = new MLContext(seed: 1);
        int iterationsAfterCancel = 0;
        bool cancelled = false;
        ml.Log += (_, e) =>
        {
            if (!e.RawMessage.StartsWith("HR stage iteration", StringComparison.Ordinal)) return;
            if (cancelled) iterationsAfterCancel++;
            cancelled = true;
            Cancel(ml);
        };
        var pipeline = ml.Transforms.InvertibleDownscaler(ShippedX2)
            .Append(ml.Transforms.CollaborativeLrOptimizer(new CollaborativeLrOptimizer.Options { HrIterations = 50, LrIterations = 50, CheckLatents = 0 }));
        var model = pipeline.Fit(small.InMemory(ml));
        Assert.Throws<OperationCanceledException>(() => model.Transform(small.InMemory(ml)).ReadImages("LR"));
        Assert.True(cancelled);
        Assert.Equal(0, iterationsAfterCancel);
    }

    [Fact]
    public void No_GpuDeviceId_runs_on_the_CPU()
    {
        var ml = new MLContext();
        Assert.Null(ml.GpuDeviceId);
        Assert.Equal(DeviceType.CPU, ComponentHost.ResolveDevice(null, fallbackToCpu: false, () => throw new InvalidOperationException("not asked"), ml).type);
        using var t = ml.Transforms.InvertibleDownscaler(ShippedX2).Fit(small.InMemory(ml));
        Assert.Equal(DeviceType.CPU, t.Network.parameters().First().device_type);
    }

    [Fact]
    public void A_GpuDeviceId_runs_on_that_CUDA_device_when_CUDA_is_there()
    {
        var device = ComponentHost.ResolveDevice(1, fallbackToCpu: false, () => true, new MLContext());
        Assert.Equal((DeviceType.CUDA, 1), (device.type, device.index));
    }

    [Fact]
    public void Without_CUDA_a_GpuDeviceId_falls_back_to_the_CPU_with_a_warning_when_allowed()
    {
        Assert.False(cuda.is_available()); // this machine: libtorch-cpu-linux-x64
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var messages = Listen(ml);
        using var t = ml.Transforms.InvertibleDownscaler(ShippedX2).Fit(small.InMemory(ml));
        Assert.Equal(DeviceType.CPU, t.Network.parameters().First().device_type);
        var warning = Assert.Single(messages, m => m.Kind == ChannelMessageKind.Warning && m.Source.Contains(nameof(InvertibleDownscaler), StringComparison.Ordinal));
        Assert.Contains("GpuDeviceId is 0", warning.RawMessage);
        Assert.Contains("running on the CPU", warning.RawMessage);
    }

    [Fact]
    public void Without_CUDA_a_GpuDeviceId_without_fallback_is_one_clear_error_naming_the_package()
    {
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var e = Assert.Throws<InvalidOperationException>(() => ml.Transforms.InvertibleDownscaler(ShippedX2).Fit(small.InMemory(ml)));
        Assert.Contains("GpuDeviceId is 0", e.Message);
        Assert.Contains("TorchSharp-cuda-linux", e.Message);
        Assert.Contains("FallbackToCpu", e.Message);
        // The same rule where a saved model is loaded: the device is the loading context's.
        var saving = new MLContext(seed: 1);
        using var fitted = saving.Transforms.InvertibleDownscaler(ShippedX2).Fit(small.InMemory(saving));
        string zip = small.TempFile("device.zip");
        saving.Model.Save(fitted, small.InMemory(saving).Schema, zip);
        Assert.Contains("TorchSharp-cuda-linux", Assert.ThrowsAny<Exception>(() => ml.Model.Load(zip, out _)).ToString());
    }

    [Fact]
    public void The_latent_draw_follows_the_MLContext_seed()
    {
        List<float[]> Upscaled(int? seed)
        {
            var ml = new MLContext(seed);
            var pipeline = ml.Transforms.InvertibleDownscaler(ShippedSain).Append(ml.Transforms.CompressionAwareUpscaler());
            using var model = (IDisposable)pipeline.Fit(small.InMemory(ml));
            return ((ITransformer)model).Transform(small.InMemory(ml)).ReadImages("Upscaled").Select(i => i.Data).ToList();
        }
        var seven = Upscaled(7);
        Assert.Equal(seven, Upscaled(7));
        Assert.NotEqual(seven, Upscaled(8));
        // No seed anywhere: 0, so a pipeline without seeds upscales the same way in every run.
        Assert.Equal(Upscaled(0), Upscaled(null));
    }

    [Fact]
    public void Training_follows_the_MLContext_seed_unless_the_options_name_one()
    {
        float[] Weights(int? contextSeed, ulong? ownSeed)
        {
            var ml = new MLContext(contextSeed);
            var options = TinyTraining(2);
            options.Seed = ownSeed;
            using var t = ml.Transforms.InvertibleDownscaler(options).Fit(small.InMemory(ml));
            return t.Network.state_dict().Values.SelectMany(p => p.data<float>().ToArray()).ToArray();
        }
        var seven = Weights(7, null);
        Assert.Equal(seven, Weights(7, null));
        Assert.NotEqual(seven, Weights(8, null));
        Assert.Equal(Weights(8, 7), Weights(9, 7));
    }

    private sealed class SyncProgressProbe : IProgress<TrainingProgress>
    {
        public long Last { get; private set; }
        public void Report(TrainingProgress value) => Last = value.Iteration;
    }
}
