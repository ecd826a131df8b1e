using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.NN;

namespace MLNet.Rescale.Networks;

/// <summary>
/// The subnet of every coupling: five 3×3 convolutions with dense connections and LeakyReLU(0.2).
/// conv1–conv4 start xavier-normal × 0.1 and conv5 at zero, so a fresh coupling is the identity.
/// </summary>
public sealed class DenseBlock : Module
{
    private readonly Conv2d[] convs;

    /// <summary>Creates the block mapping <paramref name="inChannels"/> to <paramref name="outChannels"/>.</summary>
    public DenseBlock(int inChannels, int outChannels, int growth = 32, Generator? generator = null)
    {
        convs = new Conv2d[5];
        for (int i = 0; i < 5; i++)
        {
            int cout = i < 4 ? growth : outChannels;
            convs[i] = RegisterModule($"conv{i + 1}", new Conv2d(inChannels + i * growth, cout, 3, padding: 1, generator: generator));
            if (i < 4)
            {
                Init.XavierNormal(convs[i].Weight, 1, generator);
                Init.Scale(convs[i].Weight, 0.1);
            }
            else
            {
                Init.Constant(convs[i].Weight, 0);
            }
            Init.Constant(convs[i].Bias!, 0);
        }
        Growth = growth;
    }

    /// <summary>Growth channels of each intermediate convolution.</summary>
    public int Growth { get; }

    /// <summary>Applies the block.</summary>
    /// <remarks>
    /// The block works channels-last inside (the input is copied once to NHWC, and the result back to the
    /// input's layout): oneDNN convolves NHWC tensors without reordering them, and the concatenations of
    /// NHWC features take the fast channel path of <see cref="Tensor.Cat"/>. The arithmetic is the same.
    /// </remarks>
    public Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        var nhwc = x.Contiguous(MemoryFormat.ChannelsLast);
        var features = new List<Tensor>(5) { nhwc };
        for (int i = 0; i < 5; i++)
        {
            var input = i == 0 ? nhwc : Tensor.Cat(features, 1);
            var y = convs[i].Forward(input);
            // Free each concatenation as soon as its convolution is done (autograd keeps what it needs):
            // at large tiles they are the biggest tensors of the block.
            if (i > 0) input.Dispose();
            if (i == 4) return y.Contiguous().MoveToOuterScope();
            var activated = y.LeakyRelu(0.2);
            y.Dispose();
            features.Add(activated);
        }
        throw new InvalidOperationException("unreachable");
    }
}
