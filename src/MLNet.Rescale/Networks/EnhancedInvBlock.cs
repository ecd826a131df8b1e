using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.Networks;

/// <summary>
/// SAIN's enhanced coupling, with an extra subnet E that produces the high-quality LR:
/// forward  LR = x1 + E(x2);  y1 = LR − F(x2);  s = clamp·(2σ(H(y1)) − 1);  y2 = x2·eˢ + G(y1)
/// inverse  s = clamp·(2σ(H(y1)) − 1);  x2 = (y2 − G(y1))·e⁻ˢ;  LR = y1 + F(x2);  x1 = LR − E(x2)
/// <see cref="ForwardWithLr"/> and <see cref="InverseWithLr"/> also return that LR.
/// </summary>
/// <remarks>
/// E is registered after F, G and H (the reference registers it first); names, not order, matter when loading.
/// </remarks>
public sealed class EnhancedInvBlock : CouplingBlock
{
    /// <summary>Creates the block for <paramref name="channels"/> channels.</summary>
    public EnhancedInvBlock(int channels, int split = 3, int growth = 32, double clamp = 1.0, Generator? generator = null)
        : base(nameof(EnhancedInvBlock), channels, split, growth, clamp, generator)
    {
        E = new DenseBlock(channels - split, split, growth, generator);
        register_module("E", E);
    }

    /// <summary>Produces the high-quality LR from the high-frequency part.</summary>
    public DenseBlock E { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return ForwardWithLr(x).Output.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor inverse(Tensor y)
    {
        using var scope = NewDisposeScope();
        return InverseWithLr(y).Output.MoveToOuterDisposeScope();
    }

    /// <summary>The forward direction, with the LR <c>x1 + E(x2)</c> it computes on the way.</summary>
    public (Tensor Output, Tensor Lr) ForwardWithLr(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x1 = Low(x);
        var x2 = High(x);
        var lr = x1.Plus(E.forward(x2));
        var y1 = lr - F.forward(x2);
        var y2 = AffineForward(x2, y1);
        return (cat([y1, y2], 1).MoveToOuterDisposeScope(), lr.MoveToOuterDisposeScope());
    }

    /// <summary>The inverse direction, with the restored LR <c>y1 + F(x2)</c> it computes on the way.</summary>
    public (Tensor Output, Tensor Lr) InverseWithLr(Tensor y)
    {
        using var scope = NewDisposeScope();
        var y1 = Low(y);
        var y2 = High(y);
        var x2 = AffineInverse(y2, y1);
        var lr = y1.Plus(F.forward(x2));
        var x1 = lr - E.forward(x2);
        return (cat([x1, x2], 1).MoveToOuterDisposeScope(), lr.MoveToOuterDisposeScope());
    }
}
