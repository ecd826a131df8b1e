using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.Onnx;

/// <summary>Settings of an <see cref="OnnxRescaler"/>.</summary>
public sealed record OnnxRescalerOptions
{
    /// <summary>
    /// Tile side in LR pixels: larger images run tile by tile, each with <see cref="TileOverlap"/> pixels of context on
    /// every side of which only the centre is kept, so memory stays bounded (as the libtorch engine); 0 disables tiling.
    /// </summary>
    public int TileSize { get; init; } = 192;
    /// <summary>Context around each tile, in LR pixels.</summary>
    public int TileOverlap { get; init; } = 24;
    /// <summary>ONNX Runtime's intra-op threads (0: its default, one per core).</summary>
    public int Threads { get; init; }
}

/// <summary>
/// Downscales and upscales images with the ONNX graphs <c>rescale export --onnx</c> writes, in ONNX Runtime: the
/// deployment of a viewer or a slim service, with no libtorch. Images are handled as the libtorch <c>Rescaler</c>
/// handles them: sizes not divisible by the scale are reflect-padded and cropped back, grey images run as RGB, an
/// alpha channel is resized with bicubic, the result is rounded to 8 bits, and large images run in the same tiles.
/// Thread-safe: ONNX Runtime sessions may be run concurrently.
/// </summary>
public sealed class OnnxRescaler : IDisposable
{
    private readonly InferenceSession? downscaler;
    private readonly InferenceSession? upscaler;
    private readonly string? downscalePath, upscalePath;

    /// <summary>
    /// Loads the exported graphs (either may be null when only one direction is needed).
    /// </summary>
    /// <exception cref="FileNotFoundException">A model file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is not an ONNX graph exported by MLNet.Rescale, or the two disagree on the scale.</exception>
    public OnnxRescaler(string? downscaleModel, string? upscaleModel, OnnxRescalerOptions? options = null)
    {
        if (downscaleModel is null && upscaleModel is null) throw new ArgumentException("give a downscale model, an upscale model or both");
        Options = options ?? new OnnxRescalerOptions();
        if (Options.TileSize < 0 || Options.TileOverlap < 0 || Options.Threads < 0)
            throw new ArgumentException($"tile size, overlap and threads must be ≥ 0, got {Options.TileSize}, {Options.TileOverlap}, {Options.Threads}");
        try
        {
            if (downscaleModel is not null) (downscaler, downscalePath) = (Open(downscaleModel, "downscale"), downscaleModel);
            if (upscaleModel is not null) (upscaler, upscalePath) = (Open(upscaleModel, "upscale"), upscaleModel);
            int? down = downscaler is null ? null : ScaleOf(downscaler, downscaleModel!);
            int? up = upscaler is null ? null : ScaleOf(upscaler, upscaleModel!);
            if (down is { } d && up is { } u && d != u)
                throw new InvalidDataException($"{downscaleModel} downscales ×{d} but {upscaleModel} upscales ×{u}");
            Scale = down ?? up!.Value;
        }
        catch
        {
            downscaler?.Dispose();
            upscaler?.Dispose();
            throw;
        }
    }

    /// <summary>Loads <c>downscale.onnx</c> and <c>upscale.onnx</c> from an export folder.</summary>
    public static OnnxRescaler FromFolder(string folder, OnnxRescalerOptions? options = null) =>
        new(Path.Combine(folder, "downscale.onnx"), Path.Combine(folder, "upscale.onnx"), options);

    /// <summary>The settings.</summary>
    public OnnxRescalerOptions Options { get; }

    /// <summary>The scale factor the graphs were exported for.</summary>
    public int Scale { get; }

