using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Runtime;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Internals;
using MLNet.Rescale.ML.Transforms;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Training;
using static TorchSharp.torch;

namespace MLNet.Rescale.ML.Rescaling;

/// <summary>
/// Learns an invertible rescaling network (IRN or SAIN) from the HR images of an <see cref="MLImage"/> column — or wraps
/// a pretrained model file without training — and yields an <see cref="InvertibleDownscalerTransformer"/> that writes the
/// 8-bit LR image of each row. The LR column carries the network as its <see cref="AnnotationNames.RescalingModel"/>
/// annotation, so that a <see cref="CollaborativeLrOptimizer"/> or <see cref="CompressionAwareUpscaler"/> later in the
/// pipeline uses it. Create it with <c>mlContext.Transforms.InvertibleDownscaler(…)</c>.
/// </summary>
public sealed class InvertibleDownscaler : IEstimator<InvertibleDownscalerTransformer>
{
    /// <summary>Settings of <see cref="InvertibleDownscaler"/>.</summary>
    public sealed class Options
    {
        /// <summary>The HR image column trained on and downscaled.</summary>
        public string InputColumnName { get; set; } = "Image";
        /// <summary>The LR image column written.</summary>
        public string OutputColumnName { get; set; } = "LR";
        /// <summary>A pretrained model (<c>.safetensors</c> model file, or a model zip's network) to wrap without training; null trains.</summary>
        public string? ModelFile { get; set; }
        /// <summary>The network trained: IRN, or SAIN (compression-aware, trained through <see cref="Codec"/>).</summary>
        public TrainingArchitecture Architecture { get; set; } = TrainingArchitecture.Irn;
        /// <summary>Downscaling factor (2, 4, 8).</summary>
        public int Scale { get; set; } = 2;
        /// <summary>IRN: coupling blocks per Haar level; SAIN: enhanced blocks. Null: the paper's.</summary>
        public int? Blocks { get; set; }
        /// <summary>SAIN: vanilla blocks of the compression simulator. Null: the paper's.</summary>
        public int? VanillaBlocks { get; set; }
        /// <summary>SAIN: the real codec in the training loop (<c>jpeg:Q</c> or <c>webp:Q</c>).</summary>
        public string Codec { get; set; } = "jpeg:75";
        /// <summary>Training iterations (the run ends at whichever budget ends first).</summary>
        public long Iterations { get; set; } = 1000;
        /// <summary>Training time budget in minutes (0: none).</summary>
        public double Minutes { get; set; }
        /// <summary>Adam learning rate.</summary>
        public double LearningRate { get; set; } = 1e-3;
        /// <summary>Patches per batch.</summary>
        public int BatchSize { get; set; } = 16;
        /// <summary>HR patch side (a multiple of the scale); images smaller than a patch are not trained on.</summary>
        public int PatchSize { get; set; } = 48;
        /// <summary>Iterations at which the learning rate halves.</summary>
        public long[] Milestones { get; set; } = [];
        /// <summary>
        /// Seed of initialization, data order and latent draws; null: the <see cref="MLContext"/>'s seed, else 0, so a
        /// pipeline trains the same way every time.
        /// </summary>
        public ulong? Seed { get; set; }
        /// <summary>Dense-block growth channels. Null: the <see cref="InitFrom"/> model's when it has this architecture and scale, else 32.</summary>
        public int? Growth { get; set; }
        /// <summary>
        /// IRN: spread of the latent the reconstruction term draws (see <see cref="TrainerOptions.LatentScale"/>; 0 trains
        /// the inverse with z = 0, as the shipped models). Null: the <see cref="InitFrom"/> model's when it is an IRN,
        /// else 1, the reference.
        /// </summary>
        public double? LatentScale { get; set; }
        /// <summary>
        /// A model file whose weights start every parameter of the same name and shape (a warm start, e.g. fine-tuning
        /// <c>models/sain-x2-jpeg.safetensors</c> on new data); null: from scratch. When the model has the trained
        /// <see cref="Architecture"/> and <see cref="Scale"/>, the sizes left null (<see cref="Blocks"/>,
        /// <see cref="VanillaBlocks"/>, <see cref="Growth"/>) are taken from it, so every weight carries over; a model of
        /// another architecture or scale (IRN → SAIN, ×2 → ×4) starts just the parameters they share.
        /// </summary>
        public string? InitFrom { get; set; }
        /// <summary>Folder for the trainer's checkpoint, log and curve; null: a temporary folder deleted after training.</summary>
        public string? RunFolder { get; set; }
        /// <summary>Tile side in LR pixels when downscaling large images.</summary>
        public int TileSize { get; set; } = new RescalerOptions().TileSize;
        /// <summary>
        /// Receives a report after every training iteration, on the training thread: the loss and its terms, and the
        /// validation Y-PSNR on the iterations that validate (see <see cref="ValidationSet"/>). The same reports reach
        /// <c>mlContext.Log</c> as messages (every iteration as Trace, validations and every tenth of the run as Info).
        /// </summary>
        public IProgress<TrainingProgress>? Progress { get; set; }
        /// <summary>
        /// Held-out images, in the <see cref="InputColumnName"/> column, on which training measures the mean Y-PSNR of the
        /// round trip (through <see cref="Codec"/> for SAIN) every <see cref="ValidateEvery"/> iterations and at the end;
        /// reported as <see cref="TrainingProgress.ValidationPsnr"/> and logged in the run folder. Null: no validation.
        /// </summary>
        public IDataView? ValidationSet { get; set; }
        /// <summary>Validate on <see cref="ValidationSet"/> every N iterations (0: only at the end).</summary>
        public long ValidateEvery { get; set; }
    }

