using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Model;
using MLNet.Rescale.Networks;

namespace MLNet.Rescale.ML.Rescaling;

/// <summary>
/// HCD as a pipeline step between the downscaler and the codec: with the network frozen, it optimizes the LR each HR
/// image is sent as (an HR stage, then an LR stage; see <see cref="CollaborativeOptimizer"/>), optionally through a
/// differentiable JPEG at the quality of the codec that follows. It reads the HR column, takes the network from the LR
/// column's annotation, and overwrites that LR column. Fitting trains nothing.
/// </summary>
public sealed class CollaborativeLrOptimizer : IEstimator<CollaborativeLrOptimizerTransformer>
{
    /// <summary>Settings of <see cref="CollaborativeLrOptimizer"/>; the optimization's mirror <see cref="CollaborativeOptions"/>.</summary>
    public sealed class Options
    {
        /// <summary>The HR image column the LR is optimized for.</summary>
        public string HrColumnName { get; set; } = "Image";
        /// <summary>The LR column written; its <see cref="AnnotationNames.RescalingModel"/> annotation names the network.</summary>
        public string OutputColumnName { get; set; } = "LR";
        /// <summary>Iterations of the HR stage (0 skips it).</summary>
        public int HrIterations { get; set; } = 15;
        /// <summary>Iterations of the LR stage (0 skips it).</summary>
        public int LrIterations { get; set; } = 15;
        /// <summary>Radius of the L2 ball of each perturbation, in [0,1] pixel units.</summary>
        public double Epsilon { get; set; } = 0.3;
        /// <summary>L2 length of every gradient step.</summary>
        public double StepSize { get; set; } = 20.0 / 255;
        /// <summary>Latents the result is checked on against the plain LR (0: no check).</summary>
        public int CheckLatents { get; set; } = 2;
        /// <summary>Seed of the random starts and latents; null takes one from the context.</summary>
        public ulong? Seed { get; set; }
        /// <summary>The codec the LR will meet (<c>jpeg:Q</c>): the LR stage optimizes through DiffJpeg at Q. Null: none.</summary>
        public string? Codec { get; set; }
        /// <summary>Tile side in LR pixels for large images (the ε-ball is per tile).</summary>
        public int TileSize { get; set; } = new RescalerOptions().TileSize;
    }

    private readonly Options options;
    private readonly ulong seed;

    internal CollaborativeLrOptimizer(Options options, ulong seed)
    {
        this.options = options;
        this.seed = options.Seed ?? seed;
        CollaborativeLrOptimizerTransformer.Settings(options.HrIterations, options.LrIterations, options.Epsilon, options.StepSize,
            options.CheckLatents, this.seed, options.Codec).Validate();
    }

    /// <inheritdoc/>
    public CollaborativeLrOptimizerTransformer Fit(IDataView input)
    {
        SchemaCheck.Require(input.Schema, options.HrColumnName, ImageDataViewType.Instance, nameof(CollaborativeLrOptimizer));
        var lr = SchemaCheck.Require(input.Schema, options.OutputColumnName, ImageDataViewType.Instance, nameof(CollaborativeLrOptimizer));
        var network = CompressionAwareUpscaler.NetworkOf(lr, nameof(CollaborativeLrOptimizer));
        var o = options;
        return new CollaborativeLrOptimizerTransformer(network, o.HrColumnName, o.OutputColumnName,
            new(o.HrIterations, o.LrIterations, o.Epsilon, o.StepSize, o.CheckLatents, seed, o.Codec, o.TileSize));
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaCheck.Require(inputSchema, options.HrColumnName, ImageDataViewType.Instance, nameof(CollaborativeLrOptimizer));
        var lr = SchemaCheck.Require(inputSchema, options.OutputColumnName, ImageDataViewType.Instance, nameof(CollaborativeLrOptimizer));
        if (!lr.HasAnnotation(AnnotationNames.RescalingModel))
            throw new InvalidOperationException($"{nameof(CollaborativeLrOptimizer)}: column '{lr.Name}' carries no {AnnotationNames.RescalingModel} annotation; place it after an InvertibleDownscaler");
        return inputSchema.With(new SchemaShape.Column(options.OutputColumnName, ImageDataViewType.Instance, [AnnotationNames.RescalingModel, AnnotationNames.Scale]));
    }
}

/// <summary>
/// Writes the HCD-optimized LR of each HR image. It holds the (shared) native network: dispose it, or the chain or
/// loaded model that contains it, when done.
/// </summary>
public sealed class CollaborativeLrOptimizerTransformer : ColumnTransformer, IDisposable
{
    internal const string Kind = "CollaborativeLrOptimizer";
    private readonly Rescaler rescaler;
    private readonly CollaborativeOptimizer optimizer;

    // *** Model format ***
    // options: Network (id of a networks/ entry), the HCD settings below, Input (HR column), Output (LR column).
    internal sealed record State(int HrIterations, int LrIterations, double Epsilon, double StepSize, int CheckLatents, ulong Seed,
        string? Codec, int TileSize)
    {
        public string Network { get; init; } = "";
        public string Input { get; init; } = "";
        public string Output { get; init; } = "";
    }

    internal CollaborativeLrOptimizerTransformer(RescaleNetwork network, string hrColumnName, string outputColumnName, State state)
        : base(outputColumnName, hrColumnName)
    {
        Network = NetworkOwnership.Acquire(network);
        Options = state with { Network = "", Input = "", Output = "" };
        rescaler = new Rescaler(network, new RescalerOptions { TileSize = state.TileSize });
        optimizer = new CollaborativeOptimizer(network, Settings(state.HrIterations, state.LrIterations, state.Epsilon, state.StepSize,
            state.CheckLatents, state.Seed, state.Codec));
    }

    /// <summary>The network the LR is optimized for.</summary>
    public RescaleNetwork Network { get; }
    /// <summary>The optimization's settings.</summary>
    public CollaborativeOptions CollaborativeOptions => optimizer.Options;
    internal State Options { get; }

    internal static CollaborativeOptions Settings(int hr, int lr, double eps, double step, int check, ulong seed, string? codec) => new()
    {
        HrIterations = hr, LrIterations = lr, Epsilon = eps, StepSize = step, CheckLatents = check, Seed = seed,
        LrChannel = codec is null ? null : LossyCodec.Parse(codec).Surrogate(),
    };

    private protected override IReadOnlyDictionary<string, object> AddedAnnotations =>
        new Dictionary<string, object> { [AnnotationNames.RescalingModel] = Network, [AnnotationNames.Scale] = Network.Scale };

    private bool disposed;

    private protected override object Map(MappedRow row)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return optimizer.Downscale(rescaler, row.Get<Image>(InputColumnName));
    }

    /// <summary>Lets go of the network (freed when no other transformer holds it). Later use throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        NetworkOwnership.Release(Network);
    }

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ctx.SetKind(Kind);
        ctx.SetOptions(Options with { Network = ctx.SaveNetwork(Network), Input = InputColumnName, Output = OutputColumnName });
    }

    internal static CollaborativeLrOptimizerTransformer Load(ModelLoadContext ctx)
    {
        var s = ctx.ReadOptions<State>();
        try
        {
            return new(ctx.LoadNetwork(s.Network), s.Input, s.Output, s);
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentOutOfRangeException)
        {
            throw ctx.Error($"{Kind}: {e.Message}");
        }
    }
}
