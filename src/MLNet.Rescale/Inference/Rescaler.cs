using MLNet.Rescale.Imaging;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors;

namespace MLNet.Rescale.Inference;

/// <summary>Inference settings of a <see cref="Rescaler"/>.</summary>
public sealed record RescalerOptions
{
    /// <summary>
    /// Tile side in LR pixels. Larger images run tile by tile (each tile with <see cref="TileOverlap"/> pixels of
    /// context on every side, of which only the centre is kept) so memory stays bounded; 0 disables tiling.
    /// </summary>
    public int TileSize { get; init; } = 192;
    /// <summary>Context around each tile, in LR pixels.</summary>
    public int TileOverlap { get; init; } = 24;
    /// <summary>Spread of the latent drawn for upscaling (1 = as trained).</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Seed of the latent draw, so that an upscale is reproducible.</summary>
    public ulong Seed { get; init; }
    /// <summary>Device the network runs on.</summary>
    public Device? Device { get; init; }
}

/// <summary>
/// Downscales and upscales whole images of any size with a trained network. Sizes not divisible by the scale
/// are padded by reflection to the next multiple and the result is cropped back: the LR of a W×H image is
/// ⌈W/s⌉×⌈H/s⌉, and upscaling it gives W×H again when the original size is passed. Grey images are processed as
/// RGB and returned grey; an alpha channel is resized with bicubic beside the network.
/// </summary>
public sealed class Rescaler
{
    private readonly RescaleNetwork network;

    /// <summary>Wraps a network (put into evaluation mode).</summary>
    public Rescaler(RescaleNetwork network, RescalerOptions? options = null)
    {
        this.network = network;
        Options = options ?? new RescalerOptions();
        network.Eval();
    }

    /// <summary>The settings.</summary>
    public RescalerOptions Options { get; }

    /// <summary>The network's scale.</summary>
    public int Scale => network.Scale;

    /// <summary>The 8-bit LR image (⌈W/s⌉×⌈H/s⌉) of an HR image.</summary>
    public Image Downscale(Image hr)
    {
        var (rgb, alpha, gray) = Split(hr);
        int s = Scale, lrW = Ceil(rgb.Width, s), lrH = Ceil(rgb.Height, s);
        using var scope = Torch.NewScope();
        using var _ = Torch.InferenceMode();
        var x = Pad(ImageTensors.ToTensor(rgb, Options.Device), lrW * s - rgb.Width, lrH * s - rgb.Height);
        var lr = Tiled(x, s, 1, lrH, lrW, 3, t => RescaleNetwork.LrOf(network.Forward(t)));
        var image = ImageTensors.ToImage((lr.Clamp(0, 1) * 255).Round() / 255);
        return Join(image, alpha is null ? null : Resize.Bicubic(alpha, lrW, lrH).Quantize8(), gray);
    }

    /// <summary>Upscales an LR image; the output is <paramref name="width"/>×<paramref name="height"/> (default: s× the LR).</summary>
    public Image Upscale(Image lr, int? width = null, int? height = null)
    {
        var (rgb, alpha, gray) = Split(lr);
        int s = Scale, outW = width ?? rgb.Width * s, outH = height ?? rgb.Height * s;
        if (Ceil(outW, s) != rgb.Width || Ceil(outH, s) != rgb.Height)
            throw new ArgumentException($"an LR image of {rgb.Width}×{rgb.Height} cannot upscale ×{s} to {outW}×{outH}");
        using var scope = Torch.NewScope();
        using var _ = Torch.InferenceMode();
        using var gen = new Generator(Options.Seed);
        var x = ImageTensors.ToTensor(rgb, Options.Device);
        // One latent for the whole image, sliced per tile, so tiling does not change the draw.
        var input = Tensor.Cat([x, network.SampleLatent(x.Shape, gen, Options.Temperature, x.Device)], 1);
        var hr = Tiled(input, 1, s, rgb.Height, rgb.Width, 3, network.Inverse);
        var image = ImageTensors.ToImage((hr.Narrow(2, 0, outH).Narrow(3, 0, outW).Clamp(0, 1) * 255).Round() / 255);
        return Join(image, alpha is null ? null : Resize.Bicubic(alpha, outW, outH).Quantize8(), gray);
    }

    /// <summary>Runs <paramref name="f"/> over LR-grid tiles of <paramref name="input"/>, each with context, keeping tile centres.</summary>
    private Tensor Tiled(Tensor input, int inPerLr, int outPerLr, int lrH, int lrW, int outChannels, Func<Tensor, Tensor> f)
    {
        int tile = Options.TileSize, ov = Options.TileOverlap;
        if (tile <= 0 || (lrH <= tile && lrW <= tile))
            return f(input);
        var output = Tensor.Empty([input.Size(0), outChannels, (long)lrH * outPerLr, (long)lrW * outPerLr], device: input.Device);
        for (int y0 = 0; y0 < lrH; y0 += tile)
        for (int x0 = 0; x0 < lrW; x0 += tile)
        {
            using var scope = Torch.NewScope();
            int y1 = Math.Min(lrH, y0 + tile), x1 = Math.Min(lrW, x0 + tile);
            int ey0 = Math.Max(0, y0 - ov), ex0 = Math.Max(0, x0 - ov);
            int ey1 = Math.Min(lrH, y1 + ov), ex1 = Math.Min(lrW, x1 + ov);
            var patch = input.Narrow(2, (long)ey0 * inPerLr, (long)(ey1 - ey0) * inPerLr).Narrow(3, (long)ex0 * inPerLr, (long)(ex1 - ex0) * inPerLr);
            var result = f(patch).Narrow(1, 0, outChannels);
            var core = result.Narrow(2, (long)(y0 - ey0) * outPerLr, (long)(y1 - y0) * outPerLr)
                             .Narrow(3, (long)(x0 - ex0) * outPerLr, (long)(x1 - x0) * outPerLr);
            output.Narrow(2, (long)y0 * outPerLr, (long)(y1 - y0) * outPerLr)
                  .Narrow(3, (long)x0 * outPerLr, (long)(x1 - x0) * outPerLr).CopyFrom(core);
        }
        return output;
    }

    private static int Ceil(int a, int b) => (a + b - 1) / b;

    /// <summary>Reflect-pads right and bottom; falls back to edge replication where the image is too small to reflect.</summary>
    private static Tensor Pad(Tensor x, int right, int bottom)
    {
        if (right == 0 && bottom == 0) return x;
        bool canReflect = right < x.Size(3) && bottom < x.Size(2);
        return Functional.Pad(x, 0, right, 0, bottom, canReflect ? PadMode.Reflect : PadMode.Replicate);
    }

    private static (Image Rgb, Image? Alpha, bool Gray) Split(Image image)
    {
        var rgbOrGray = image.SplitAlpha(out var alpha);
        return (rgbOrGray.Channels == 1 ? rgbOrGray.ToRgb() : rgbOrGray, alpha, rgbOrGray.Channels == 1);
    }

    // A grey input went through the network as three equal channels; their mean is its grey result.
    private static Image MeanOfChannels(Image rgb)
    {
        int n = rgb.PlaneSize;
        var g = new float[n];
        for (int i = 0; i < n; i++) g[i] = (rgb.Data[i] + rgb.Data[n + i] + rgb.Data[2 * n + i]) / 3f;
        return new Image(rgb.Width, rgb.Height, 1, g, rgb.BitDepth).Quantize8();
    }

    private static Image Join(Image rgb, Image? alpha, bool gray)
    {
        var color = gray ? MeanOfChannels(rgb) : rgb;
        return alpha is null ? color : Image.WithAlpha(color, alpha);
    }
}