    private readonly Options options;
    private readonly int scale;
    private readonly ComponentHost host;

    internal InvertibleDownscaler(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        host = new ComponentHost(env, nameof(InvertibleDownscaler));
        ArgumentException.ThrowIfNullOrEmpty(options.InputColumnName, nameof(options.InputColumnName));
        ArgumentException.ThrowIfNullOrEmpty(options.OutputColumnName, nameof(options.OutputColumnName));
        this.options = options;
        if (options.ModelFile is { } path)
        {
            // Read once now, so a missing or bad file fails when the pipeline is built, not after minutes of fitting.
            using var network = ModelFile.Load(path);
            scale = network.Scale;
        }
        else
        {
            if (options.PatchSize % options.Scale != 0)
                throw new ArgumentException($"InvertibleDownscaler: patch size {options.PatchSize} is not a multiple of the scale {options.Scale}", nameof(options));
            scale = options.Scale;
        }
        if (options.ValidateEvery < 0)
            throw new ArgumentException($"InvertibleDownscaler: ValidateEvery must be 0 (only at the end) or positive, got {options.ValidateEvery}", nameof(options));
    }

    /// <inheritdoc/>
    public InvertibleDownscalerTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        SchemaChecks.Require(input.Schema, options.InputColumnName, text: false, nameof(InvertibleDownscaler));
        var device = host.Device();
        var network = options.ModelFile is { } path ? ModelFile.Load(path) : Train(input, device);
        ComponentHost.Place(network, device);
        return new InvertibleDownscalerTransformer(network, options.InputColumnName, options.OutputColumnName, options.TileSize, device);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var input = SchemaChecks.Require(inputSchema, options.InputColumnName, text: false, nameof(InvertibleDownscaler));
        var type = InvertibleDownscalerTransformer.LrType((ImageDataViewType)input.ItemType, scale);
        return SchemaChecks.With(inputSchema, ModelParts.ScalarColumn(options.OutputColumnName, type, RescaleAnnotations.NetworkShape()));
    }

    private RescaleNetwork Train(IDataView input, Device device)
    {
        var images = ReadImages(input, "training set");
        List<Image>? validation = null;
        if (options.ValidationSet is { } validationSet)
        {
            validation = ReadImages(validationSet, "validation set");
            if (validation.Count == 0) throw new InvalidOperationException("InvertibleDownscaler: the validation set has no rows");
        }
        bool sain = options.Architecture == TrainingArchitecture.Sain;
        var (blocksPerLevel, enhanced, vanilla, growth) = (
            !sain && options.Blocks is int b ? Enumerable.Repeat(b, RescaleNetwork.Levels(options.Scale)).ToArray() : null,
            sain ? options.Blocks : null, sain ? options.VanillaBlocks : null, options.Growth);
        if (options.InitFrom is { } initPath && (options.Blocks is null || (sain && options.VanillaBlocks is null) || options.Growth is null))
        {
            // The warm-start model's sizes, for those left open, when it is a network of the kind trained.
            using var init = ModelFile.Load(initPath);
            switch (init)
            {
                case SainNetwork s when sain && s.Scale == options.Scale:
                    enhanced ??= s.Options.ResolvedEnhancedBlocks;
                    vanilla ??= s.Options.ResolvedVanillaBlocks;
                    growth ??= s.Options.Growth;
                    break;
                case InvRescaleNet n when !sain && n.Scale == options.Scale:
                    blocksPerLevel ??= n.Options.ResolvedBlocks(RescaleNetwork.Levels(options.Scale));
                    growth ??= n.Options.Growth;
                    break;
            }
        }
        var trainerOptions = new TrainerOptions
        {
            Architecture = options.Architecture,
            Scale = options.Scale,
            BlocksPerLevel = blocksPerLevel,
            EnhancedBlocks = enhanced,
            VanillaBlocks = vanilla,
            Growth = growth ?? new TrainerOptions().Growth,
            LatentScale = sain ? null : options.LatentScale, // null: the InitFrom IRN's spread, else 1 (the trainer resolves it)
            Codec = options.Codec,
            BatchSize = options.BatchSize,
            Patch = options.PatchSize,
            LearningRate = options.LearningRate,
            Milestones = options.Milestones,
            Iterations = options.Iterations,
            Minutes = options.Minutes,
            Seed = host.Seed(options.Seed),
            InitFrom = options.InitFrom,
            ValidateEvery = options.ValidateEvery,
            Device = device.ToString(),
        };
        string runDir = options.RunFolder ?? Path.Combine(Path.GetTempPath(), $"mlnet-rescale-fit-{Guid.NewGuid():N}");
        try
        {
            using (var trainer = new Trainer(runDir, trainerOptions, images, validation))
            using (var ch = host.Start("Training"))
            using (var cancel = new CancellationTokenSource())
            {
                ch.Info(MessageSensitivity.None, FormattableString.Invariant(
                    $"training {options.Architecture.ToString().ToUpperInvariant()} ×{options.Scale} on {trainer.ImageCount} images for {options.Iterations} iterations{(options.Minutes > 0 ? $" or {options.Minutes} minutes" : "")} (seed {trainerOptions.Seed}, {device})"));
                trainer.Run(new TrainingReports(ch, options.Progress, () => { if (host.IsCanceled) cancel.Cancel(); }), cancel.Token);
                if (cancel.IsCancellationRequested)
                {
                    ch.Warning(MessageSensitivity.None, FormattableString.Invariant($"training cancelled at iteration {trainer.Iteration}"));
                    host.CheckAlive();
                }
                ch.Info(MessageSensitivity.None, FormattableString.Invariant($"trained {trainer.Iteration} iterations"));
            }
            // The trainer's exported model, so the fitted network is exactly what a model file of the run holds.
            return ModelFile.Load(Path.Combine(runDir, "model.safetensors"));
        }
        finally
        {
            if (options.RunFolder is null && Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
        }
    }

    // ML.NET's image getters dispose the previous row's MLImage, so each is converted before the cursor moves on; the
    // last one is left to its producer (an in-memory image passed through belongs to its row).
    private List<Image> ReadImages(IDataView data, string what)
    {
        var column = SchemaChecks.Require(data.Schema, options.InputColumnName, text: false, $"{nameof(InvertibleDownscaler)} {what}");
        var images = new List<Image>();
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<MLImage>(column);
        MLImage? image = null;
        while (cursor.MoveNext())
        {
            getter(ref image!);
            images.Add(image?.ToImage() ?? throw new InvalidOperationException($"InvertibleDownscaler {what}: row {cursor.Position} of column '{column.Name}' holds no image"));
        }
        return images;
    }
}

