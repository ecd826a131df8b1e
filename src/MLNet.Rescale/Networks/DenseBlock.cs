using MLNet.Rescale.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Networks;

/// <summary>
/// The subnet of every coupling: five 3×3 convolutions with dense connections and LeakyReLU(0.2), as a TorchSharp
/// module whose parameters are <c>conv1.weight</c> … <c>conv5.bias</c> (the reference names).
/// conv1–conv4 start xavier-normal × 0.1 and conv5 at zero, so a fresh coupling is the identity.
/// </summary>
public sealed class DenseBlock : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d[] convs;

    /// <summary>The layout the block convolves in: the one whose convolutions libtorch computes right and fastest.</summary>
    public const ConvolutionLayout Layout = ConvolutionLayout.ChannelsLast;

    /// <summary>Creates the block mapping <paramref name="inChannels"/> to <paramref name="outChannels"/>.</summary>
    /// <exception cref="InvalidOperationException">This machine's libtorch computes one of the block's convolutions wrong (see <see cref="ConvolutionCheck"/>).</exception>
    public DenseBlock(int inChannels, int outChannels, int growth = 32, Generator? generator = null) : base(TorchRuntime.Started(nameof(DenseBlock)))
    {
        TorchRuntime.EnsureStarted();
        // TorchSharp's in-place ops (zero_, mul_) return fresh handles to the same tensor: the scope frees them.
        using var scope = NewDisposeScope();
        convs = new Conv2d[5];
        for (int i = 0; i < 5; i++)
        {
            int cin = inChannels + i * growth, cout = i < 4 ? growth : outChannels;
            ConvolutionCheck.Require(new ConvolutionShape(cin, cout, 3, Padding: 1), Layout);
            var conv = nn.Conv2d(cin, cout, 3, padding: 1);
            using (no_grad())
            {
                if (i < 4)
                {
                    Sampling.XavierNormal(conv.weight!, 1, generator);
                    conv.weight!.mul_(S(0.1));
                }
                else
                {
                    conv.weight!.zero_();
                }
                conv.bias!.zero_();
            }
            convs[i] = conv;
            register_module($"conv{i + 1}", conv);
        }
        Growth = growth;
    }

    /// <summary>
    /// Nothing to do: submodules and parameters are registered explicitly under the reference names, and TorchSharp's
    /// automatic registration by C# field name would add them a second time under other names.
    /// </summary>
    protected override void RegisterComponents() { }

    /// <summary>Growth channels of each intermediate convolution.</summary>
    public int Growth { get; }

    /// <summary>conv1 … conv5, for the ONNX exporter.</summary>
    internal IReadOnlyList<Conv2d> Convolutions => convs;

    /// <summary>Applies the block.</summary>
    /// <remarks>
    /// The block works channels-last inside (the input is copied once to NHWC strides, and the result back to the
    /// input's layout): oneDNN convolves NHWC tensors without reordering them, the concatenations of NHWC features
    /// are cheap, and it is the layout <see cref="ConvolutionCheck"/> verified. The arithmetic is the same.
    /// </remarks>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var nhwc = Layouts.Convert(x, Layout);
        var features = new List<Tensor>(5) { nhwc };
        for (int i = 0; i < 5; i++)
        {
            var input = i == 0 ? nhwc : cat(features, 1);
            var y = convs[i].forward(input);
            // Free each concatenation as soon as its convolution is done (autograd keeps what it needs):
            // at large tiles they are the biggest tensors of the block.
            if (i > 0) input.Dispose();
            if (i == 4) return y.contiguous().MoveToOuterDisposeScope();
            var activated = y.leaky_relu(S(0.2));
            y.Dispose();
            features.Add(activated);
        }
        throw new InvalidOperationException("unreachable");
    }
}
