using MLNet.Rescale.Tensors;

namespace MLNet.Rescale.Networks;

/// <summary>
/// SAIN's enhanced coupling, with an extra subnet E that produces the high-quality LR:
/// forward  LR = x1 + E(x2);  y1 = LR − F(x2);  s = clamp·(2σ(H(y1)) − 1);  y2 = x2·eˢ + G(y1)
/// inverse  s = clamp·(2σ(H(x1)) − 1);  y2 = (x2 − G(x1))·e⁻ˢ;  LR = x1 + F(y2);  y1 = LR − E(y2)
/// The LR of the last call is kept in <see cref="LastLr"/> (owned by the caller's scope).
/// </summary>
public sealed class EnhancedInvBlock : InvertibleModule
{
    private readonly int split;
    private readonly int channels;

    /// <summary>Creates the block for <paramref name="channels"/> channels.</summary>
    public EnhancedInvBlock(int channels, int split = 3, int growth = 32, double clamp = 1.0, Generator? generator = null)
    {
        this.channels = channels;
        this.split = split;
        Clamp = clamp;
        E = RegisterModule("E", new DenseBlock(channels - split, split, growth, generator));
        F = RegisterModule("F", new DenseBlock(channels - split, split, growth, generator));
        G = RegisterModule("G", new DenseBlock(split, channels - split, growth, generator));
        H = RegisterModule("H", new DenseBlock(split, channels - split, growth, generator));
    }

    /// <summary>Bound of the log-scale.</summary>
    public double Clamp { get; }
    /// <summary>Produces the high-quality LR from the high-frequency part.</summary>
    public DenseBlock E { get; }
    /// <summary>Additive update of the low-frequency part.</summary>
    public DenseBlock F { get; }
    /// <summary>Additive update of the high-frequency part.</summary>
    public DenseBlock G { get; }
    /// <summary>Log-scale of the high-frequency part.</summary>
    public DenseBlock H { get; }

    /// <summary>The LR computed by the last Forward or Inverse (in the scope that was open during the call).</summary>
    public Tensor? LastLr { get; private set; }

    private Tensor LogScale(Tensor y1) => Clamp * (H.Forward(y1).Sigmoid() * 2 - 1);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        var x1 = x.Narrow(1, 0, split);
        var x2 = x.Narrow(1, split, channels - split);
        var lr = x1 + E.Forward(x2);
        var y1 = lr - F.Forward(x2);
        var y2 = x2 * LogScale(y1).Exp() + G.Forward(y1);
        LastLr = lr.MoveToOuterScope();
        return Tensor.Cat([y1, y2], 1).MoveToOuterScope();
    }

    /// <inheritdoc/>
    public override Tensor Inverse(Tensor y)
    {
        using var scope = Torch.NewScope();
        var x1 = y.Narrow(1, 0, split);
        var x2 = y.Narrow(1, split, channels - split);
        var y2 = (x2 - G.Forward(x1)) / LogScale(x1).Exp();
        var lr = x1 + F.Forward(y2);
        var y1 = lr - E.Forward(y2);
        LastLr = lr.MoveToOuterScope();
        return Tensor.Cat([y1, y2], 1).MoveToOuterScope();
    }
}
