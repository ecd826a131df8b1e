using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors;

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

/// <summary>The terms of one evaluation of the objective (the tensors are owned by the caller's scope).</summary>
public sealed record IrnLoss(Tensor Total, Tensor Fit, Tensor Latent, Tensor Reconstruction);

/// <summary>
/// IRN's training objective, as the reference computes it per batch of size B:
/// fit = λ_fit·Σ(LR − LR_bicubic)²/B, latent = λ_ce·Σz²/B, and
/// reconstruction = λ_rec·Σ√((x̂ − x)² + 1e−6)/B where x̂ inverts Quant(LR) (straight-through) with fresh z ~ N(0, 1).
/// </summary>
public static class IrnObjective
{
    /// <summary>Σ(a − b)² / B.</summary>
    public static Tensor SumSquares(Tensor a, Tensor b) => (a - b).Square().Sum() / a.Size(0);

    /// <summary>Σ√((a − b)² + ε) / B.</summary>
    public static Tensor Charbonnier(Tensor a, Tensor b, double eps = 1e-6) => ((a - b).Square() + eps).Sqrt().Sum() / a.Size(0);

    /// <summary>Evaluates the objective on a batch of HR images and their bicubic LR.</summary>
    public static IrnLoss Compute(RescaleNetwork net, Tensor hr, Tensor lrBicubic, IrnLossWeights w, Generator? latentGenerator)
    {
        long batch = hr.Size(0);
        var output = net.Forward(hr);
        var lr = RescaleNetwork.LrOf(output);
        var z = RescaleNetwork.LatentOf(output);
        var fit = SumSquares(lr, lrBicubic) * w.Fit;
        var latent = z.Square().Sum() / batch * w.Latent;
        var y = Tensor.Cat([Quantization.Quantize(lr), net.SampleLatent(lr.Shape, latentGenerator, 1.0, lr.Device)], 1);
        var rec = Charbonnier(net.Inverse(y), hr) * w.Reconstruction;
        return new IrnLoss(fit + latent + rec, fit, latent, rec);
    }
}
