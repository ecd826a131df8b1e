using System.Globalization;
using MLNet.Rescale.Compression;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.Evaluation;

/// <summary>
/// A real lossy codec at a quality (libjpeg-turbo or libwebp, 4:2:0), applied to an LR image the way a CDN or a
/// social network would before a client upscales it.
/// </summary>
public sealed record LossyCodec(ImageFormat Format, int Quality)
{
    /// <summary>Parses <c>jpeg:75</c> or <c>webp:80</c> (quality 1–100).</summary>
    public static LossyCodec Parse(string text)
    {
        var parts = text.Split(':');
        var format = ParseFormat(parts[0]);
        if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int q))
            throw new FormatException($"'{text}': expected CODEC:QUALITY, e.g. jpeg:75 or webp:80");
        return new LossyCodec(format, q).Validated();
    }

    /// <summary>Parses a codec name: <c>jpeg</c> (or <c>jpg</c>) or <c>webp</c>.</summary>
    public static ImageFormat ParseFormat(string name) => name.Trim().ToLowerInvariant() switch
    {
        "jpeg" or "jpg" => ImageFormat.Jpeg,
        "webp" => ImageFormat.Webp,
        _ => throw new FormatException($"'{name}': the codec must be jpeg or webp"),
    };

    /// <summary>This codec, after checking the quality is 1–100 and the format lossy.</summary>
    public LossyCodec Validated()
    {
        if (Format is not (ImageFormat.Jpeg or ImageFormat.Webp)) throw new FormatException($"{Format} is not a lossy codec (jpeg or webp)");
        if (Quality is < 1 or > 100) throw new FormatException($"codec quality must be 1–100, got {Quality}");
        return this;
    }

    /// <summary>Encodes and decodes the image: what the receiver gets.</summary>
    public Image Apply(Image image) => ImageFile.Decode(ImageFile.Encode(image, Format, Quality), ToString());

    /// <summary>
    /// The codec applied to every image of a batch [N, 3, H, W] with values in [0, 1]: a constant (no gradient) of the
    /// batch's shape, dtype and device. The batch crosses to host memory once and back once, and its images are coded
    /// in parallel (each is independent, so the result does not depend on the order).
    /// </summary>
    public Tensor ApplyToBatch(Tensor batch)
    {
        if (batch.dim() != 4 || batch.size(1) != 3)
            throw new ArgumentException($"{this} expects RGB images [N, 3, H, W], got [{string.Join(", ", batch.shape)}]", nameof(batch));
        long n = batch.size(0);
        int h = (int)batch.size(2), w = (int)batch.size(3), size = 3 * h * w;
        float[] values;
        using (var scope = NewDisposeScope())
            values = (batch.dtype == ScalarType.Float32 ? batch : batch.detach().to(ScalarType.Float32)).data<float>().ToArray();
        var coded = new float[values.Length];
        Parallel.For(0, n, i =>
        {
            var decoded = Apply(new Image(w, h, 3, values.AsSpan((int)i * size, size).ToArray()));
            decoded.Data.CopyTo(coded, (int)i * size);
        });
        var result = tensor(coded, batch.shape, device: batch.device);
        return batch.dtype == ScalarType.Float32 ? result : result.to(batch.dtype);
    }

    /// <summary>A differentiable stand-in for training and optimization: <see cref="DiffJpeg"/> at this quality (JPEG only).</summary>
    public Func<Tensor, Tensor> Surrogate()
    {
        if (Format != ImageFormat.Jpeg) throw new NotSupportedException($"there is no differentiable surrogate of {Format} yet; use jpeg");
        var jpeg = new DiffJpeg(Quality);
        return jpeg.forward;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{(Format == ImageFormat.Jpeg ? "jpeg" : "webp")}:{Quality}";
}
