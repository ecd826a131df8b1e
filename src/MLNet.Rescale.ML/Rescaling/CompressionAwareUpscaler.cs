using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Model;
using MLNet.Rescale.Networks;

namespace MLNet.Rescale.ML.Rescaling;

/// <summary>
/// The inverse half: upscales a (possibly compressed) LR column with the network that made it. Without a model file it
/// takes the network from the LR column's <see cref="AnnotationNames.RescalingModel"/> annotation (put there by an
/// <see cref="InvertibleDownscaler"/> and kept by <c>CompressImages</c>); with one it needs nothing upstream, since a
/// client only needs the upscaler. Fitting trains nothing.
/// </summary>
public sealed class CompressionAwareUpscaler : IEstimator<CompressionAwareUpscalerTransformer>
{
    /// <summary>Settings of <see cref="CompressionAwareUpscaler"/>.</summary>
    public sealed class Options
    {
        /// <summary>The LR image column read.</summary>
        public string InputColumnName { get; set; } = "LR";
        /// <summary>The restored HR image column written.</summary>
        public string OutputColumnName { get; set; } = "Upscaled";
        /// <summary>Seed of the latent drawn for every image (the same for each, so outputs are reproducible); null takes one from the context.</summary>
        public ulong? Seed { get; set; }
        /// <summary>Spread of the latent (1 = as trained, 0 = its mean).</summary>
        public double Temperature { get; set; } = 1.0;
        /// <summary>Tile side in LR pixels for large images.</summary>
        public int TileSize { get; set; } = new RescalerOptions().TileSize;
    }

    private readonly Options options;
    private readonly string? modelFile;
    private readonly ulong seed;

    internal CompressionAwareUpscaler(Options options, string? modelFile, ulong seed)
    {
        if (!(options.Temperature >= 0) || double.IsInfinity(options.Temperature))
            throw new ArgumentOutOfRangeException(nameof(options), $"CompressionAwareUpscaler: temperature must be finite and ≥ 0, got {options.Temperature}");
        // Read once now, so a missing or bad file fails here rather than at Fit; each Fit loads the network its
        // transformer then owns (and frees when disposed).
        if (modelFile is not null) ModelFormat.LoadNetwork(modelFile).Dispose();
        this.options = options;
        this.modelFile = modelFile;
        this.seed = options.Seed ?? seed;
    }

    /// <inheritdoc/>
    public CompressionAwareUpscalerTransformer Fit(IDataView input)
    {
        var column = SchemaCheck.Require(input.Schema, options.InputColumnName, ImageDataViewType.Instance, nameof(CompressionAwareUpscaler));
        var net = modelFile is not null ? ModelFormat.LoadNetwork(modelFile) : NetworkOf(column, nameof(CompressionAwareUpscaler));
        return new CompressionAwareUpscalerTransformer(net, options.InputColumnName, options.OutputColumnName, seed, options.Temperature, options.TileSize);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var column = SchemaCheck.Require(inputSchema, options.InputColumnName, ImageDataViewType.Instance, nameof(CompressionAwareUpscaler));
        if (modelFile is null && !column.HasAnnotation(AnnotationNames.RescalingModel)) throw NoModel(column.Name, nameof(CompressionAwareUpscaler));
        return inputSchema.With(new SchemaShape.Column(options.OutputColumnName, ImageDataViewType.Instance, [AnnotationNames.Scale]));
    }

    /// <summary>The network an LR column's annotation names.</summary>
    internal static RescaleNetwork NetworkOf(DataViewSchema.Column column, string component) =>
        column.Annotations.TryGetValue(AnnotationNames.RescalingModel, out var value) && value is RescaleNetwork n ? n : throw NoModel(column.Name, component);

    private static InvalidOperationException NoModel(string column, string component) =>
        new($"{component}: column '{column}' carries no {AnnotationNames.RescalingModel} annotation; place it after an InvertibleDownscaler or give it a model file");
}

/// <summary>
/// Upscales the LR images of a column with an invertible network and a seeded latent. It holds a native network:
/// dispose it (or the chain or loaded model that contains it) when done; a network shared with other transformers is
/// freed when the last of them is disposed.
/// </summary>
public sealed class CompressionAwareUpscalerTransformer : ColumnTransformer, IDisposable
{
    internal const string Kind = "CompressionAwareUpscaler";
    private readonly Rescaler rescaler;

    internal CompressionAwareUpscalerTransformer(RescaleNetwork network, string inputColumnName, string outputColumnName, ulong seed, double temperature, int tileSize)
        : base(outputColumnName, inputColumnName)
    {
        Network = NetworkOwnership.Acquire(network);
        rescaler = new Rescaler(network, new RescalerOptions { Seed = seed, Temperature = temperature, TileSize = tileSize });
    }

    /// <summary>The network.</summary>
    public RescaleNetwork Network { get; }
    /// <summary>The scale factor.</summary>
    public int Scale => Network.Scale;
    /// <summary>Latent seed, temperature and tiling.</summary>
    public RescalerOptions Settings => rescaler.Options;

    private protected override IReadOnlyDictionary<string, object> AddedAnnotations =>
        new Dictionary<string, object> { [AnnotationNames.Scale] = Network.Scale };

    private bool disposed;

    private protected override object Map(MappedRow row) => Upscale(row.Get<Image>(InputColumnName));

    /// <summary>The restored HR image of one LR image (for use outside a data view).</summary>
    public Image Upscale(Image lr)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return rescaler.Upscale(lr);
    }

    /// <summary>Lets go of the network (freed when no other transformer holds it). Later use throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        NetworkOwnership.Release(Network);
    }

    // *** Model format ***
    // options: Network (id of a networks/ entry), Seed, Temperature, TileSize, Input, Output.
    private sealed record State(string Network, ulong Seed, double Temperature, int TileSize, string Input, string Output);

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ctx.SetKind(Kind);
        var o = rescaler.Options;
        ctx.SetOptions(new State(ctx.SaveNetwork(Network), o.Seed, o.Temperature, o.TileSize, InputColumnName, OutputColumnName));
    }

    internal static CompressionAwareUpscalerTransformer Load(ModelLoadContext ctx)
    {
        var s = ctx.ReadOptions<State>();
        return new(ctx.LoadNetwork(s.Network), s.Input, s.Output, s.Seed, s.Temperature, s.TileSize);
    }
}
