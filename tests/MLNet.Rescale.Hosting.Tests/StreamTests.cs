using MLNet.Rescale.Imaging;
using MLNet.Rescale.Tests.Shared;
using Xunit;

namespace MLNet.Rescale.Hosting.Tests;

public class StreamTests
{
    private static readonly string ShippedModel = Path.Combine(TestPaths.RepoRoot, "models", "irn-x2.safetensors");

    [Fact]
    public async Task APngRoundTripsThroughStreamsAsThroughImages()
    {
        using var rescaler = new PooledImageRescaler(new ImageRescalingOptions { ModelPath = ShippedModel, PoolSize = 1 });
        var hr = TestImages.Crop("butterfly.png", 60, 70, 61, 45);
        using var input = new MemoryStream(ImageFile.Encode(hr, ImageFormat.Png));
        using var output = new MemoryStream();
        Assert.Equal(ImageFormat.Png, await rescaler.RoundTripAsync(input, output));

        var restored = ImageFile.Decode(output.ToArray());
        Assert.Equal(ImageFormat.Png, ImageFile.DetectFormat(output.ToArray()));
        var expected = await rescaler.RoundTripAsync(hr);
        Assert.Equal((61, 45), (restored.Width, restored.Height));
        Assert.Equal(expected.Restored.Data, restored.Data);
        // A real reconstruction of the input, not just an image of the right size.
        Assert.InRange(Metrics.Psnr(restored, hr, 2, yOnly: true), 25, 60);
    }

    [Fact]
    public async Task DownscaleAndUpscaleStreamsWriteTheFormatAsked()
    {
        using var rescaler = new PooledImageRescaler(new ImageRescalingOptions { ModelPath = ShippedModel, PoolSize = 1 });
        var hr = TestImages.Crop("bird.png", 40, 40, 64, 48);
        using var png = new MemoryStream(ImageFile.Encode(hr, ImageFormat.Png));
        using var jpeg = new MemoryStream();
        Assert.Equal(ImageFormat.Jpeg, await rescaler.DownscaleAsync(png, jpeg, ImageFormat.Jpeg));
        Assert.Equal(ImageFormat.Jpeg, ImageFile.DetectFormat(jpeg.ToArray()));
        var lr = ImageFile.Decode(jpeg.ToArray());
        Assert.Equal((32, 24), (lr.Width, lr.Height));

        jpeg.Position = 0;
        using var webp = new MemoryStream();
        Assert.Equal(ImageFormat.Webp, await rescaler.UpscaleAsync(jpeg, webp, ImageFormat.Webp));
        var up = ImageFile.Decode(webp.ToArray());
        Assert.Equal(ImageFormat.Webp, ImageFile.DetectFormat(webp.ToArray()));
        Assert.Equal((64, 48), (up.Width, up.Height));
    }

    [Fact]
    public async Task AStreamThatIsNoImageIsAClearError()
    {
        using var rescaler = new PooledImageRescaler(new ImageRescalingOptions { ModelPath = ShippedModel, PoolSize = 1 });
        using var input = new MemoryStream("GIF89a not supported"u8.ToArray());
        var e = await Assert.ThrowsAsync<ImageFormatException>(() => rescaler.DownscaleAsync(input, new MemoryStream()));
        Assert.Equal("<input stream>: not a PNG, JPEG, WebP or BMP file", e.Message);
    }
}
