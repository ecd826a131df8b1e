using MLNet.Rescale.Imaging;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.Inference;

/// <summary>Conversions between <see cref="Image"/> (planar CHW floats) and NCHW tensors.</summary>
public static class ImageTensors
{
    /// <summary>[1, C, H, W] float32 tensor of the image's values.</summary>
    public static Tensor ToTensor(Image image, Device? device = null) =>
        tensor(image.Data, [1, image.Channels, image.Height, image.Width], device: device);

    /// <summary>A batch [N, C, H, W] of equally sized images.</summary>
    public static Tensor ToBatch(IReadOnlyList<Image> images, Device? device = null)
    {
        var first = images[0];
        var data = new float[images.Count * first.Data.Length];
        for (int i = 0; i < images.Count; i++)
        {
            if (images[i].Width != first.Width || images[i].Height != first.Height || images[i].Channels != first.Channels)
                throw new ArgumentException("batch images must share a size and channel count");
            images[i].Data.CopyTo(data, i * first.Data.Length);
        }
        return tensor(data, [images.Count, first.Channels, first.Height, first.Width], device: device);
    }

    /// <summary>The image at batch index <paramref name="index"/> of an NCHW tensor (values copied as they are).</summary>
    public static Image ToImage(Tensor nchw, int index = 0, int bitDepth = 8)
    {
        using var scope = NewDisposeScope();
        var s = nchw.shape;
        if (s.Length != 4) throw new ArgumentException($"expected an NCHW tensor, got {nchw}");
        var one = nchw.narrow(0, index, 1).detach().to(ScalarType.Float32);
        return new Image((int)s[3], (int)s[2], (int)s[1], one.data<float>().ToArray(), bitDepth);
    }
}