    /// <summary>The 8-bit LR image (⌈W/s⌉×⌈H/s⌉) of an HR image.</summary>
    /// <exception cref="InvalidOperationException">No downscale model was loaded.</exception>
    public Image Downscale(Image hr)
    {
        ArgumentNullException.ThrowIfNull(hr);
        var session = downscaler ?? throw new InvalidOperationException("this rescaler was created without a downscale model");
        var (rgb, alpha, gray) = Split(hr);
        int s = Scale, lrW = Ceil(rgb.Width, s), lrH = Ceil(rgb.Height, s);
        var padded = PadReflect(rgb, lrW * s, lrH * s);
        var lr = Tiled(lrW, lrH, lrW, lrH, 1, (region, w, h) => Run(session, downscalePath!, Crop(padded, region.X * s, region.Y * s, w * s, h * s), w * s, h * s, 1.0 / s));
        return Join(lr, alpha is null ? null : Resize.Bicubic(alpha, lrW, lrH).Quantize8(), gray);
    }

    /// <summary>Upscales an LR image; the output is <paramref name="width"/>×<paramref name="height"/> (default: s× the LR).</summary>
    /// <exception cref="InvalidOperationException">No upscale model was loaded.</exception>
    /// <exception cref="ArgumentException">The size does not fit the scale.</exception>
    public Image Upscale(Image lr, int? width = null, int? height = null)
    {
        ArgumentNullException.ThrowIfNull(lr);
        var session = upscaler ?? throw new InvalidOperationException("this rescaler was created without an upscale model");
        var (rgb, alpha, gray) = Split(lr);
        int s = Scale, outW = width ?? rgb.Width * s, outH = height ?? rgb.Height * s;
        if (Ceil(outW, s) != rgb.Width || Ceil(outH, s) != rgb.Height)
            throw new ArgumentException($"an LR image of {rgb.Width}×{rgb.Height} cannot upscale ×{s} to {outW}×{outH}");
        var hr = Tiled(rgb.Width, rgb.Height, outW, outH, s, (region, w, h) => Run(session, upscalePath!, Crop(rgb, region.X, region.Y, w, h), w, h, s));
        return Join(hr, alpha is null ? null : Resize.Bicubic(alpha, outW, outH).Quantize8(), gray);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        downscaler?.Dispose();
        upscaler?.Dispose();
    }