/// <summary>
/// Downscales the images of an <see cref="MLImage"/> column with a fitted invertible network (tiled for large images; any
/// size: a side not divisible by the scale is reflect-padded, so the LR of W×H is ⌈W/s⌉×⌈H/s⌉). It holds a native
/// network: dispose it (or the chain or loaded model that contains it) when done; the network is shared with the
/// optimizer and upscaler bound to it and freed when the last of them is disposed.
/// </summary>
public sealed class InvertibleDownscalerTransformer : ImageColumnTransformer, IDisposable
{
    internal const string LoaderSignature = "RescaleDownscaler";
    private static VersionInfo Version => ModelParts.Version("RSCDOWNS", 0x00010001, LoaderSignature, typeof(InvertibleDownscalerTransformer));
    private readonly Rescaler rescaler;
    private bool disposed;

    internal InvertibleDownscalerTransformer(RescaleNetwork network, string inputColumnName, string outputColumnName, int tileSize, Device device)
        : base(outputColumnName, inputColumnName)
    {
        Network = NetworkOwnership.Acquire(network);
        TileSize = tileSize;
        rescaler = new Rescaler(network, new RescalerOptions { TileSize = tileSize, Device = device });
    }

    /// <summary>The network (shared with the upscaler and optimizer bound to it).</summary>
    public RescaleNetwork Network { get; }
    /// <summary>The scale factor.</summary>
    public int Scale => Network.Scale;
    /// <summary>Tile side in LR pixels.</summary>
    public int TileSize { get; }

