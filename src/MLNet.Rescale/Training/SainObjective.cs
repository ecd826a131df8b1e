using MLNet.Rescale.Compression;
using MLNet.Rescale.Evaluation;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Training;

/// <summary>
/// SAIN's training objective per batch of size B, with L2(a, b) = Σ(a − b)²/B, Charb the Charbonnier distance,
/// Quant the straight-through 8-bit quantization, Real the real codec (no gradient) and DiffJpeg its surrogate:
/// <code>
/// (out, LR) = forward(HR)                      fit1 = λ·L2(LR, LR_bicubic)
/// LRq = Quant(LR); (HR', LR') = inverse(DiffJpeg(LRq), z ~ mixture)
/// back = Charb(HR', HR)                        fit2 = λ·L2(out[:3], Real(LR_bicubic))
/// reg  = λ·L2(LRq, LR')                        rel  = λ·L2(out[:3], Real(LRq))
/// total = back + (fit1 + fit2 + reg + rel)/4
/// </code>
/// fit1 makes the high-quality LR look like bicubic; fit2 and rel teach the vanilla blocks what the real codec does;
/// back trains the upscaler on what the surrogate codec leaves, and reg makes the inverse restore the LR from it.
/// </summary>
public sealed class SainObjective : TrainingObjective
{
    private static readonly LossTermInfo[] TermList =
        [new("back", "back"), new("fit1", "fit1"), new("fit2", "fit2"), new("reg", "reg"), new("rel", "rel")];

    private readonly SainNetwork net;
    private readonly DiffJpeg surrogate;

    /// <summary>Trains <paramref name="network"/> through <paramref name="codec"/> with weight λ = <paramref name="lambda"/>.</summary>
    public SainObjective(SainNetwork network, LossyCodec codec, double lambda) : base(network)
    {
        net = network;
        Codec = codec.Validated();
        Lambda = lambda;
        // JPEG's tables are the only differentiable codec model there is; for WebP it stands in at the same quality.
        surrogate = new DiffJpeg(codec.Quality);
    }

    /// <summary>The real codec in the loop.</summary>
    public LossyCodec Codec { get; }

    /// <summary>Weight λ of the four LR terms (the reference: scale²).</summary>
    public double Lambda { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<LossTermInfo> Terms => TermList;

    /// <summary>SAIN exists to upscale the compressed LR, so validation scores the round trip through the codec.</summary>
    public override LossyCodec? ValidationCodec => Codec;

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, string>> Notes => [new("training_codec", Codec.ToString())];

    /// <inheritdoc/>
    public override LossTerms Compute(Tensor hr, Tensor lrBicubic, Generator? latentGenerator)
    {
        var (output, lr) = net.ForwardWithLr(hr);
        var fit1 = Losses.SumSquares(lr, lrBicubic) * S(Lambda);
        var lrq = Quantization.Quantize(lr);
        var z = net.SampleLatent(lr.shape, latentGenerator, 1.0, lr.device);
        var (hrRec, lrRestored) = net.InverseWithLr(cat([surrogate.forward(lrq), z], 1));
        var back = Losses.Charbonnier(hrRec.narrow(1, 0, 3), hr);
        var simulated = RescaleNetwork.LrOf(output);
        var fit2 = Losses.SumSquares(simulated, Codec.ApplyToBatch(lrBicubic)) * S(Lambda);
        var reg = Losses.SumSquares(lrq, lrRestored) * S(Lambda);
        var rel = Losses.SumSquares(simulated, Codec.ApplyToBatch(lrq)) * S(Lambda);
        var total = back.Plus(fit1.Plus(fit2).Plus(reg).Plus(rel) / S(4));
        return new LossTerms(total, [new("back", back), new("fit1", fit1), new("fit2", fit2), new("reg", reg), new("rel", rel)]);
    }
}
