using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.Networks;

/// <summary>
/// A bijection on NCHW tensors as a TorchSharp module (as FrEIA's blocks): <see cref="nn.Module{T, TResult}.forward"/>
/// and <see cref="inverse"/> take and give the same shapes, so a network is a list of these run in order, or in
/// reverse order backwards.
/// </summary>
public abstract class InvertibleModule : nn.Module<Tensor, Tensor>
{
    /// <summary>Names the module (TorchSharp's module name).</summary>
    // libtorch is started (with one clear error when it cannot load) before TorchSharp's own constructor touches it.
    protected InvertibleModule(string name) : base(TorchRuntime.Started(name)) { }

    /// <summary>
    /// Nothing to do: submodules and parameters are registered explicitly under the reference names, and TorchSharp's
    /// automatic registration by C# field name would add them a second time under other names.
    /// </summary>
    protected override void RegisterComponents() { }

    /// <summary>The exact inverse of <c>forward</c>.</summary>
    public abstract Tensor inverse(Tensor y);

    /// <summary>Channels after the forward direction, given the channels before it.</summary>
    public virtual int OutputChannels(int inputChannels) => inputChannels;
}
