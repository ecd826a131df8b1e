using System.Globalization;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Networks;

/// <summary>
/// An invertible rescaling network: <c>Forward</c> maps an HR image [N, 3, H, W] to
/// [N, 3·s², H/s, W/s] whose channels 0..2 are the LR image (for SAIN: the LR as the codec is expected to leave
/// it) and the rest the latent z; <c>Inverse</c> maps an LR image concatenated with a z back to HR.
/// <see cref="Downscale"/> gives the LR to deliver and <see cref="SampleLatent"/> the z to upscale with.
/// </summary>
public abstract class RescaleNetwork : InvertibleModule
{
    /// <summary>Names the module and makes sure libtorch is loaded.</summary>
    protected RescaleNetwork(string name) : base(name) { }

    /// <summary>Architecture name stored in model files ("IRN", "SAIN").</summary>
    public abstract string Architecture { get; }

    /// <summary>Downscaling factor (2, 4 or 8).</summary>
    public abstract int Scale { get; }

    /// <summary>Channels of the forward output: 3·scale².</summary>
    public int OutputChannelCount => 3 * Scale * Scale;

    /// <summary>The bijections in forward order: <c>forward</c> runs them in order, <see cref="inverse"/> backwards.</summary>
    protected abstract IReadOnlyList<InvertibleModule> Operations { get; }

    /// <summary><see cref="Operations"/>, for the ONNX exporter.</summary>
    internal IReadOnlyList<InvertibleModule> OperationList => Operations;

    /// <inheritdoc/>
    public override int OutputChannels(int inputChannels) => inputChannels * Scale * Scale;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => ForwardThrough(Operations, x);

    /// <inheritdoc/>
    public override Tensor inverse(Tensor y) => InverseThrough(Operations, y);

    /// <summary>
    /// The LR image [N, 3, H/s, W/s] to deliver for an HR image (not yet quantized): channels 0..2 of the forward
    /// output for IRN; networks whose output is not the delivered LR (SAIN) override this.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="hr"/> holds a NaN or an infinity.</exception>
    public virtual Tensor Downscale(Tensor hr)
    {
        Inference.FiniteInput.Require(hr, nameof(hr));
        using var scope = NewDisposeScope();
        return LrOf(forward(hr)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Spread σ of the latent z ~ N(0, σ²) the network was trained with (IRN's reference: 1);
    /// <see cref="SampleLatent"/> draws with σ·temperature.
    /// </summary>
    public virtual double LatentScale => 1.0;

    /// <summary>
    /// Draws a latent for an LR of shape [N, 3, h, w]; <paramref name="temperature"/> scales its spread relative to
    /// the one the network was trained with (1 = as trained). The default is N(0, <see cref="LatentScale"/>²).
    /// </summary>
    public virtual Tensor SampleLatent(long[] lrShape, Generator? generator = null, double temperature = 1.0, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var z = randn([lrShape[0], OutputChannelCount - 3, lrShape[2], lrShape[3]], device: device, generator: generator);
        double spread = temperature * LatentScale;
        return (spread == 1.0 ? z : z * S(spread)).MoveToOuterDisposeScope();
    }

    /// <summary>Architecture hyper-parameters as strings, written into model files.</summary>
    public abstract IReadOnlyList<KeyValuePair<string, string>> ArchitectureMetadata();

    /// <summary>The HR image [N, 3, H, W] the network restores from an LR [N, 3, h, w] and a latent.</summary>
    /// <exception cref="ArgumentException"><paramref name="lr"/> or <paramref name="z"/> holds a NaN or an infinity.</exception>
    public virtual Tensor Upscale(Tensor lr, Tensor z)
    {
        Inference.FiniteInput.Require(lr, nameof(lr));
        Inference.FiniteInput.Require(z, nameof(z));
        using var scope = NewDisposeScope();
        return inverse(cat([lr, z], 1)).narrow(1, 0, 3).MoveToOuterDisposeScope();
    }

    /// <summary>Upscales an LR image with a freshly drawn latent.</summary>
    public Tensor Upscale(Tensor lr, Generator? generator = null, double temperature = 1.0)
    {
        using var scope = NewDisposeScope();
        var z = SampleLatent(lr.shape, generator, temperature, lr.device);
        return Upscale(lr, z).MoveToOuterDisposeScope();
    }

    /// <summary>The LR part (channels 0..2) of a forward output.</summary>
    public static Tensor LrOf(Tensor forwardOutput) => forwardOutput.narrow(1, 0, 3);

    /// <summary>The latent part (channels 3..) of a forward output.</summary>
    public static Tensor LatentOf(Tensor forwardOutput) => forwardOutput.narrow(1, 3, forwardOutput.shape[1] - 3);

    /// <summary>Number of Haar levels for a scale (log2), validating it.</summary>
    public static int Levels(int scale) => scale switch
    {
        2 => 1,
        4 => 2,
        8 => 3,
        _ => throw new ArgumentException($"scale must be 2, 4 or 8, got {scale}"),
    };

    /// <summary>Runs <paramref name="operations"/> forward in order.</summary>
    protected static Tensor ForwardThrough(IReadOnlyList<InvertibleModule> operations, Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var op in operations) h = op.forward(h);
        return (ReferenceEquals(h, x) ? h.alias() : h).MoveToOuterDisposeScope();
    }

    /// <summary>Runs the inverses of <paramref name="operations"/> in reverse order.</summary>
    protected static Tensor InverseThrough(IReadOnlyList<InvertibleModule> operations, Tensor y)
    {
        using var scope = NewDisposeScope();
        var h = y;
        for (int i = operations.Count - 1; i >= 0; i--) h = operations[i].inverse(h);
        return (ReferenceEquals(h, y) ? h.alias() : h).MoveToOuterDisposeScope();
    }

    /// <summary>Formats a number the way the reference metadata does.</summary>
    protected static string Str(double v) => v.ToString("0.0##", CultureInfo.InvariantCulture);
}

/// <summary>Quantization of an LR image to 8 bits with a straight-through gradient.</summary>
public static class Quantization
{
    /// <summary>round(clamp(x, 0, 1)·255)/255 in the forward pass, identity gradient.</summary>
    public static Tensor Quantize(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor q;
        using (no_grad()) q = (x.clamp(S(0), S(1)) * S(255)).round() / S(255);
        return Sampling.StraightThrough(x, q).MoveToOuterDisposeScope();
    }
}
