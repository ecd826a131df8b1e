using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Runtime;
using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Inference;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Internals;
using MLNet.Rescale.ML.Transforms;
using MLNet.Rescale.Networks;

namespace MLNet.Rescale.ML.Rescaling;

/// <summary>
/// HCD as a pipeline step between the downscaler and the codec: with the network frozen, it optimizes the LR each HR
/// image is sent as (an HR stage, then an LR stage; see <see cref="CollaborativeOptimizer"/>), optionally through a
/// differentiable JPEG at the quality of the codec that follows. It reads the HR column, takes the network from the LR
/// column's annotation, and overwrites that LR column. Fitting trains nothing. Create it with
/// <c>mlContext.Transforms.CollaborativeLrOptimizer(…)</c>.
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
        /// <summary>L2 length of a stage's first gradient step.</summary>
        public double StepSize { get; set; } = 20.0 / 255;
        /// <summary>Factor the step length is multiplied by after every iteration (see <see cref="CollaborativeOptions.StepDecay"/>); 1: constant.</summary>
        public double StepDecay { get; set; } = 1;
        /// <summary>Momentum on the normalized gradients (see <see cref="CollaborativeOptions.Momentum"/>); 0: none, as the paper.</summary>
        public double Momentum { get; set; }
        /// <summary>Latents the result is checked on against the plain LR (0: no check).</summary>
        public int CheckLatents { get; set; } = 2;
        /// <summary>Seed of the random starts and latents; null: the <see cref="MLContext"/>'s seed, else 0 (saved with the model).</summary>
        public ulong? Seed { get; set; }
        /// <summary>The codec the LR will meet (<c>jpeg:Q</c>): the LR stage optimizes through DiffJpeg at Q. Null: none.</summary>
        public string? Codec { get; set; }
        /// <summary>Tile side in LR pixels for large images (the ε-ball is per tile).</summary>
        public int TileSize { get; set; } = new RescalerOptions().TileSize;
        /// <summary>Time allowed per HR megapixel, in seconds (HCD then returns the best LR found within it); null: no limit.</summary>
        public double? Budget { get; set; }
        /// <summary>Start each stage at δ = 0 instead of a random perturbation (see <see cref="CollaborativeOptions.StartAtZero"/>).</summary>
        public bool StartAtZero { get; set; }
    }

    private readonly Options options;
    private readonly ComponentHost host;

    internal CollaborativeLrOptimizer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        host = new ComponentHost(env, nameof(CollaborativeLrOptimizer));
        ArgumentException.ThrowIfNullOrEmpty(options.HrColumnName, nameof(options.HrColumnName));
        ArgumentException.ThrowIfNullOrEmpty(options.OutputColumnName, nameof(options.OutputColumnName));
        this.options = options;
        State().Settings().Validate();
    }

    private CollaborativeLrOptimizerTransformer.State State() => new(options.HrIterations, options.LrIterations, options.Epsilon,
        options.StepSize, options.CheckLatents, host.Seed(options.Seed), options.Codec, options.TileSize, options.Budget, options.StartAtZero,
        options.StepDecay, options.Momentum);

    /// <inheritdoc/>
    public CollaborativeLrOptimizerTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        SchemaChecks.Require(input.Schema, options.HrColumnName, text: false, nameof(CollaborativeLrOptimizer));
        var lr = SchemaChecks.Require(input.Schema, options.OutputColumnName, text: false, nameof(CollaborativeLrOptimizer));
        var network = RescaleAnnotations.NetworkOf(lr) ?? throw CompressionAwareUpscaler.NoModel(lr.Name, nameof(CollaborativeLrOptimizer));
        return new CollaborativeLrOptimizerTransformer(host, network, options.HrColumnName, options.OutputColumnName, State());
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaChecks.Require(inputSchema, options.HrColumnName, text: false, nameof(CollaborativeLrOptimizer));
        var lr = SchemaChecks.Require(inputSchema, options.OutputColumnName, text: false, nameof(CollaborativeLrOptimizer));
        if (!RescaleAnnotations.HasNetwork(lr)) throw CompressionAwareUpscaler.NoModel(lr.Name, nameof(CollaborativeLrOptimizer));
        // The optimized LR has the plain LR's size.
        return SchemaChecks.With(inputSchema, lr);
    }
}

/// <summary>
/// Writes the HCD-optimized LR of each HR image. It holds the (shared) native network: dispose it, or the chain or
/// loaded model that contains it, when done.
/// </summary>
public sealed class CollaborativeLrOptimizerTransformer : ImageColumnTransformer, IDisposable
{
    internal const string LoaderSignature = "RescaleCollaborativeLr";
    // 0x00010002 added the budget, 0x00010003 the zero start, 0x00010004 the step decay and the momentum; older parts load
    // with the defaults (no budget, a random start, constant steps without momentum).
    private const uint WithBudget = 0x00010002;
    private const uint WithStart = 0x00010003;
    private const uint WithMomentum = 0x00010004;
    private static VersionInfo Version => ModelParts.Version("RSCHCDLR", WithMomentum, 0x00010001, LoaderSignature, typeof(CollaborativeLrOptimizerTransformer));
    private readonly Rescaler rescaler;
    private readonly CollaborativeOptimizer optimizer;
    private readonly State state;
    private readonly ComponentHost host;
    private bool disposed;

    internal sealed record State(int HrIterations, int LrIterations, double Epsilon, double StepSize, int CheckLatents, ulong Seed,
        string? Codec, int TileSize, double? Budget, bool StartAtZero, double StepDecay, double Momentum)
    {
        public CollaborativeOptions Settings() => new()
        {
            HrIterations = HrIterations, LrIterations = LrIterations, Epsilon = Epsilon, StepSize = StepSize, CheckLatents = CheckLatents,
            Seed = Seed, LrChannel = Codec is null ? null : LossyCodec.Parse(Codec).Surrogate(),
            Budget = Budget, StartAtZero = StartAtZero, StepDecay = StepDecay, Momentum = Momentum,
        };
    }

