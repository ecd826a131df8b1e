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
using static TorchSharp.torch;

namespace MLNet.Rescale.ML.Rescaling;

/// <summary>
/// The inverse half: upscales a (possibly compressed) LR <see cref="MLImage"/> column with the network that made it.
/// Without a model file it takes the network from the LR column's <see cref="AnnotationNames.RescalingModel"/> annotation
/// (put there by an <see cref="InvertibleDownscaler"/> and kept by <c>CompressImages</c>); with one it needs nothing
/// upstream, since a client only needs the upscaler. Fitting trains nothing. Create it with
/// <c>mlContext.Transforms.CompressionAwareUpscaler(…)</c>.
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
        /// <summary>
        /// A model (<c>.safetensors</c> model file) whose network upscales; null: the network named by the input column's
        /// annotation.
        /// </summary>
        public string? ModelFile { get; set; }
        /// <summary>
        /// Seed of the latent drawn for every image (the same for each, so outputs are reproducible); null: the
        /// <see cref="MLContext"/>'s seed, else 0. The fitted transformer keeps it (it is saved with the model).
        /// </summary>
        public ulong? Seed { get; set; }
        /// <summary>Spread of the latent (1 = as trained, 0 = its mean).</summary>
        public double Temperature { get; set; } = 1.0;
        /// <summary>Tile side in LR pixels for large images.</summary>
        public int TileSize { get; set; } = new RescalerOptions().TileSize;
    }

    private readonly Options options;
    private readonly int? scale;
    private readonly ComponentHost host;

    internal CompressionAwareUpscaler(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        host = new ComponentHost(env, nameof(CompressionAwareUpscaler));
        ArgumentException.ThrowIfNullOrEmpty(options.InputColumnName, nameof(options.InputColumnName));
        ArgumentException.ThrowIfNullOrEmpty(options.OutputColumnName, nameof(options.OutputColumnName));
        if (!(options.Temperature >= 0) || double.IsInfinity(options.Temperature))
            throw new ArgumentOutOfRangeException(nameof(options), $"CompressionAwareUpscaler: temperature must be finite and ≥ 0, got {options.Temperature}");
        if (options.ModelFile is { } path)
        {
            // Read once now, so a missing or bad file fails here rather than at Fit.
            using var network = MLNet.Rescale.ModelFile.Load(path);
            scale = network.Scale;
        }
        this.options = options;
    }

    /// <inheritdoc/>
    public CompressionAwareUpscalerTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var column = SchemaChecks.Require(input.Schema, options.InputColumnName, text: false, nameof(CompressionAwareUpscaler));
        var network = options.ModelFile is { } path ? MLNet.Rescale.ModelFile.Load(path)
            : RescaleAnnotations.NetworkOf(column) ?? throw NoModel(column.Name, nameof(CompressionAwareUpscaler));
        var device = host.Device();
        ComponentHost.Place(network, device);
        return new CompressionAwareUpscalerTransformer(network, options.InputColumnName, options.OutputColumnName,
            host.Seed(options.Seed), options.Temperature, options.TileSize, device);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var column = SchemaChecks.Require(inputSchema, options.InputColumnName, text: false, nameof(CompressionAwareUpscaler));
        if (options.ModelFile is null && !RescaleAnnotations.HasNetwork(column)) throw NoModel(column.Name, nameof(CompressionAwareUpscaler));
        // Before fitting, the scale of an annotation's network is unknown (shapes carry no values): the size is then too.
        var type = scale is int s ? CompressionAwareUpscalerTransformer.HrType((ImageDataViewType)column.ItemType, s) : new ImageDataViewType();
        return SchemaChecks.With(inputSchema, ModelParts.ScalarColumn(options.OutputColumnName, type, RescaleAnnotations.ScaleShape()));
    }

    internal static InvalidOperationException NoModel(string column, string component) =>
        new($"{component}: column '{column}' carries no {AnnotationNames.RescalingModel} annotation; place it after an InvertibleDownscaler or give it a model file");
}

/// <summary>
/// Upscales the LR images of a column with an invertible network and a seeded latent. It holds a native network:
/// dispose it (or the chain or loaded model that contains it) when done; a network shared with other transformers is
/// freed when the last of them is disposed.
/// </summary>
public sealed class CompressionAwareUpscalerTransformer : ImageColumnTransformer, IDisposable
{
    internal const string LoaderSignature = "RescaleUpscaler";
    private static VersionInfo Version => ModelParts.Version("RSCUPSCL", 0x00010001, LoaderSignature, typeof(CompressionAwareUpscalerTransformer));
    private readonly Rescaler rescaler;
    private bool disposed;

    internal CompressionAwareUpscalerTransformer(RescaleNetwork network, string inputColumnName, string outputColumnName, ulong seed, double temperature,
        int tileSize, Device? device)
        : base(outputColumnName, inputColumnName)
    {
        Network = NetworkOwnership.Acquire(network);
        rescaler = new Rescaler(network, new RescalerOptions { Seed = seed, Temperature = temperature, TileSize = tileSize, Device = device });
    }

    /// <summary>The network.</summary>
    public RescaleNetwork Network { get; }
    /// <summary>The scale factor.</summary>
    public int Scale => Network.Scale;
    /// <summary>Latent seed, temperature and tiling.</summary>
    public RescalerOptions Settings => rescaler.Options;

    internal static ImageDataViewType HrType(ImageDataViewType lr, int scale) =>
        lr.Width > 0 && lr.Height > 0 ? new(lr.Height * scale, lr.Width * scale) : new();

    private protected override ImageDataViewType OutputImageType(ImageDataViewType input) => HrType(input, Scale);
    private protected override DataViewSchema.Annotations OutputAnnotations(DataViewSchema.Column input) => RescaleAnnotations.OfScale(Scale);
    private protected override SchemaShape OutputAnnotationsShape(SchemaShape.Column input) => RescaleAnnotations.ScaleShape();
    private protected override object Map(RowInputs row, DataViewSchema.Column input) => Upscale(row.Image(input));

    /// <summary>The restored HR image of one LR image, outside a data view.</summary>
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

    // *** Binary format ***
    // string: output column; string: input column; ulong: latent seed; double: temperature; int: tile size;
    // the network (NetworkEntry)
    private protected override void SaveModel(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var w = BeginSave(ctx, Version);
        var o = rescaler.Options;
        w.Write(o.Seed);
        w.Write(o.Temperature);
        w.Write(o.TileSize);
        NetworkEntry.Save(ctx, w, Network);
    }

    private static CompressionAwareUpscalerTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var (r, output, input) = BeginLoad(ctx, Version);
        ulong seed = r.ReadUInt64();
        double temperature = r.ReadDouble();
        int tileSize = r.ReadInt32();
        if (!(temperature >= 0) || double.IsInfinity(temperature) || tileSize < 0)
            throw new InvalidDataException($"{ModelParts.PartName(ctx)} (CompressionAwareUpscaler): temperature {temperature} or tile size {tileSize} out of range");
        var network = NetworkEntry.Load(ctx, r, "CompressionAwareUpscaler");
        try
        {
            // The device is the loading context's; the seed is the saved one (the output does not change with the loader).
            var device = new ComponentHost(env, nameof(CompressionAwareUpscaler)).Device();
            ComponentHost.Place(network, device);
            return new(network, input, output, seed, temperature, tileSize, device);
        }
        finally
        {
            NetworkOwnership.Release(network);
        }
    }
}
