using MLNet.Rescale.Tensors;

namespace MLNet.Rescale.Networks;

/// <summary>
/// IRN's affine coupling (SAIN's vanilla block). x = (x1, x2) split 3 / C−3:
/// forward  y1 = x1 + F(x2);  s = clamp·(2σ(H(y1)) − 1);  y2 = x2·eˢ + G(y1)
/// inverse  s = clamp·(2σ(H(y1)) − 1);  x2 = (y2 − G(y1))·e⁻ˢ;  x1 = y1 − F(x2)
/// </summary>
public sealed class InvBlockExp : CouplingBlock
{
    /// <summary>Creates the block for <paramref name="channels"/> channels.</summary>
    public InvBlockExp(int channels, int split = 3, int growth = 32, double clamp = 1.0, Generator? generator = null)
        : base(channels, split, growth, clamp, generator)
    {
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        var x1 = Low(x);
        var x2 = High(x);
        var y1 = x1 + F.Forward(x2);
        var y2 = AffineForward(x2, y1);
        return Tensor.Cat([y1, y2], 1).MoveToOuterScope();
    }

    /// <inheritdoc/>
    public override Tensor Inverse(Tensor y)
    {
        using var scope = Torch.NewScope();
        var y1 = Low(y);
        var y2 = High(y);
        var x2 = AffineInverse(y2, y1);
        var x1 = y1 - F.Forward(x2);
        return Tensor.Cat([x1, x2], 1).MoveToOuterScope();
    }
}
