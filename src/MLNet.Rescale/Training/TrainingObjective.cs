using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Training;

/// <summary>
/// One named term of an objective: <paramref name="Key"/> is its key in <c>metrics.jsonl</c>, <paramref name="Label"/>
/// its short name on the progress line, <paramref name="Plotted"/> whether the training curve draws it.
/// </summary>
public sealed record LossTermInfo(string Key, string Label, bool Plotted = true);

/// <summary>
/// One evaluation of an objective: the total to minimize and its named terms, in the objective's
/// <see cref="TrainingObjective.Terms"/> order (the tensors are owned by the caller's scope).
/// </summary>
public sealed record LossTerms(Tensor Total, IReadOnlyList<KeyValuePair<string, Tensor>> Terms)
{
    /// <summary>The term named <paramref name="key"/>.</summary>
    public Tensor this[string key]
    {
        get
        {
            foreach (var (k, v) in Terms)
                if (k == key) return v;
            throw new KeyNotFoundException($"no loss term '{key}' (terms: {string.Join(", ", Terms.Select(t => t.Key))})");
        }
    }
}

/// <summary>
/// What a training run of one architecture needs beyond the generic loop: the network, the loss of a batch, and
/// what happens to the LR between downscaling and upscaling when the run validates. <see cref="Create"/> is the one
/// place that chooses by <see cref="TrainerOptions.Architecture"/>.
/// </summary>
public abstract class TrainingObjective
{
    /// <summary>Wraps the network the objective trains (the caller disposes it).</summary>
    protected TrainingObjective(RescaleNetwork network) => Network = network;

    /// <summary>The network being trained.</summary>
    public RescaleNetwork Network { get; }

    /// <summary>The named terms <see cref="Compute"/> returns, in order.</summary>
    public abstract IReadOnlyList<LossTermInfo> Terms { get; }

    /// <summary>The loss of a batch of HR patches [B, 3, P, P] and their bicubic LR [B, 3, P/s, P/s].</summary>
    public abstract LossTerms Compute(Tensor hr, Tensor lrBicubic, Generator? latentGenerator);

    /// <summary>The real codec validation applies to the 8-bit LR before upscaling; null: none.</summary>
    public virtual LossyCodec? ValidationCodec => null;

    /// <summary>Facts about the training worth recording in the exported model file.</summary>
    public virtual IEnumerable<KeyValuePair<string, string>> Notes => [];

    /// <summary>Builds the network of <paramref name="options"/> (initialized from <paramref name="init"/>) and its objective.</summary>
    public static TrainingObjective Create(TrainerOptions options, Generator init)
    {
        double lambda = options.FitWeight ?? options.Scale * options.Scale;
        return options.Architecture switch
        {
            TrainingArchitecture.Irn => new IrnObjective(
                new InvRescaleNet(new IrnOptions { Scale = options.Scale, BlocksPerLevel = options.BlocksPerLevel, Growth = options.Growth, LatentScale = options.LatentScale ?? 1.0 }, init),
                IrnLossWeights.ForScale(options.Scale) with { Fit = lambda }),
            TrainingArchitecture.Sain => CreateSain(options, init, lambda),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Architecture, "unknown architecture"),
        };
    }

    private static SainObjective CreateSain(TrainerOptions options, Generator init, double lambda)
    {
        // Parse the codec before allocating the network, so a typo costs nothing.
        var codec = LossyCodec.Parse(options.Codec);
        var net = new SainNetwork(new SainOptions
        {
            Scale = options.Scale, EnhancedBlocks = options.EnhancedBlocks, VanillaBlocks = options.VanillaBlocks, Growth = options.Growth,
        }, init);
        return new SainObjective(net, codec, lambda);
    }
}

/// <summary>The distances the objectives are built from, per batch of size B (the first dimension).</summary>
public static class Losses
{
    /// <summary>Σ(a − b)² / B.</summary>
    public static Tensor SumSquares(Tensor a, Tensor b) => (a - b).Squared().sum() / S(a.size(0));

    /// <summary>Σ√((a − b)² + ε) / B.</summary>
    public static Tensor Charbonnier(Tensor a, Tensor b, double eps = 1e-6) => (a - b).Squared().Plus(eps).sqrt().sum() / S(a.size(0));
}
