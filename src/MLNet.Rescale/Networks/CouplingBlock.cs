using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Networks;

/// <summary>
/// What IRN's and SAIN's couplings share: the split of the channels into a low part (the first
/// <see cref="Split"/>, the LR side) and a high part, the dense subnets F, G, H, and the affine update of the high
/// part <c>y2 = x2·eˢ + G(y1)</c> with <c>s = clamp·(2σ(H(y1)) − 1)</c>, which <see cref="AffineInverse"/> undoes.
/// Subclasses differ only in how the low part is updated.
/// </summary>
public abstract class CouplingBlock : InvertibleModule
{
    /// <summary>Registers F, G and H (named <paramref name="name"/> for TorchSharp) for <paramref name="channels"/> channels split <paramref name="split"/> / rest.</summary>
    protected CouplingBlock(string name, int channels, int split, int growth, double clamp, Generator? generator) : base(name)
    {
        if (split <= 0 || split >= channels)
            throw new ArgumentOutOfRangeException(nameof(split), $"split {split} must lie strictly between 0 and {channels} channels");
        Channels = channels;
        Split = split;
        Clamp = clamp;
        F = new DenseBlock(channels - split, split, growth, generator);
        G = new DenseBlock(split, channels - split, growth, generator);
        H = new DenseBlock(split, channels - split, growth, generator);
        register_module("F", F);
        register_module("G", G);
        register_module("H", H);
    }

    /// <summary>Channels of the input and output.</summary>
    public int Channels { get; }
    /// <summary>Channels of the low (LR) part.</summary>
    public int Split { get; }
    /// <summary>Bound of the log-scale.</summary>
    public double Clamp { get; }
    /// <summary>Additive update of the low-frequency part.</summary>
    public DenseBlock F { get; }
    /// <summary>Additive update of the high-frequency part.</summary>
    public DenseBlock G { get; }
    /// <summary>Log-scale of the high-frequency part.</summary>
    public DenseBlock H { get; }

    /// <summary>Channels 0..split−1.</summary>
    protected Tensor Low(Tensor x) => x.narrow(1, 0, Split);

    /// <summary>Channels split..C−1.</summary>
    protected Tensor High(Tensor x) => x.narrow(1, Split, Channels - Split);

    /// <summary><c>x2·eˢ + G(y1)</c> with <c>s = clamp·(2σ(H(y1)) − 1)</c>.</summary>
    protected Tensor AffineForward(Tensor x2, Tensor y1) => (x2 * LogScale(y1).exp()).Plus(G.forward(y1));

    /// <summary>The inverse of <see cref="AffineForward"/>: <c>(y2 − G(y1))·e⁻ˢ</c>.</summary>
    protected Tensor AffineInverse(Tensor y2, Tensor y1) => (y2 - G.forward(y1)) / LogScale(y1).exp();

    private Tensor LogScale(Tensor y1) => S(Clamp) * (H.forward(y1).sigmoid() * S(2) - S(1));
}
