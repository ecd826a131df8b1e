using MLNet.Rescale.Tensors;

namespace MLNet.Rescale.Networks;

/// <summary>
/// IRN's affine coupling. x = (x1, x2) split 3 / C−3:
/// forward  y1 = x1 + F(x2);  s = clamp·(2σ(H(y1)) − 1);  y2 = x2·eˢ + G(y1)
/// inverse  s = clamp·(2σ(H(y1)) − 1);  x2 = (y2 − G(y1))·e⁻ˢ;  x1 = y1 − F(x2)
/// </summary>
public sealed class InvBlockExp : InvertibleModule
{
    private readonly int split;
    private readonly int channels;

    /// <summary>Creates the block for <paramref name="channels"/> channels.</summary>
    public InvBlockExp(int channels, int split = 3, int growth = 32, double clamp = 1.0, Generator? generator = null)
    {
        this.channels = channels;
        this.split = split;
        Clamp = clamp;
        F = RegisterModule("F", new DenseBlock(channels - split, split, growth, generator));
        G = RegisterModule("G", new DenseBlock(split, channels - split, growth, generator));
        H = RegisterModule("H", new DenseBlock(split, channels - split, growth, generator));
    }

    /// <summary>Bound of the log-scale.</summary>
    public double Clamp { get; }
    /// <summary>Additive update of the low-frequency part.</summary>
    public DenseBlock F { get; }
    /// <summary>Additive update of the high-frequency part.</summary>
    public DenseBlock G { get; }
    /// <summary>Log-scale of the high-frequency part.</summary>
    public DenseBlock H { get; }

    private Tensor LogScale(Tensor y1) => Clamp * (H.Forward(y1).Sigmoid() * 2 - 1);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        var x1 = x.Narrow(1, 0, split);
        var x2 = x.Narrow(1, split, channels - split);
        var y1 = x1 + F.Forward(x2);
        var y2 = x2 * LogScale(y1).Exp() + G.Forward(y1);
        return Tensor.Cat([y1, y2], 1).MoveToOuterScope();
    }

    /// <inheritdoc/>
    public override Tensor Inverse(Tensor y)
    {
        using var scope = Torch.NewScope();
        var y1 = y.Narrow(1, 0, split);
        var y2 = y.Narrow(1, split, channels - split);
        var x2 = (y2 - G.Forward(y1)) / LogScale(y1).Exp();
        var x1 = y1 - F.Forward(x2);
        return Tensor.Cat([x1, x2], 1).MoveToOuterScope();
    }
}
