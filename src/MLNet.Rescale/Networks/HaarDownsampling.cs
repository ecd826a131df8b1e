using MLNet.Rescale.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Networks;

/// <summary>
/// The Haar wavelet as a fixed grouped 2×2 convolution (÷4): [N, C, H, W] → [N, 4C, H/2, W/2], subband-major
/// (output channel k·C + c; the first C channels are the 2×2 averages). The inverse is exact. The filters are the
/// parameter <c>haar_weights</c> [4C, 1, 2, 2] with <c>requires_grad = false</c>, as in the reference.
/// </summary>
public sealed class HaarDownsampling : InvertibleModule
{
    private readonly int channels;
    // Named for TorchSharp: Module.to(...) replaces a parameter in the field whose component name matches.
    [TorchSharp.Utils.ComponentName(Name = "haar_weights")]
    private readonly Parameter weights;

    /// <summary>Creates the transform for <paramref name="channels"/> input channels.</summary>
    /// <exception cref="InvalidOperationException">This machine's libtorch computes its convolutions wrong (see <see cref="ConvolutionCheck"/>).</exception>
    public HaarDownsampling(int channels) : base(nameof(HaarDownsampling))
    {
        TorchRuntime.EnsureStarted();
        ConvolutionCheck.Require(new ConvolutionShape(channels, 4 * channels, 2, Stride: 2, Groups: channels), ConvolutionLayout.ChannelsFirst);
        ConvolutionCheck.Require(new ConvolutionShape(4 * channels, channels, 2, Stride: 2, Groups: channels, Transposed: true), ConvolutionLayout.ChannelsFirst);
        this.channels = channels;
        // Per channel: average, horizontal, vertical and diagonal detail filters.
        float[] filters = [1, 1, 1, 1, 1, -1, 1, -1, 1, 1, -1, -1, 1, -1, -1, 1];
        var w = new float[channels * 16];
        for (int c = 0; c < channels; c++) filters.CopyTo(w, c * 16);
        weights = new Parameter(tensor(w, [4L * channels, 1, 2, 2]).DetachFromDisposeScope(), requires_grad: false);
        register_parameter("haar_weights", weights);
    }

    /// <summary>Channels of the input.</summary>
    internal int InputChannels => channels;

    /// <summary>The [4C, 1, 2, 2] filters (<c>haar_weights</c>), for the ONNX exporter.</summary>
    internal Parameter Weights => weights;

    /// <inheritdoc/>
    public override int OutputChannels(int inputChannels) => inputChannels * 4;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], h = x.shape[2] / 2, w = x.shape[3] / 2;
        var o = nn.functional.conv2d(x, weights, strides: [2, 2], groups: channels) / S(4.0);
        // [N, C·4, …] channel-major → subband-major.
        return o.reshape(n, channels, 4, h, w).transpose(1, 2).reshape(n, channels * 4, h, w).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor inverse(Tensor y)
    {
        using var scope = NewDisposeScope();
        long n = y.shape[0], h = y.shape[2], w = y.shape[3];
        var o = y.reshape(n, 4, channels, h, w).transpose(1, 2).reshape(n, channels * 4, h, w);
        return nn.functional.conv_transpose2d(o, weights, strides: [2, 2], groups: channels).MoveToOuterDisposeScope();
    }
}
