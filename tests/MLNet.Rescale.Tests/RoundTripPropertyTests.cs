using FsCheck;
using FsCheck.Xunit;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// Property: for any valid image size, channel layout, scale and tiling, the round trip does not throw, the LR is
/// ⌈W/s⌉×⌈H/s⌉, and upscaling to the original size (padding then cropping) gives back exactly W×H.
/// </summary>
public class RoundTripPropertyTests
{
    // One tiny random network per scale, shared by all cases (the property is about sizes, not quality).
    private static readonly Dictionary<int, InvRescaleNet> Networks = new[] { 2, 4, 8 }.ToDictionary(s => s, s =>
    {
        using var gen = new Generator((ulong)s);
        return new InvRescaleNet(new IrnOptions { Scale = s, BlocksPerLevel = Enumerable.Repeat(1, RescaleNetwork.Levels(s)).ToArray(), Growth = 4 }, gen);
    });

    private static readonly object Gate = new();

    [Property(MaxTest = 60)]
    public bool Round_trip_restores_the_size_for_any_valid_input(PositiveInt width, PositiveInt height, NonNegativeInt scaleIndex,
        NonNegativeInt layout, NonNegativeInt tiling, int seed)
    {
        int w = 1 + width.Get % 70, h = 1 + height.Get % 70;
        int s = new[] { 2, 4, 8 }[scaleIndex.Get % 3];
        int channels = new[] { 1, 3, 4 }[layout.Get % 3];
        // No tiling, tiles smaller than the image (with context), or one big tile.
        var options = (tiling.Get % 3) switch
        {
            0 => new RescalerOptions { TileSize = 0 },
            1 => new RescalerOptions { TileSize = 3, TileOverlap = 2, Seed = 7 },
            _ => new RescalerOptions { TileSize = 192 },
        };
        var rnd = new Random(seed);
        var data = new float[channels * w * h];
        for (int i = 0; i < data.Length; i++) data[i] = rnd.Next(256) / 255f;
        var hr = new Image(w, h, channels, data);
        Image lr, back;
        lock (Gate)
        {
            var rescaler = new Rescaler(Networks[s], options);
            lr = rescaler.Downscale(hr);
            back = rescaler.Upscale(lr, w, h);
        }
        int lrW = (w + s - 1) / s, lrH = (h + s - 1) / s;
        return lr.Width == lrW && lr.Height == lrH && lr.Channels == channels
               && back.Width == w && back.Height == h && back.Channels == channels
               && back.Data.All(v => v is >= 0 and <= 1) && lr.Data.All(v => v is >= 0 and <= 1);
    }
}
