using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.Rescale.IO;

namespace MLNet.Rescale.Training;

/// <summary>
/// A progress report after a training iteration. <see cref="ExpectedIterations"/> is where the run will stop: the
/// iteration budget, or fewer when the time budget ends first at the current speed.
/// </summary>
public sealed record TrainingProgress(long Iteration, long ExpectedIterations, TimeSpan Elapsed, TimeSpan Remaining,
    Trainer.StepTerms Terms, double LearningRate, double? ValidationPsnr)
{
    /// <summary>The total loss of the iteration.</summary>
    public double Loss => Terms.Total;
}

/// <summary>
/// Trains an IRN or a SAIN (<see cref="TrainerOptions.Architecture"/>) in a run folder: <c>options.json</c>,
/// <c>checkpoint.safetensors</c> (weights, Adam moments, iteration and generator state; written atomically),
/// <c>model.safetensors</c> (the exportable model),
/// <c>metrics.jsonl</c> and <c>curve.svg</c>. A resumed run continues exactly where the checkpoint left off:
/// same data order, optimizer state, schedule and latent draws. What differs between architectures (the network, its
/// loss terms, the codec validation applies) is the <see cref="TrainingObjective"/>'s business.
/// </summary>
public sealed class Trainer : IDisposable
{
    private const string CheckpointName = "checkpoint.safetensors";
    private readonly string runDir;
    private readonly RescaleNetwork net;
    private readonly TrainingObjective objective;
    private readonly SafeAdam adam;
    private readonly Parameter[] trained;
    private readonly LearningRateSchedule schedule;
    private readonly Generator latentGen;
    private readonly Device device;
    private readonly TrainingData data;
    private readonly MetricsLog log;
    private readonly IReadOnlyList<Imaging.Image>? validationImages;
    private readonly string[] trainedNames;
    // The moving average of the trained weights (same order as trained), when AverageDecay is set.
    private readonly Tensor[]? average;

    /// <summary>The options a run folder was started with (its <c>options.json</c>).</summary>
    /// <exception cref="InvalidDataException">The file holds no options.</exception>
    public static TrainerOptions SavedOptions(string runDir)
    {
        var path = Path.Combine(runDir, "options.json");
        return JsonSerializer.Deserialize<TrainerOptions>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty options");
    }

    /// <summary>Opens a run folder: a new run with <paramref name="options"/>, or (with <paramref name="resume"/>) the saved one.</summary>
    public Trainer(string runDir, TrainerOptions options, bool resume = false)
        : this(runDir, options, resume, images: null)
    {
    }

    /// <summary>
    /// Opens a new run that trains on <paramref name="images"/> held in memory instead of
    /// <see cref="TrainerOptions.DataFolders"/> (which is ignored); the run folder still receives the checkpoint, the
    /// model and the log. Such a run cannot be resumed from its folder alone. With <paramref name="validationImages"/>
    /// the run validates on those (held in memory) instead of <see cref="TrainerOptions.ValidationFolder"/>, every
    /// <see cref="TrainerOptions.ValidateEvery"/> iterations and at the end.
    /// </summary>
    public Trainer(string runDir, TrainerOptions options, IEnumerable<Imaging.Image> images, IEnumerable<Imaging.Image>? validationImages = null)
        : this(runDir, options, resume: false, images ?? throw new ArgumentNullException(nameof(images)), ValidationList(validationImages))
    {
    }

    private static List<Imaging.Image>? ValidationList(IEnumerable<Imaging.Image>? validationImages)
    {
        var list = validationImages?.ToList();
        return list is { Count: 0 } ? throw new ArgumentException("the validation set has no images", nameof(validationImages)) : list;
    }