    internal CollaborativeLrOptimizerTransformer(ComponentHost host, RescaleNetwork network, string hrColumnName, string outputColumnName, State state)
        : base(outputColumnName, hrColumnName)
    {
        var settings = state.Settings();
        settings.Validate();
        var device = host.Device();
        ComponentHost.Place(network, device);
        Network = NetworkOwnership.Acquire(network);
        this.state = state;
        this.host = host;
        rescaler = new Rescaler(network, new RescalerOptions { TileSize = state.TileSize, Device = device });
        optimizer = new CollaborativeOptimizer(network, settings);
    }

    /// <summary>The network the LR is optimized for.</summary>
    public RescaleNetwork Network { get; }
    /// <summary>The optimization's settings.</summary>
    public CollaborativeOptions CollaborativeOptions => optimizer.Options;
    /// <summary>The codec the LR stage optimizes through (<c>jpeg:Q</c>), or null.</summary>
    public string? Codec => state.Codec;

    private protected override ImageDataViewType OutputImageType(ImageDataViewType input) => InvertibleDownscalerTransformer.LrType(input, Network.Scale);
    private protected override DataViewSchema.Annotations OutputAnnotations(DataViewSchema.Column input) => RescaleAnnotations.OfNetwork(Network);
    private protected override SchemaShape OutputAnnotationsShape(SchemaShape.Column input) => RescaleAnnotations.NetworkShape();

    // Each image reports its stages to the host's log (a stage as Info when it starts, its iterations as Trace) and
    // stops at the next iteration once the context is cancelled; nothing is written, so nothing is left half-done.
    private protected override object Map(RowInputs row, DataViewSchema.Column input)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        host.CheckAlive();
        var hr = row.Image(input);
        using var ch = host.Start("HCD");
        var o = optimizer.Options;
        ch.Info(MessageSensitivity.None, FormattableString.Invariant(
            $"optimizing the LR of a {hr.Width}×{hr.Height} image: HR stage {o.HrIterations} iterations, LR stage {o.LrIterations}{(o.Budget is { } b ? $", within {b} s per megapixel" : "")}"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CollaborativeStage? stage = null;
        var lr = optimizer.Downscale(rescaler, hr, step =>
        {
            if (step.Stage != stage)
            {
                stage = step.Stage;
                ch.Info(MessageSensitivity.None, $"{StageName(step.Stage)} stage");
            }
            ch.Trace(MessageSensitivity.None, FormattableString.Invariant($"{StageName(step.Stage)} stage iteration {step.Iteration}/{step.Iterations}"));
            host.CheckAlive();
        });
        ch.Info(MessageSensitivity.None, FormattableString.Invariant($"optimized in {clock.Elapsed.TotalSeconds:0.0} s"));
        return lr;
    }

    private static string StageName(CollaborativeStage stage) => stage == CollaborativeStage.Hr ? "HR" : "LR";

    /// <summary>Lets go of the network (freed when no other transformer holds it). Later use throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        NetworkOwnership.Release(Network);
    }

    // *** Binary format ***
    // string: output (LR) column; string: input (HR) column; int: HR iterations; int: LR iterations; double: epsilon;
    // double: step size; int: check latents; ulong: seed; bool: has a codec; [string: codec]; int: tile size;
    // from 0x00010002: bool: has a budget; [double: budget, seconds per megapixel]; from 0x00010003: bool: start at zero;
    // from 0x00010004: double: step decay; double: momentum;
    // the network (NetworkEntry)
    private protected override void SaveModel(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var w = BeginSave(ctx, Version);
        w.Write(state.HrIterations);
        w.Write(state.LrIterations);
        w.Write(state.Epsilon);
        w.Write(state.StepSize);
        w.Write(state.CheckLatents);
        w.Write(state.Seed);
        w.Write(state.Codec is not null);
        if (state.Codec is not null) ModelParts.WriteString(ctx, state.Codec);
        w.Write(state.TileSize);
        w.Write(state.Budget.HasValue);
        if (state.Budget is { } budget) w.Write(budget);
        w.Write(state.StartAtZero);
        w.Write(state.StepDecay);
        w.Write(state.Momentum);
        NetworkEntry.Save(ctx, w, Network);
    }

    private static CollaborativeLrOptimizerTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var (r, output, input) = BeginLoad(ctx, Version);
        var state = new State(r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadDouble(), r.ReadInt32(), r.ReadUInt64(),
            r.ReadBoolean() ? ModelParts.ReadString(ctx) : null, r.ReadInt32(), null, false, 1, 0);
        if (ModelParts.WrittenVersion(ctx) >= WithBudget)
        {
            state = state with { Budget = r.ReadBoolean() ? r.ReadDouble() : null };
        }
        if (ModelParts.WrittenVersion(ctx) >= WithStart)
        {
            state = state with { StartAtZero = r.ReadBoolean() };
        }
        if (ModelParts.WrittenVersion(ctx) >= WithMomentum)
        {
            state = state with { StepDecay = r.ReadDouble(), Momentum = r.ReadDouble() };
        }
        try
        {
            state.Settings().Validate();
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new InvalidDataException($"{ModelParts.PartName(ctx)} (CollaborativeLrOptimizer): {e.Message}", e);
        }
        var network = NetworkEntry.Load(ctx, r, "CollaborativeLrOptimizer");
        try
        {
            return new(new ComponentHost(env, nameof(CollaborativeLrOptimizer)), network, input, output, state);
        }
        finally
        {
            NetworkOwnership.Release(network);
        }
    }
}
