using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.NN;

namespace MLNet.Rescale.Networks;

/// <summary>
/// The Haar wavelet as a fixed grouped 2×2 convolution (÷4): [N, C, H, W] → [N, 4C, H/2, W/2], subband-major
/// (output channel k·C + c; the first C channels are the 2×2 averages). The inverse is exact.
/// </summary>
public sealed class HaarDownsampling : InvertibleModule
{
    private readonly int channels;
    private readonly Parameter weights;

    /// <summary>Creates the transform for <paramref name="channels"/> input channels.</summary>
    public HaarDownsampling(int channels)
    {
        this.channels = channels;
        // Per channel: average, horizontal, vertical and diagonal detail filters.
        float[] filters = [1, 1, 1, 1, 1, -1, 1, -1, 1, 1, -1, -1, 1, -1, -1, 1];
        var w = new float[channels * 16];
        for (int c = 0; c < channels; c++) filters.CopyTo(w, c * 16);
        weights = RegisterParameter("haar_weights", new Parameter(Tensor.From<float>(w, [4L * channels, 1, 2, 2]), requiresGrad: false));
    }

    /// <inheritdoc/>
    public override int OutputChannels(int inputChannels) => inputChannels * 4;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        var s = x.Shape;
        long n = s[0], h = s[2] / 2, w = s[3] / 2;
        var o = Functional.Conv2d(x, weights, stride: 2, groups: channels) / 4.0;
        // [N, C·4, …] channel-major → subband-major.
        return o.Reshape(n, channels, 4, h, w).Transpose(1, 2).Reshape(n, channels * 4, h, w).MoveToOuterScope();
    }

    /// <inheritdoc/>
    public override Tensor Inverse(Tensor y)
    {
        using var scope = Torch.NewScope();
        var s = y.Shape;
        long n = s[0], h = s[2], w = s[3];
        var o = y.Reshape(n, 4, channels, h, w).Transpose(1, 2).Reshape(n, channels * 4, h, w);
        return Functional.ConvTranspose2d(o, weights, stride: 2, groups: channels).MoveToOuterScope();
    }
}