    private Trainer(string runDir, TrainerOptions options, bool resume, IEnumerable<Imaging.Image>? images, IReadOnlyList<Imaging.Image>? validationImages = null)
    {
        // libtorch first (one clear error if it cannot load): the generators below are TorchSharp's first touch.
        TorchRuntime.EnsureStarted();
        this.validationImages = validationImages;
        this.runDir = runDir;
        Directory.CreateDirectory(runDir);
        RemoveStaleTemporaryFiles(runDir);
        var optionsPath = Path.Combine(runDir, "options.json");
        SafetensorsFile? initFile = null;
        if (resume)
        {
            if (!File.Exists(Path.Combine(runDir, CheckpointName)))
                throw new InvalidDataException($"{runDir}: no {CheckpointName} to resume from");
            var saved = SavedOptions(runDir);
            // The run's definition comes from the folder; only the budgets come from the caller. A folder written
            // before the latent spread existed trained with the reference's N(0, 1).
            options = saved with { Iterations = options.Iterations, Minutes = options.Minutes, Device = options.Device, LatentScale = saved.LatentScale ?? 1.0 };
        }
        else
        {
            // The warm-start file is read once: for its latent spread now, for its weights once the network exists.
            initFile = TryReadInit(options.InitFrom);
            options = options with { LatentScale = options.LatentScale ?? InheritedLatentScale(options, initFile) };
        }
        if (options.ExtraValidationFolders.Select(ExtraValidationKey).GroupBy(k => k).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"two extra validation folders share the name '{twice.Key["val_psnr_y_".Length..]}'; their scores would share a column", nameof(options));
        if (options.ExtraValidationFolders.Length > 0 && options.ValidationFolder is null && validationImages is null)
            throw new ArgumentException("extra validation folders are scored beside a validation set; the run has none", nameof(options));
        if (options.AverageDecay is { } decay && !(decay > 0 && decay < 1))
            throw new ArgumentOutOfRangeException(nameof(options), decay, "the weight-average decay must lie strictly between 0 and 1");
        Options = options;
        if (options.Threads > 0) set_num_threads(options.Threads);

        // Built before options.json is written, so options it rejects (a mistyped codec) are not saved as a run.
        using (var init = new Generator(options.Seed))
            objective = TrainingObjective.Create(options, init);
        net = objective.Network;
        device = new Device(options.Device);
        if (device.type != DeviceType.CPU) net.to(device);
        AtomicFile.WriteAllBytes(optionsPath, JsonSerializer.SerializeToUtf8Bytes(options, new JsonSerializerOptions { WriteIndented = true }));
        var named = net.named_parameters().Where(kv => kv.parameter.requires_grad).ToArray();
        trained = named.Select(kv => kv.parameter).ToArray();
        trainedNames = named.Select(kv => kv.name).ToArray();
        adam = new SafeAdam(trained, options.LearningRate, options.Beta1, options.Beta2, eps: 1e-8, weight_decay: options.WeightDecay);
        schedule = new LearningRateSchedule(adam, options.LearningRate, options.Milestones, options.Gamma, options.Warmup);
        latentGen = new Generator(options.Seed + 1, device);
        data = images is null
            ? new TrainingData(options.DataFolders, options.Scale, options.Patch, options.BatchSize, options.Seed, options.SampleByArea)
            : new TrainingData(images, options.Scale, options.Patch, options.BatchSize, options.Seed, options.SampleByArea);
        log = new MetricsLog(Path.Combine(runDir, "metrics.jsonl"));
        if (resume) LoadCheckpoint(out average);
        else
        {
            if (options.InitFrom is { } init) InitializeFrom(initFile ?? SafetensorsFile.Read(init));
            average = options.AverageDecay is null ? null : CopyOfTrained();
        }
        log.TruncateAfter(Iteration);
    }

    /// <summary>The run's settings.</summary>
    public TrainerOptions Options { get; }
    /// <summary>Iterations completed.</summary>
    public long Iteration { get; private set; }
    /// <summary>The network being trained.</summary>
    public RescaleNetwork Network => net;
    /// <summary>The architecture's objective (network, loss terms, validation codec).</summary>
    public TrainingObjective Objective => objective;
    /// <summary>Training images loaded.</summary>
    public int ImageCount => data.Count;

