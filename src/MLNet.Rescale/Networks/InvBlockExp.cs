using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;

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
        : base(nameof(InvBlockExp), channels, split, growth, clamp, generator)
    {
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x1 = Low(x);
        var x2 = High(x);
        var y1 = x1.Plus(F.forward(x2));
        var y2 = AffineForward(x2, y1);
        return cat([y1, y2], 1).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor inverse(Tensor y)
    {
        using var scope = NewDisposeScope();
        var y1 = Low(y);
        var y2 = High(y);
        var x2 = AffineInverse(y2, y1);
        var x1 = y1 - F.forward(x2);
        return cat([x1, x2], 1).MoveToOuterDisposeScope();
    }
}