    private InferenceSession Open(string path, string role)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such ONNX model", path);
        InferenceSession session;
        var options = new SessionOptions();
        try
        {
            if (Options.Threads > 0) options.IntraOpNumThreads = Options.Threads;
            session = new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{path}: not a loadable ONNX model ({e.Message.Trim()})", e);
        }
        finally
        {
            options.Dispose();
        }
        var inputs = session.InputMetadata;
        string problem =
            !inputs.ContainsKey("input") || !session.OutputMetadata.ContainsKey("output") ? "it has no 'input' → 'output' graph"
            : inputs.Count != 1 ? $"it takes {inputs.Count} inputs ({string.Join(", ", inputs.Keys)}): export without --latent-input to run it here"
            : session.ModelMetadata.CustomMetadataMap.TryGetValue("role", out var r) && r != role ? $"it is the {r} graph, not the {role} graph"
            : "";
        if (problem.Length > 0)
        {
            session.Dispose();
            throw new InvalidDataException($"{path}: not an MLNet.Rescale {role} graph: {problem}");
        }
        return session;
    }

    private static int ScaleOf(InferenceSession session, string path) =>
        session.ModelMetadata.CustomMetadataMap.TryGetValue("scale", out var v) && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int s) && s is 2 or 4 or 8
            ? s
            : throw new InvalidDataException($"{path}: no scale (2, 4 or 8) in the model's metadata; export it with rescale export --onnx");

    /// <summary>Runs the graph on a [1, 3, h, w] input and returns the [1, 3, h·f, w·f] output's values.</summary>
    private static float[] Run(InferenceSession session, string path, float[] input, int w, int h, double factor)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, h, w]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input"], [value], ["output"]);
        var shape = outputs[0].GetTensorTypeAndShape().Shape;
        long ow = (long)Math.Round(w * factor), oh = (long)Math.Round(h * factor);
        if (shape.Length != 4 || shape[1] != 3 || shape[2] != oh || shape[3] != ow)
            throw new InvalidDataException($"{path}: a [1, 3, {h}, {w}] input gave an output of [{string.Join(", ", shape)}], expected [1, 3, {oh}, {ow}]");
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>
    /// Runs <paramref name="compute"/> (context region, its width, its height → the values of its [1, 3, h·f, w·f]
    /// result) over the tiles of a <paramref name="lrW"/>×<paramref name="lrH"/> LR grid and writes each tile's
    /// 8-bit-rounded centre into an RGB image of <paramref name="outW"/>×<paramref name="outH"/>.
    /// </summary>
    private Image Tiled(int lrW, int lrH, int outW, int outH, int outPerLr, Func<(int X, int Y), int, int, float[]> compute)
    {
        var image = new Image(outW, outH, 3);
        foreach (var t in TileGrid.Tiles(lrW, lrH, Options.TileSize, Options.TileOverlap))
        {
            int ox = t.X0 * outPerLr, oy = t.Y0 * outPerLr;
            int ow = Math.Min(outW, t.X1 * outPerLr) - ox, oh = Math.Min(outH, t.Y1 * outPerLr) - oy;
            if (ow <= 0 || oh <= 0) continue;
            var values = compute((t.ContextX, t.ContextY), t.ContextWidth, t.ContextHeight);
            int rw = t.ContextWidth * outPerLr, rh = t.ContextHeight * outPerLr;
            int dx = (t.X0 - t.ContextX) * outPerLr, dy = (t.Y0 - t.ContextY) * outPerLr;
            for (int c = 0; c < 3; c++)
            for (int row = 0; row < oh; row++)
            {
                var source = values.AsSpan((c * rh + dy + row) * rw + dx, ow);
                var target = image.Data.AsSpan(c * image.PlaneSize + (oy + row) * outW + ox, ow);
                for (int i = 0; i < ow; i++) target[i] = MathF.Round(Math.Clamp(source[i], 0f, 1f) * 255f) / 255f;
            }
        }
        return image;
    }

    /// <summary>The planar [3, h, w] values of a region of an RGB image.</summary>
    private static float[] Crop(Image rgb, int x, int y, int w, int h)
    {
        var values = new float[3 * w * h];
        for (int c = 0; c < 3; c++)
        for (int row = 0; row < h; row++)
            rgb.Data.AsSpan(c * rgb.PlaneSize + (y + row) * rgb.Width + x, w).CopyTo(values.AsSpan((c * h + row) * w, w));
        return values;
    }

    /// <summary>Extends an image right and bottom to <paramref name="width"/>×<paramref name="height"/> by reflection (edge replication where it is too small to reflect).</summary>
    private static Image PadReflect(Image rgb, int width, int height)
    {
        if (width == rgb.Width && height == rgb.Height) return rgb;
        bool reflect = width - rgb.Width < rgb.Width && height - rgb.Height < rgb.Height;
        int Source(int i, int n) => i < n ? i : reflect ? 2 * (n - 1) - i : n - 1;
        var padded = new Image(width, height, 3);
        for (int c = 0; c < 3; c++)
        for (int y = 0; y < height; y++)
        {
            int sy = Source(y, rgb.Height);
            for (int x = 0; x < width; x++)
                padded.Data[c * padded.PlaneSize + y * width + x] = rgb.Data[c * rgb.PlaneSize + sy * rgb.Width + Source(x, rgb.Width)];
        }
        return padded;
    }

    private static int Ceil(int a, int b) => (a + b - 1) / b;

    private static (Image Rgb, Image? Alpha, bool Gray) Split(Image image)
    {
        var rgbOrGray = image.SplitAlpha(out var alpha);
        return (rgbOrGray.Channels == 1 ? rgbOrGray.ToRgb() : rgbOrGray, alpha, rgbOrGray.Channels == 1);
    }

    private static Image Join(Image rgb, Image? alpha, bool gray)
    {
        Image color = rgb;
        if (gray)
        {
            int n = rgb.PlaneSize;
            var g = new float[n];
            for (int i = 0; i < n; i++) g[i] = (rgb.Data[i] + rgb.Data[n + i] + rgb.Data[2 * n + i]) / 3f;
            color = new Image(rgb.Width, rgb.Height, 1, g, rgb.BitDepth).Quantize8();
        }
        return alpha is null ? color : Image.WithAlpha(color, alpha);
    }
}