    /// <summary>Whether the run validates: it has validation images in memory or a <see cref="TrainerOptions.ValidationFolder"/>.</summary>
    public bool Validates => validationImages is not null || Options.ValidationFolder is not null;

    /// <summary>Trains until the iteration or time budget ends (or cancellation), checkpointing along the way.</summary>
    public void Run(IProgress<TrainingProgress>? progress = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        // The log's clock is the run's training time: a resumed run continues from the checkpoint's last logged second.
        double secondsBefore = log.LoggedSeconds;
        long startIteration = Iteration;
        double? lastVal = null;
        List<KeyValuePair<string, double>>? extraVal = null;
        data.Start(Iteration);
        try
        {
            while (Iteration < Options.Iterations && !cancel.IsCancellationRequested
                   && (Options.Minutes <= 0 || clock.Elapsed.TotalMinutes < Options.Minutes))
            {
                var terms = Step(data.Next());
                bool last = Iteration >= Options.Iterations || (Options.Minutes > 0 && clock.Elapsed.TotalMinutes >= Options.Minutes);
                if (Validates && (last || (Options.ValidateEvery > 0 && Iteration % Options.ValidateEvery == 0)))
                {
                    lastVal = Validate();
                    extraVal = ValidateExtraFolders().ToList();
                }
                if (Iteration % 10 == 0 || last || lastVal is not null)
                    log.Append(Iteration, secondsBefore + clock.Elapsed.TotalSeconds, terms, schedule.LearningRate, lastVal, extraVal);
                if (Iteration % Options.CheckpointEvery == 0 || last) SaveCheckpoint();
                double perIt = clock.Elapsed.TotalSeconds / (Iteration - startIteration);
                double left = Options.Iterations - Iteration;
                if (Options.Minutes > 0) left = Math.Min(left, Math.Max(0, Options.Minutes * 60 - clock.Elapsed.TotalSeconds) / perIt);
                progress?.Report(new TrainingProgress(Iteration, Iteration + (long)Math.Ceiling(left), clock.Elapsed, TimeSpan.FromSeconds(left * perIt),
                    terms, schedule.LearningRate, lastVal));
                lastVal = null;
                extraVal = null;
            }
        }
        finally
        {
            data.Stop();
        }
        SaveCheckpoint();
    }

    /// <summary>The run folder (checkpoint, model, <c>metrics.jsonl</c>; MLNet.Rescale.Reporting draws <c>curve.svg</c> there).</summary>
    public string RunFolder => runDir;

    internal MetricsLog Log => log;

    /// <summary>Loss values of one step: the total and the objective's named terms, in its order.</summary>
    public readonly record struct StepTerms(double Total, IReadOnlyList<KeyValuePair<string, double>> Terms)
    {
        /// <summary>The value of the term named <paramref name="key"/>.</summary>
        public double this[string key] => Terms.First(t => t.Key == key).Value;
    }

    /// <summary>One optimization step on a batch.</summary>
    public StepTerms Step(Batch batch)
    {
        using var scope = NewDisposeScope();
        net.train();
        var hr = tensor(batch.Hr, [batch.Size, 3, batch.Patch, batch.Patch], device: device);
        int q = batch.Patch / batch.Scale;
        var lrRef = tensor(batch.Lr, [batch.Size, 3, q, q], device: device);
        adam.zero_grad();
        var loss = objective.Compute(hr, lrRef, latentGen);
        loss.Total.backward();
        nn.utils.clip_grad_norm_(trained, Options.ClipNorm);
        adam.step();
        schedule.Step();
        Iteration++;
        UpdateAverage();
        return new StepTerms(loss.Total.Value(), loss.Terms.Select(t => new KeyValuePair<string, double>(t.Key, t.Value.Value())).ToList());
    }