    /// <summary>The LR image type of an HR image type (unknown size stays unknown).</summary>
    internal static ImageDataViewType LrType(ImageDataViewType hr, int scale) =>
        hr.Width > 0 && hr.Height > 0 ? new((hr.Height + scale - 1) / scale, (hr.Width + scale - 1) / scale) : new();

    private protected override ImageDataViewType OutputImageType(ImageDataViewType input) => LrType(input, Scale);
    private protected override DataViewSchema.Annotations OutputAnnotations(DataViewSchema.Column input) => RescaleAnnotations.OfNetwork(Network);
    private protected override SchemaShape OutputAnnotationsShape(SchemaShape.Column input) => RescaleAnnotations.NetworkShape();

    private protected override object Map(RowInputs row, DataViewSchema.Column input)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return rescaler.Downscale(row.Image(input));
    }

    /// <summary>The LR of one image, outside a data view.</summary>
    public Image Downscale(Image hr)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return rescaler.Downscale(hr);
    }

    /// <summary>The inverse half: an upscaler running this transformer's network (e.g. for a client that only upscales); it holds the network too, so dispose it as well.</summary>
    public CompressionAwareUpscalerTransformer CreateUpscaler(CompressionAwareUpscaler.Options? options = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        options ??= new CompressionAwareUpscaler.Options { InputColumnName = OutputColumnName };
        return new CompressionAwareUpscalerTransformer(Network, options.InputColumnName, options.OutputColumnName, options.Seed ?? 0, options.Temperature,
            options.TileSize, rescaler.Options.Device);
    }

    /// <summary>Writes the network alone as a <c>.safetensors</c> model file (what <c>rescale</c> and <see cref="ModelFile"/> read).</summary>
    public void SaveNetwork(string path)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ModelFile.Save(Network, path);
    }

    /// <summary>Lets go of the network (freed when no other transformer holds it). Later use throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        NetworkOwnership.Release(Network);
    }

    // *** Binary format ***
    // string: output column; string: input column; int: tile size (LR pixels); the network (NetworkEntry)
    private protected override void SaveModel(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var w = BeginSave(ctx, Version);
        w.Write(TileSize);
        NetworkEntry.Save(ctx, w, Network);
    }

    private static InvertibleDownscalerTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var (r, output, input) = BeginLoad(ctx, Version);
        int tileSize = r.ReadInt32();
        if (tileSize < 0) throw new InvalidDataException($"{ModelParts.PartName(ctx)} (InvertibleDownscaler): tile size {tileSize} is negative");
        var network = NetworkEntry.Load(ctx, r, "InvertibleDownscaler");
        try
        {
            // The device is the loading context's (GpuDeviceId, FallbackToCpu), not the saving machine's.
            var device = new ComponentHost(env, nameof(InvertibleDownscaler)).Device();
            ComponentHost.Place(network, device);
            return new(network, input, output, tileSize, device);
        }
        finally
        {
            NetworkOwnership.Release(network);
        }
    }
}
