using MLNet.Rescale.Imaging;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.Inference;

/// <summary>
/// Boundary checks of the inference API: a NaN or an infinity in an input image or tensor would spread through
/// every convolution into the whole output (and through tiling into neighbouring tiles), so it is refused where it
/// enters, with an <see cref="ArgumentException"/> that says where the first bad value is.
/// </summary>
internal static class FiniteInput
{
    /// <summary>Throws <see cref="ArgumentException"/> when any sample of <paramref name="image"/> is NaN or infinite.</summary>
    /// <param name="image">The image handed to the API.</param>
    /// <param name="paramName">The parameter's name, for the message.</param>
    public static void Require(Image image, string paramName)
    {
        ArgumentNullException.ThrowIfNull(image, paramName);
        var data = image.Data;
        int first = -1, count = 0;
        for (int i = 0; i < data.Length; i++)
        {
            if (float.IsFinite(data[i])) continue;
            if (first < 0) first = i;
            count++;
        }
        if (count == 0) return;
        int plane = image.PlaneSize, c = first / plane, y = first % plane / image.Width, x = first % image.Width;
        throw new ArgumentException(
            $"the {image.Width}×{image.Height} image has {count} non-finite sample(s) (NaN or ±infinity); the first, {data[first]}, "
            + $"is in channel {c} at ({x}, {y}). Samples must be finite (normally in [0, 1])", paramName);
    }

    /// <summary>Throws <see cref="ArgumentException"/> when any element of a floating-point <paramref name="tensor"/> is NaN or infinite.</summary>
    /// <param name="tensor">The tensor handed to the API.</param>
    /// <param name="paramName">The parameter's name, for the message.</param>
    public static void Require(Tensor tensor, string paramName)
    {
        ArgumentNullException.ThrowIfNull(tensor, paramName);
        if (tensor.dtype is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16)) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long numel = tensor.numel();
        long finite = (long)tensor.isfinite().to(ScalarType.Float64).sum().Value();
        if (finite == numel) return;
        throw new ArgumentException(
            $"the tensor of shape [{string.Join(", ", tensor.shape)}] has {numel - finite} non-finite value(s) (NaN or ±infinity); "
            + "pixel values must be finite (normally in [0, 1])", paramName);
    }
}