    /// <summary>
    /// Mean Y-PSNR of the round trip over the validation images (those given in memory, else the validation folder's);
    /// for SAIN the LR goes through the run's real codec before upscaling, as it will in use.
    /// </summary>
    public double Validate()
    {
        if (!Validates) throw new InvalidOperationException("this run has no validation images and no validation folder");
        return Score(validationImages is null ? Options.ValidationFolder : null);
    }

    /// <summary>
    /// The round trip's mean Y-PSNR on each of <see cref="TrainerOptions.ExtraValidationFolders"/>, scored like
    /// <see cref="Validate"/>, keyed as in <c>metrics.jsonl</c> (<c>val_psnr_y_NAME</c>).
    /// </summary>
    public IEnumerable<KeyValuePair<string, double>> ValidateExtraFolders() =>
        Options.ExtraValidationFolders.Select(folder => new KeyValuePair<string, double>(ExtraValidationKey(folder), Score(folder)));

    /// <summary>The metrics column of an extra validation folder: <c>val_psnr_y_</c> and the folder's name.</summary>
    public static string ExtraValidationKey(string folder) =>
        "val_psnr_y_" + Path.GetFileName(Path.TrimEndingDirectorySeparator(folder ?? throw new ArgumentNullException(nameof(folder))));

    // The folder's images, or (folder null) the validation images held in memory.
    private double Score(string? folder)
    {
        var codec = objective.ValidationCodec;
        Func<Imaging.Image, Imaging.Image>? lrTransform = codec is null ? null : codec.Apply;
        var rescaler = new Rescaler(net, new RescalerOptions { Seed = 0, Device = device });
        try
        {
            return WithAverageWeights(() => folder is not null
                ? Evaluator.Run(rescaler, folder, lrTransform).PsnrY
                : validationImages!.Select((image, i) => Evaluator.Score(rescaler, $"validation {i}", image, lrTransform).PsnrY).Average());
        }
        finally
        {
            net.train();
        }
    }

    /// <summary>Writes the checkpoint and the exportable model, each atomically.</summary>
    public void SaveCheckpoint()
    {
        using var scope = NewDisposeScope();
        var (moments, steps) = AdamMoments();
        var tensors = net.state_dict().Select(kv => new KeyValuePair<string, Tensor>("model." + kv.Key, kv.Value))
            .Concat(moments.Select(kv => new KeyValuePair<string, Tensor>("optim." + kv.Key, kv.Value)))
            .Concat(average is null ? [] : trainedNames.Select((name, i) => new KeyValuePair<string, Tensor>(AveragePrefix + name, average[i])));
        var meta = new Dictionary<string, string>
        {
            ["iteration"] = Iteration.ToString(CultureInfo.InvariantCulture),
            ["adam_steps"] = steps.ToString(CultureInfo.InvariantCulture),
            ["learning_rate"] = schedule.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["latent_generator"] = Convert.ToBase64String(latentGen.get_state().cpu().bytes.ToArray()),
        };
        // The model first: a run killed between the two writes then never has a checkpoint without a model file
        // (at worst the model is one checkpoint ahead, and the resume rewrites both).
        WithAverageWeights(() => ModelFile.Save(net, Path.Combine(runDir, "model.safetensors"), TrainingNotes()));
        SafetensorsFile.Write(Path.Combine(runDir, CheckpointName), tensors, meta);
    }

    private IEnumerable<KeyValuePair<string, string>> TrainingNotes() =>
    [
        .. Options.AverageDecay is { } decay ? [new KeyValuePair<string, string>("weights", $"moving average, decay {decay.ToString("R", CultureInfo.InvariantCulture)}")] : Array.Empty<KeyValuePair<string, string>>(),
        new("trained_iterations", Iteration.ToString(CultureInfo.InvariantCulture)),
        new("trained_on", string.Join(";", Options.DataFolders.Select(Path.GetFileName))),
        .. objective.Notes,
        new("recipe", $"batch {Options.BatchSize} x patch {Options.Patch}, lr {Options.LearningRate.ToString(CultureInfo.InvariantCulture)}, milestones [{string.Join(",", Options.Milestones)}]{(Options.Architecture == TrainingArchitecture.Irn ? $", latent scale {(Options.LatentScale ?? 1.0).ToString(CultureInfo.InvariantCulture)}" : "")}"),
    ];

