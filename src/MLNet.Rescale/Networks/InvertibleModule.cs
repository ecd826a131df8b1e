using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.NN;

namespace MLNet.Rescale.Networks;

/// <summary>
/// A bijection on NCHW tensors (as FrEIA's blocks): <see cref="Forward"/> and <see cref="Inverse"/> take and give
/// the same shapes, so a network is a list of these run in order, or in reverse order backwards.
/// </summary>
public abstract class InvertibleModule : Module
{
    /// <summary>The forward direction (HR side → LR side).</summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>The exact inverse of <see cref="Forward"/>.</summary>
    public abstract Tensor Inverse(Tensor y);

    /// <summary>Channels after the forward direction, given the channels before it.</summary>
    public virtual int OutputChannels(int inputChannels) => inputChannels;
}
