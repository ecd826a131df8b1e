using System.Globalization;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.Networks;

/// <summary>Hyper-parameters of <see cref="SainNetwork"/>.</summary>
public sealed record SainOptions
{
    /// <summary>Downscaling factor: 2, 4 or 8.</summary>
    public int Scale { get; init; } = 2;
    /// <summary>Enhanced blocks (the downscaler); null = the paper's 5 at ×2, 10 at ×4 (5 per Haar level).</summary>
    public int? EnhancedBlocks { get; init; }
    /// <summary>Vanilla blocks (the compression simulator); null = the paper's 3 at ×2, 6 at ×4 (3 per Haar level).</summary>
    public int? VanillaBlocks { get; init; }
    /// <summary>Components of the latent's Gaussian mixture.</summary>
    public int MixtureComponents { get; init; } = 5;
    /// <summary>Growth channels of the dense blocks.</summary>
    public int Growth { get; init; } = 32;
    /// <summary>Bound of the coupling log-scale.</summary>
    public double Clamp { get; init; } = 1.0;

    /// <summary>Enhanced blocks, defaulted.</summary>
    public int ResolvedEnhancedBlocks => EnhancedBlocks ?? 5 * RescaleNetwork.Levels(Scale);
    /// <summary>Vanilla blocks, defaulted.</summary>
    public int ResolvedVanillaBlocks => VanillaBlocks ?? 3 * RescaleNetwork.Levels(Scale);
}

/// <summary>
/// SAIN (Yang et al., AAAI 2023), under the reference parameter names: every Haar level first
/// (<c>haar_operations.{i}</c>, 3·4ⁱ channels), then the enhanced blocks at 3·s² channels (<c>down_operations.{i}</c>;
/// the LR of the last one is the high-quality LR to deliver), then the vanilla blocks (<c>comp_operations.{i}</c>;
/// channels 0..2 of the output are the simulated compressed LR), and the latent's mixture (<c>gmm.gmm_para</c>).
/// Upscaling inverts the whole chain from a compressed LR and a mixture sample.
/// </summary>
public sealed class SainNetwork : RescaleNetwork
{
    private readonly HaarDownsampling[] haarBlocks;
    private readonly EnhancedInvBlock[] downBlocks;
    private readonly InvBlockExp[] compBlocks;
    private readonly InvertibleModule[] operations;

    /// <summary>Creates a randomly initialized network.</summary>
    public SainNetwork(SainOptions options, Generator? generator = null) : base(nameof(SainNetwork))
    {
        Options = options;
        int levels = Levels(options.Scale);
        if (options.ResolvedEnhancedBlocks < 1)
            throw new ArgumentException($"SAIN needs at least one enhanced block (its last one gives the LR), got {options.ResolvedEnhancedBlocks}");
        if (options.ResolvedVanillaBlocks < 0)
            throw new ArgumentException($"vanilla blocks cannot be negative, got {options.ResolvedVanillaBlocks}");
        int c = OutputChannelCount;
        haarBlocks = Enumerable.Range(0, levels).Select(i => new HaarDownsampling(3 << (2 * i))).ToArray();
        downBlocks = Enumerable.Range(0, options.ResolvedEnhancedBlocks).Select(_ => new EnhancedInvBlock(c, 3, options.Growth, options.Clamp, generator)).ToArray();
        compBlocks = Enumerable.Range(0, options.ResolvedVanillaBlocks).Select(_ => new InvBlockExp(c, 3, options.Growth, options.Clamp, generator)).ToArray();
        Mixture = new GaussianMixture(options.MixtureComponents, generator);
        register_module("haar_operations", nn.ModuleList(haarBlocks));
        register_module("down_operations", nn.ModuleList(downBlocks));
        register_module("comp_operations", nn.ModuleList(compBlocks));
        register_module("gmm", Mixture);
        operations = [.. haarBlocks, .. downBlocks, .. compBlocks];
    }

    /// <summary>The hyper-parameters.</summary>
    public SainOptions Options { get; }

    /// <summary>The latent's Gaussian mixture.</summary>
    public GaussianMixture Mixture { get; }

    /// <summary>The Haar levels (<c>haar_operations</c>), for the ONNX exporter.</summary>
    internal IReadOnlyList<HaarDownsampling> HaarBlocks => haarBlocks;
    /// <summary>The enhanced blocks (<c>down_operations</c>), for the ONNX exporter.</summary>
    internal IReadOnlyList<EnhancedInvBlock> DownBlocks => downBlocks;
    /// <summary>The vanilla blocks (<c>comp_operations</c>), for the ONNX exporter.</summary>
    internal IReadOnlyList<InvBlockExp> CompBlocks => compBlocks;

    /// <inheritdoc/>
    public override string Architecture => "SAIN";

    /// <inheritdoc/>
    public override int Scale => Options.Scale;

    /// <inheritdoc/>
    protected override IReadOnlyList<InvertibleModule> Operations => operations;