    /// <summary>Names of the parameters initialized from <see cref="TrainerOptions.InitFrom"/>.</summary>
    public IReadOnlyList<string> InitializedFrom { get; private set; } = [];

    /// <summary>The warm-start file, or null when there is none or it cannot be read (loading it reports why).</summary>
    private static SafetensorsFile? TryReadInit(string? path)
    {
        if (path is null || !File.Exists(path)) return null;
        try
        {
            return SafetensorsFile.Read(path);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>
    /// The latent spread of an IRN run left open: the warm-start IRN model's (at any scale, its levels were trained
    /// with it), else the reference's 1.
    /// </summary>
    private static double InheritedLatentScale(TrainerOptions options, SafetensorsFile? init) =>
        options.Architecture == TrainingArchitecture.Irn && init is not null && init.Metadata.TryGetValue("model", out var arch) && arch == "IRN"
            ? ModelFile.LatentScaleOf(init.Metadata, init.Name)
            : 1.0;

    private void InitializeFrom(SafetensorsFile file)
    {
        string path = file.Name;
        using var scope = NewDisposeScope();
        var state = file.LoadAll("", ScalarType.Float32).ToDictionary(kv => kv.Key, kv => kv.Value);
        ModelFile.RequireFinite(state, path);
        // An IRN model can start a SAIN network's enhanced blocks (IRN's F becomes E; SAIN's F starts at zero).
        if (net is SainNetwork && file.Metadata.TryGetValue("model", out var arch) && arch == "IRN")
            state = SainNetwork.StateFromIrn(state);
        InitializedFrom = StateDicts.LoadMatching(net, state);
        if (InitializedFrom.Count == 0)
            throw new InvalidDataException($"{path}: no tensor matches a parameter of this network by name and shape");
    }

    private void LoadCheckpoint(out Tensor[]? averaged)
    {
        var path = Path.Combine(runDir, CheckpointName);
        var file = SafetensorsFile.Read(path);
        using var scope = NewDisposeScope();
        StateDicts.LoadStrict(net, file.LoadAll("model.").ToDictionary(kv => kv.Key, kv => kv.Value), path);
        averaged = null;
        if (Options.AverageDecay is not null)
        {
            var saved = file.LoadAll(AveragePrefix).ToDictionary(kv => kv.Key, kv => kv.Value);
            averaged = CopyOfTrained();
            for (int i = 0; i < trained.Length; i++)
            {
                if (!saved.TryGetValue(trainedNames[i], out var t) || !t.shape.SequenceEqual(trained[i].shape))
                    throw new InvalidDataException($"{path}: the run averages its weights but the checkpoint lacks {AveragePrefix}{trainedNames[i]} of shape [{string.Join(", ", trained[i].shape)}]");
                using (no_grad()) averaged[i].copy_(t);
            }
        }
        var m = file.Metadata;
        Iteration = long.Parse(m["iteration"], CultureInfo.InvariantCulture);
        RestoreAdamMoments(file.LoadAll("optim.").ToDictionary(kv => kv.Key, kv => kv.Value), long.Parse(m["adam_steps"], CultureInfo.InvariantCulture), path);
        schedule.Restore(Iteration);
        var generatorState = Convert.FromBase64String(m["latent_generator"]);
        using var stateTensor = tensor(generatorState, ScalarType.Byte);
        latentGen.set_state(stateTensor);
    }

    private const string AveragePrefix = "average.";

    /// <summary>Detached copies of the trained weights, outside any dispose scope (they live as long as the trainer).</summary>
    private Tensor[] CopyOfTrained()
    {
        using (no_grad())
        {
            var copies = trained.Select(p => p.detach().clone()).ToArray();
            foreach (var c in copies) c.DetachFromDisposeScope();
            return copies;
        }
    }

    /// <summary>average ← d·average + (1 − d)·weights, d = min(decay, (1 + t) / (10 + t)) after iteration t.</summary>
    private void UpdateAverage()
    {
        if (average is null) return;
        double d = Math.Min(Options.AverageDecay!.Value, (1.0 + Iteration) / (10.0 + Iteration));
        using var keep = Scalars.Owned(d);
        using var take = Scalars.Owned(1 - d);
        using (no_grad())
            for (int i = 0; i < trained.Length; i++) average[i].mul_(keep).add_(trained[i], take);
    }

    /// <summary>Runs <paramref name="action"/> with the averaged weights in the network (when the run keeps an average), then puts the trained ones back.</summary>
    private T WithAverageWeights<T>(Func<T> action)
    {
        if (average is null) return action();
        using var scope = NewDisposeScope();
        Tensor[] current;
        using (no_grad())
        {
            current = trained.Select(p => p.detach().clone()).ToArray();
            for (int i = 0; i < trained.Length; i++) trained[i].copy_(average[i]);
        }
        try
        {
            return action();
        }
        finally
        {
            using (no_grad())
                for (int i = 0; i < trained.Length; i++) trained[i].copy_(current[i]);
        }
    }

    private void WithAverageWeights(Action action) => WithAverageWeights(() => { action(); return 0; });

    /// <summary>
    /// Deletes the temporary files of atomic writes (<c>.NAME.PID.GUID.tmp</c>) that a killed run left behind, when the
    /// process that wrote them is gone: the checkpoint they were about to replace is intact, they are only litter.
    /// </summary>
    /// <summary>Adam's first and second moments by trained parameter (<c>exp_avg.{i}</c>, <c>exp_avg_sq.{i}</c>) and its step count.</summary>
    private (Dictionary<string, Tensor> Moments, long Steps) AdamMoments()
    {
        var moments = new Dictionary<string, Tensor>();
        long steps = 0;
        var states = adam.state_dict().State;
        for (int i = 0; i < states.Count; i++)
        {
            var s = (TorchSharp.Modules.Adam.State)states[i];
            moments[$"exp_avg.{i}"] = s.exp_avg;
            moments[$"exp_avg_sq.{i}"] = s.exp_avg_sq;
            steps = s.step;
        }
        return (moments, steps);
    }

    /// <summary>Puts saved moments and step count back into TorchSharp's Adam, so the next step is the one the run would have taken.</summary>
    private void RestoreAdamMoments(IReadOnlyDictionary<string, Tensor> saved, long steps, string source)
    {
        var dict = adam.state_dict();
        for (int i = 0; i < dict.State.Count; i++)
        {
            var s = (TorchSharp.Modules.Adam.State)dict.State[i];
            Tensor Get(string key, Tensor like) => saved.TryGetValue(key, out var t) && t.shape.SequenceEqual(like.shape)
                ? t : throw new InvalidDataException($"{source}: optimizer state lacks {key} of shape [{string.Join(", ", like.shape)}]");
            using (no_grad())
            {
                s.exp_avg.copy_(Get($"exp_avg.{i}", s.exp_avg));
                s.exp_avg_sq.copy_(Get($"exp_avg_sq.{i}", s.exp_avg_sq));
            }
            s.step = steps;
        }
        adam.load_state_dict(dict);
    }

    private static void RemoveStaleTemporaryFiles(string dir)
    {
        foreach (var path in Directory.EnumerateFiles(dir, ".*.tmp"))
        {
            var parts = Path.GetFileName(path).Split('.');
            // "", name parts..., pid, guid, "tmp"
            if (parts.Length < 5 || !int.TryParse(parts[^3], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid != Environment.ProcessId && ProcessIsAlive(pid)) continue;
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static bool ProcessIsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        data.Dispose();
        adam.Dispose();
        latentGen.Dispose();
        if (average is not null) foreach (var t in average) t.Dispose();
        net.Dispose();
    }
}
