using MLNet.Rescale.Imaging;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

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
    /// <exception cref="ArgumentException">A negative tile size or overlap.</exception>
    public Rescaler(RescaleNetwork network, RescalerOptions? options = null)
    {
        this.network = network;
        Options = options ?? new RescalerOptions();
        if (Options.TileSize < 0 || Options.TileOverlap < 0)
            throw new ArgumentException($"the tile size and overlap must be ≥ 0 (tile size 0 disables tiling), got {Options.TileSize} and {Options.TileOverlap}", nameof(options));
        network.eval();
    }

    /// <summary>The settings.</summary>
    public RescalerOptions Options { get; }

    /// <summary>The network's scale.</summary>
    public int Scale => network.Scale;

    /// <summary>The 8-bit LR image (⌈W/s⌉×⌈H/s⌉) of an HR image.</summary>
    /// <exception cref="ArgumentException"><paramref name="hr"/> holds a NaN or an infinity.</exception>
    public Image Downscale(Image hr)
    {
        FiniteInput.Require(hr, nameof(hr));
        return DownscaleTiles(hr, network.Downscale, inference: true);
    }

    /// <summary>
    /// Downscales tile by tile with <paramref name="lrOfTile"/> mapping an HR tile [1, 3, H, W] (reflect-padded to
    /// multiples of the scale, with the tile overlap as context) to its LR [1, 3, H/s, W/s]. With
    /// <paramref name="inference"/> false autograd stays on, for methods that optimize the LR.
    /// </summary>
    internal Image DownscaleTiles(Image hr, Func<Tensor, Tensor> lrOfTile, bool inference, Action? tileDone = null)
    {
        var (rgb, alpha, gray) = Split(hr);
        int s = Scale, lrW = Ceil(rgb.Width, s), lrH = Ceil(rgb.Height, s);
        using var scope = NewDisposeScope();
        using var mode = inference ? inference_mode() : null;
        var x = Pad(ImageTensors.ToTensor(rgb, Options.Device), lrW * s - rgb.Width, lrH * s - rgb.Height);
        var lr = Tiled(lrH, lrW, 1, lrW, lrH, r =>
        {
            var result = lrOfTile(x.narrow(2, (long)r.Y * s, (long)r.H * s).narrow(3, (long)r.X * s, (long)r.W * s));
            tileDone?.Invoke();
            return result;
        });
        return Join(lr, alpha is null ? null : Resize.Bicubic(alpha, lrW, lrH).Quantize8(), gray);
    }

    /// <summary>How many tiles an LR grid of <paramref name="lrWidth"/>×<paramref name="lrHeight"/> runs as.</summary>
    public int TileCount(int lrWidth, int lrHeight) => TileGrid.Count(lrWidth, lrHeight, Options.TileSize);

    /// <summary>
    /// The LR extent (width, height) of the largest tile, overlap included, that an LR grid of
    /// <paramref name="lrWidth"/>×<paramref name="lrHeight"/> runs as: what a warm-up should run once.
    /// </summary>
    public (int Width, int Height) LargestTile(int lrWidth, int lrHeight)
    {
        int tile = Options.TileSize > 0 ? Options.TileSize : Math.Max(lrWidth, lrHeight), ov = Options.TileOverlap;
        // The same extents as Tiled: [max(0, start − overlap), min(length, start + tile + overlap)).
        int Largest(int length) => Enumerable.Range(0, Ceil(length, tile))
            .Max(k => Math.Min(length, (k + 1) * tile + ov) - Math.Max(0, k * tile - ov));
        return (Largest(lrWidth), Largest(lrHeight));
    }

    /// <summary>The network this rescaler runs.</summary>
    public RescaleNetwork Network => network;

    /// <summary>Upscales an LR image; the output is <paramref name="width"/>×<paramref name="height"/> (default: s× the LR).</summary>
    /// <exception cref="ArgumentException"><paramref name="lr"/> holds a NaN or an infinity, or the size does not fit the scale.</exception>
    public Image Upscale(Image lr, int? width = null, int? height = null)
    {
        FiniteInput.Require(lr, nameof(lr));
        var (rgb, alpha, gray) = Split(lr);
        int s = Scale, outW = width ?? rgb.Width * s, outH = height ?? rgb.Height * s;
        if (Ceil(outW, s) != rgb.Width || Ceil(outH, s) != rgb.Height)
            throw new ArgumentException($"an LR image of {rgb.Width}×{rgb.Height} cannot upscale ×{s} to {outW}×{outH}");
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        using var gen = new Generator(Options.Seed);
        var x = ImageTensors.ToTensor(rgb, Options.Device);
        // One latent for the whole image, sliced per tile, so tiling does not change the draw.
        var z = network.SampleLatent(x.shape, gen, Options.Temperature, x.device);
        Tensor Region(Tensor t, Region r) => t.narrow(2, r.Y, r.H).narrow(3, r.X, r.W);
        var hr = Tiled(rgb.Height, rgb.Width, s, outW, outH, r => network.inverse(cat([Region(x, r), Region(z, r)], 1)));
        return Join(hr, alpha is null ? null : Resize.Bicubic(alpha, outW, outH).Quantize8(), gray);
    }

    /// <summary>A rectangle of the LR grid.</summary>
    private readonly record struct Region(int X, int Y, int W, int H);

    /// <summary>
    /// Runs <paramref name="compute"/> over tiles of the LR grid, each extended by the overlap on every side, and
    /// writes the 8-bit-quantized centre of each result (channels 0..2) into an RGB image of
    /// <paramref name="outW"/>×<paramref name="outH"/> (results scaled by <paramref name="outPerLr"/>, cropped to
    /// that size). Only one tile's tensors are alive at a time; the full-size result exists once, as the image.
    /// </summary>
    private Image Tiled(int lrH, int lrW, int outPerLr, int outW, int outH, Func<Region, Tensor> compute)
    {
        int tile = Options.TileSize > 0 ? Options.TileSize : Math.Max(lrH, lrW);
        var image = new Image(outW, outH, 3);
        float[]? buffer = null;
        foreach (var t in TileGrid.Tiles(lrW, lrH, Options.TileSize, Options.TileOverlap))
        {
            using var scope = NewDisposeScope();
            var extended = new Region(t.ContextX, t.ContextY, t.ContextWidth, t.ContextHeight);
            // The core of the tile in output pixels, cropped to the requested size.
            int ox = t.X0 * outPerLr, oy = t.Y0 * outPerLr;
            int ow = Math.Min(outW, t.X1 * outPerLr) - ox, oh = Math.Min(outH, t.Y1 * outPerLr) - oy;
            if (ow <= 0 || oh <= 0) continue;
            var core = compute(extended).narrow(1, 0, 3)
                .narrow(2, (long)(t.Y0 - t.ContextY) * outPerLr, oh).narrow(3, (long)(t.X0 - t.ContextX) * outPerLr, ow);
            // One buffer for every tile: a fresh array per tile would leave hundreds of megabytes of
            // large-object garbage between collections on a big image.
            buffer ??= new float[3 * Math.Min(outH, tile * outPerLr) * Math.Min(outW, tile * outPerLr)];
            var values = buffer.AsSpan(0, 3 * oh * ow);
            var quantized = ((core.clamp(S(0), S(1)) * S(255)).round() / S(255)).cpu().contiguous();
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(quantized.bytes).CopyTo(values);
            for (int c = 0; c < 3; c++)
            for (int row = 0; row < oh; row++)
                values.Slice((c * oh + row) * ow, ow).CopyTo(image.Data.AsSpan(c * image.PlaneSize + (oy + row) * outW + ox, ow));
        }
        return image;
    }

    private static int Ceil(int a, int b) => (a + b - 1) / b;

    /// <summary>Reflect-pads right and bottom; falls back to edge replication where the image is too small to reflect.</summary>
    private static Tensor Pad(Tensor x, int right, int bottom)
    {
        if (right == 0 && bottom == 0) return x;
        bool canReflect = right < x.size(3) && bottom < x.size(2);
        return nn.functional.pad(x, [0, right, 0, bottom], canReflect ? PaddingModes.Reflect : PaddingModes.Replicate);
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
