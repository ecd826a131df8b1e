using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Training;

/// <summary>Weights of the IRN objective.</summary>
public sealed record IrnLossWeights
{
    /// <summary>Weight of the LR fit to bicubic (the reference uses scale²).</summary>
    public double Fit { get; init; } = 4;
    /// <summary>Weight of the latent term Σz²/B.</summary>
    public double Latent { get; init; } = 1;
    /// <summary>Weight of the Charbonnier reconstruction.</summary>
    public double Reconstruction { get; init; } = 1;

    /// <summary>The reference weights for a scale.</summary>
    public static IrnLossWeights ForScale(int scale) => new() { Fit = scale * scale };
}

/// <summary>
/// IRN's training objective, as the reference computes it per batch of size B:
/// fit = λ_fit·Σ(LR − LR_bicubic)²/B, latent = λ_ce·Σz²/B, and
/// reconstruction = λ_rec·Σ√((x̂ − x)² + 1e−6)/B where x̂ inverts Quant(LR) (straight-through) with fresh z ~ N(0, σ²), σ the network's <see cref="RescaleNetwork.LatentScale"/> (the reference: 1).
/// </summary>
public sealed class IrnObjective(RescaleNetwork network, IrnLossWeights weights) : TrainingObjective(network)
{
    // The keys are those of metrics.jsonl files written before objectives were pluggable; plots of old runs read them.
    private static readonly LossTermInfo[] TermList =
        [new("fit", "fit"), new("latent", "z", Plotted: false), new("reconstruction", "rec")];

    /// <summary>The weights.</summary>
    public IrnLossWeights Weights => weights;

    /// <inheritdoc/>
    public override IReadOnlyList<LossTermInfo> Terms => TermList;

    /// <inheritdoc/>
    public override LossTerms Compute(Tensor hr, Tensor lrBicubic, Generator? latentGenerator)
    {
        var net = Network;
        long batch = hr.size(0);
        var output = net.forward(hr);
        var lr = RescaleNetwork.LrOf(output);
        var z = RescaleNetwork.LatentOf(output);
        var fit = Losses.SumSquares(lr, lrBicubic) * S(weights.Fit);
        var latent = z.Squared().sum() / S(batch) * S(weights.Latent);
        var y = cat([Quantization.Quantize(lr), net.SampleLatent(lr.shape, latentGenerator, 1.0, lr.device)], 1);
        var rec = Losses.Charbonnier(net.inverse(y), hr) * S(weights.Reconstruction);
        return new LossTerms(fit.Plus(latent).Plus(rec), [new("fit", fit), new("latent", latent), new("reconstruction", rec)]);
    }
}
