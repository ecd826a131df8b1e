using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Tests.Shared;
using Xunit;

namespace MLNet.Rescale.Tests;

public class RescalerTests
{
    // The conformance weights are random and perturbed, so every block changes the result:
    // a fair test of tiling, unlike a fresh network whose couplings start as the identity.
    private static Rescaler Load(string vector, RescalerOptions? options = null) =>
        new(ModelFile.Load(TestPaths.Conformance(vector)), options);

    private static Image Butterfly() => ImageFile.Read(TestPaths.Image("butterfly.png"));

    [Theory]
    // Tiles of 16 with 4 of overlap: along 40 they cover [0,20), [12,36), [28,40); along 30 [0,20), [12,30).
    [InlineData(16, 4, 40, 30, 24, 20)]
    [InlineData(16, 4, 30, 15, 20, 15)]
    [InlineData(16, 4, 10, 5, 10, 5)]
    [InlineData(0, 4, 30, 15, 30, 15)]   // tiling off: the whole grid
    public void LargestTileIsTheLargestOverlappedTile(int tileSize, int overlap, int lrW, int lrH, int w, int h)
    {
        var rescaler = Load("irn_x2_small.safetensors", new RescalerOptions { TileSize = tileSize, TileOverlap = overlap });
        Assert.Equal((w, h), rescaler.LargestTile(lrW, lrH));
    }

    [Theory]
    [InlineData("irn_x2_small.safetensors", 77, 53, 39, 27)]
    [InlineData("irn_x4_small.safetensors", 77, 53, 20, 14)]
    [InlineData("irn_x4_small.safetensors", 3, 1, 1, 1)]
    public void AnySizeIsPaddedAndCroppedBack(string vector, int w, int h, int lrW, int lrH)
    {
        var rescaler = Load(vector);
        var hr = Butterfly().Crop(10, 20, w, h);
        var lr = rescaler.Downscale(hr);
        Assert.Equal((lrW, lrH), (lr.Width, lr.Height));
        var back = rescaler.Upscale(lr, w, h);
        Assert.Equal((w, h), (back.Width, back.Height));
        Assert.All(lr.Data, v => Assert.Equal(v, MathF.Round(v * 255) / 255, 6));
    }

    [Fact]
    public void TiledAndWholeImageAgreeOn1024Image()
    {
        // 1024×1024 from the 256×256 fixture, upscaled with bicubic so it has real structure.
        var hr = Resize.BicubicScaleUint8(Butterfly(), 4);
        var whole = Load("irn_x2_small.safetensors", new RescalerOptions { TileSize = 0 });
        var tiled = Load("irn_x2_small.safetensors", new RescalerOptions { TileSize = 160, TileOverlap = 24 });
        var lrWhole = whole.Downscale(hr);
        var lrTiled = tiled.Downscale(hr);
        Assert.True(Metrics.Psnr(lrTiled, lrWhole) >= 50, $"downscale tiled vs whole: {Metrics.Psnr(lrTiled, lrWhole):F2} dB");
        var srWhole = whole.Upscale(lrWhole);
        var srTiled = tiled.Upscale(lrWhole);
        Assert.True(Metrics.Psnr(srTiled, srWhole) >= 50, $"upscale tiled vs whole: {Metrics.Psnr(srTiled, srWhole):F2} dB");
    }

    [Fact]
    public void GrayAndAlphaKeepTheirChannels()
    {
        var rescaler = Load("irn_x2_small.safetensors");
        var rgb = Butterfly().Crop(0, 0, 64, 48);
        var gray = new Image(64, 48, 1, rgb.Data.AsSpan(0, 64 * 48).ToArray());
        Assert.Equal(1, rescaler.Upscale(rescaler.Downscale(gray)).Channels);
        var alpha = new Image(64, 48, 1, Enumerable.Range(0, 64 * 48).Select(i => (i % 64) / 63f).ToArray());
        var rgba = Image.WithAlpha(rgb, alpha);
        var lr = rescaler.Downscale(rgba);
        Assert.Equal(4, lr.Channels);
        var back = rescaler.Upscale(lr);
        Assert.Equal(4, back.Channels);
        back.SplitAlpha(out var a);
        Assert.True(Metrics.Psnr(a!, alpha) > 30, "alpha survives the round trip through bicubic");
    }

    [Fact]
    public void UpscaleIsReproducibleForASeedAndVariesAcrossSeeds()
    {
        var lr = Load("irn_x2_small.safetensors").Downscale(Butterfly().Crop(0, 0, 64, 64));
        var a = Load("irn_x2_small.safetensors", new RescalerOptions { Seed = 5 }).Upscale(lr);
        var b = Load("irn_x2_small.safetensors", new RescalerOptions { Seed = 5 }).Upscale(lr);
        var c = Load("irn_x2_small.safetensors", new RescalerOptions { Seed = 6 }).Upscale(lr);
        Assert.Equal(a.Data, b.Data);
        Assert.NotEqual(a.Data, c.Data);
    }

    [Theory]
    [InlineData(-1, 24)]
    [InlineData(192, -3)]
    public void A_negative_tile_size_or_overlap_is_refused(int tile, int overlap)
    {
        var e = Assert.Throws<ArgumentException>(() => Load("irn_x2_small.safetensors", new RescalerOptions { TileSize = tile, TileOverlap = overlap }));
        Assert.Contains("must be ≥ 0", e.Message);
    }
}
