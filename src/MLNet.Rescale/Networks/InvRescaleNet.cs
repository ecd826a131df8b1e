using MLNet.Rescale.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Rescale.Networks;

/// <summary>Hyper-parameters of <see cref="InvRescaleNet"/>.</summary>
public sealed record IrnOptions
{
    /// <summary>Downscaling factor: 2, 4 or 8.</summary>
    public int Scale { get; init; } = 2;
    /// <summary>Coupling blocks after each Haar level (the paper: 8 per level).</summary>
    public int[]? BlocksPerLevel { get; init; }
    /// <summary>Growth channels of the dense blocks.</summary>
    public int Growth { get; init; } = 32;
    /// <summary>Bound of the coupling log-scale.</summary>
    public double Clamp { get; init; } = 1.0;
    /// <summary>
    /// Spread σ of the latent z ~ N(0, σ²) the network was trained to upscale with, and upscales with at temperature 1
    /// (the reference: 1; 0 trains and upscales with z = 0). Stored in model files as <c>latent_scale</c>.
    /// </summary>
    public double LatentScale { get; init; } = 1.0;

    /// <summary>Blocks per level, defaulting to 8 at every level.</summary>
    public int[] ResolvedBlocks(int levels) => BlocksPerLevel ?? Enumerable.Repeat(8, levels).ToArray();
}

/// <summary>
/// IRN (Xiao et al., ECCV 2020): per level a Haar transform then coupling blocks, under the reference
/// parameter names (<c>operations.{i}.haar_weights</c>, <c>operations.{i}.F.conv1.weight</c>, …).
/// </summary>
public sealed class InvRescaleNet : RescaleNetwork
{
    private readonly ModuleList<InvertibleModule> operations;
    private readonly InvertibleModule[] operationArray;

    /// <summary>Creates a randomly initialized network.</summary>
    public InvRescaleNet(IrnOptions options, Generator? generator = null) : base(nameof(InvRescaleNet))
    {
        Options = options;
        int levels = Levels(options.Scale);
        if (!(options.LatentScale >= 0) || !double.IsFinite(options.LatentScale))
            throw new ArgumentException($"the latent scale must be finite and ≥ 0, got {options.LatentScale}");
        var blocks = options.ResolvedBlocks(levels);
        if (blocks.Length != levels)
            throw new ArgumentException($"scale {options.Scale} has {levels} levels but {blocks.Length} block counts were given");
        var ops = new List<InvertibleModule>();
        int c = 3;
        for (int level = 0; level < levels; level++)
        {
            ops.Add(new HaarDownsampling(c));
            c *= 4;
            for (int b = 0; b < blocks[level]; b++)
                ops.Add(new InvBlockExp(c, 3, options.Growth, options.Clamp, generator));
        }
        operations = nn.ModuleList(ops.ToArray());
        register_module("operations", operations);
        operationArray = ops.ToArray();
    }

    /// <summary>The hyper-parameters.</summary>
    public IrnOptions Options { get; }

    /// <inheritdoc/>
    public override string Architecture => "IRN";

    /// <inheritdoc/>
    public override int Scale => Options.Scale;

    /// <inheritdoc/>
    protected override IReadOnlyList<InvertibleModule> Operations => operationArray;

    /// <inheritdoc/>
    public override IReadOnlyList<KeyValuePair<string, string>> ArchitectureMetadata() =>
    [
        new("model", Architecture),
        new("scale", Scale.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("block_num", "[" + string.Join(", ", Options.ResolvedBlocks(Levels(Scale))) + "]"),
        new("gc", Options.Growth.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("clamp", Str(Options.Clamp)),
        new("latent_scale", Str(Options.LatentScale)),
    ];

    /// <inheritdoc/>
    public override double LatentScale => Options.LatentScale;
}