    /// <summary>
    /// HR → (output, LR): the output [N, 3·s², H/s, W/s] holds the simulated compressed LR in channels 0..2 and z
    /// after them; LR is the high-quality LR of the last enhanced block.
    /// </summary>
    public (Tensor Output, Tensor Lr) ForwardWithLr(Tensor hr)
    {
        using var scope = NewDisposeScope();
        var (h, lr) = Downscaler(hr);
        h = ForwardThrough(compBlocks, h);
        return (h.MoveToOuterDisposeScope(), lr.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// (compressed LR, z) → (HR, restored LR): the restored LR is the one the last enhanced block computes in reverse,
    /// the network's estimate of the high-quality LR before compression.
    /// </summary>
    public (Tensor Hr, Tensor Lr) InverseWithLr(Tensor y)
    {
        using var scope = NewDisposeScope();
        var h = InverseThrough(compBlocks, y);
        (h, var lr) = downBlocks[^1].InverseWithLr(h);
        for (int i = downBlocks.Length - 2; i >= 0; i--) h = downBlocks[i].inverse(h);
        h = InverseThrough(haarBlocks, h);
        return (h.MoveToOuterDisposeScope(), lr.MoveToOuterDisposeScope());
    }

    /// <summary>The high-quality LR of the last enhanced block (the compression simulator is not run).</summary>
    /// <exception cref="ArgumentException"><paramref name="hr"/> holds a NaN or an infinity.</exception>
    public override Tensor Downscale(Tensor hr)
    {
        Inference.FiniteInput.Require(hr, nameof(hr));
        using var scope = NewDisposeScope();
        return Downscaler(hr).Lr.MoveToOuterDisposeScope();
    }

    /// <summary>The Haar levels and the enhanced blocks: their output and the last block's LR.</summary>
    private (Tensor Output, Tensor Lr) Downscaler(Tensor hr)
    {
        using var scope = NewDisposeScope();
        var h = ForwardThrough(haarBlocks, hr);
        for (int i = 0; i < downBlocks.Length - 1; i++) h = downBlocks[i].forward(h);
        var (output, lr) = downBlocks[^1].ForwardWithLr(h);
        return (output.MoveToOuterDisposeScope(), lr.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// z drawn from the learned mixture (<paramref name="temperature"/> scales each component's spread); at temperature 0
    /// the deterministic serving latent, the mixture's expectation <c>Σₖ πₖ·μₖ</c> in every element (what an exported
    /// upscaler computes), rather than the mean of a randomly picked component.
    /// </summary>
    public override Tensor SampleLatent(long[] lrShape, Generator? generator = null, double temperature = 1.0, Device? device = null)
    {
        long[] shape = [lrShape[0], OutputChannelCount - 3, lrShape[2], lrShape[3]];
        if (temperature != 0) return Mixture.Sample(shape, generator, temperature, device);
        using var scope = NewDisposeScope();
        return Mixture.Expectation(device).expand(shape).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Renames an IRN state (<c>operations.{i}.*</c>) so it can start this network's enhanced blocks: IRN's blocks after
    /// its last Haar level become <c>down_operations.0, 1, …</c> with IRN's F as SAIN's E. Their G and H keep their
    /// roles, and SAIN's extra F (subtracted from the LR to give the coupling's input) starts at zero, so each
    /// warm-started enhanced block computes exactly the IRN block it came from; blocks beyond IRN's start as the identity.
    /// </summary>
    public static Dictionary<string, Tensor> StateFromIrn(IReadOnlyDictionary<string, Tensor> irn)
    {
        static bool TryIndex(string name, out int index, out string rest)
        {
            index = -1; rest = "";
            if (!name.StartsWith("operations.", StringComparison.Ordinal)) return false;
            int dot = name.IndexOf('.', "operations.".Length);
            if (dot < 0 || !int.TryParse(name.AsSpan("operations.".Length, dot - "operations.".Length), NumberStyles.None, CultureInfo.InvariantCulture, out index)) return false;
            rest = name[(dot + 1)..];
            return true;
        }
        int lastHaar = irn.Keys.Select(k => TryIndex(k, out int i, out string rest) && rest == "haar_weights" ? i : -1).DefaultIfEmpty(-1).Max();
        if (lastHaar < 0) throw new InvalidDataException("not an IRN state: no operations.{i}.haar_weights");
        var mapped = new Dictionary<string, Tensor>();
        foreach (var (name, t) in irn)
        {
            if (!TryIndex(name, out int i, out string rest) || i <= lastHaar) continue;
            string subnet = rest[..rest.IndexOf('.')], tail = rest[rest.IndexOf('.')..];
            string target = subnet switch { "F" => "E", "G" => "G", "H" => "H", _ => "" };
            if (target.Length > 0) mapped[$"down_operations.{i - lastHaar - 1}.{target}{tail}"] = t;
        }
        return mapped;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<KeyValuePair<string, string>> ArchitectureMetadata() =>
    [
        new("model", Architecture),
        new("scale", Scale.ToString(CultureInfo.InvariantCulture)),
        new("e_blocks", Options.ResolvedEnhancedBlocks.ToString(CultureInfo.InvariantCulture)),
        new("v_blocks", Options.ResolvedVanillaBlocks.ToString(CultureInfo.InvariantCulture)),
        new("gmm_components", Options.MixtureComponents.ToString(CultureInfo.InvariantCulture)),
        new("gc", Options.Growth.ToString(CultureInfo.InvariantCulture)),
        new("clamp", Str(Options.Clamp)),
    ];
}
