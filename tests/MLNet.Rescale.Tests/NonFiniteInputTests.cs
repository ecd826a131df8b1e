using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using TorchSharp;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>NaN and infinite samples are refused where they enter the inference API, before any network runs.</summary>
// Counts live tensors, which is process-wide: runs alone, with other tests' garbage finalized first.
[Collection(LiveTensorsCollection.Name)]
public class NonFiniteInputTests
{
    private static InvRescaleNet Tiny()
    {
        using var gen = new Generator(5);
        return new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1], Growth = 8 }, gen);
    }

    private static Image Poisoned(int channels, float value, int c, int x, int y)
    {
        var img = new Image(20, 12, channels);
        Array.Fill(img.Data, 0.5f);
        img.Data[c * img.PlaneSize + y * 20 + x] = value;
        return img;
    }

    public static TheoryData<float> Bad => new() { float.NaN, float.PositiveInfinity, float.NegativeInfinity };

    [Theory]
    [MemberData(nameof(Bad))]
    public void Rescaler_refuses_non_finite_images_and_says_where(float bad)
    {
        using var net = Tiny();
        var rescaler = new Rescaler(net);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long live = LiveTensorsCollection.LiveTensors;
        var e = Assert.Throws<ArgumentException>(() => rescaler.Downscale(Poisoned(3, bad, 1, 7, 4)));
        Assert.Equal("hr", e.ParamName);
        Assert.Contains("1 non-finite sample(s)", e.Message);
        Assert.Contains($"the first, {bad}, is in channel 1 at (7, 4)", e.Message);
        e = Assert.Throws<ArgumentException>(() => rescaler.Upscale(Poisoned(4, bad, 3, 19, 11)));
        Assert.Equal("lr", e.ParamName);
        Assert.Contains("channel 3 at (19, 11)", e.Message);
        Assert.Equal(live, LiveTensorsCollection.LiveTensors);
        // The same images without the bad sample go through.
        Assert.Equal((10, 6), (rescaler.Downscale(Poisoned(3, 0.25f, 1, 7, 4)) is var lr ? (lr.Width, lr.Height) : default));
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public void Network_and_collaborative_tensor_entry_points_refuse_non_finite_tensors(float bad)
    {
        using var net = Tiny();
        using var scope = NewDisposeScope();
        var hr = full([1, 3, 8, 8], 0.5f, float32);
        var poisoned = hr.clone();
        var values = Floats(poisoned);
        values[17] = bad;
        values[100] = bad;
        poisoned = tensor(values, [1, 3, 8, 8]);
        var lr = full([1, 3, 4, 4], 0.5f, float32);
        var z = zeros([1, 9, 4, 4]);
        var badLr = tensor(Floats(poisoned).AsSpan(0, 48).ToArray(), [1, 3, 4, 4]);

        var e = Assert.Throws<ArgumentException>(() => net.Downscale(poisoned));
        Assert.Equal("hr", e.ParamName);
        Assert.Contains("shape [1, 3, 8, 8] has 2 non-finite value(s)", e.Message);
        Assert.Equal("lr", Assert.Throws<ArgumentException>(() => net.Upscale(badLr, z)).ParamName);
        Assert.Equal("z", Assert.Throws<ArgumentException>(() => net.Upscale(lr, full([1, 9, 4, 4], bad, float32))).ParamName);

        var hcd = new CollaborativeOptimizer(net, new CollaborativeOptions { HrIterations = 1, LrIterations = 1 });
        using var gen = new Generator(1);
        Assert.Equal("hr", Assert.Throws<ArgumentException>(() => hcd.Optimize(poisoned, gen)).ParamName);
        Assert.Equal("hr", Assert.Throws<ArgumentException>(() => hcd.HrStage(poisoned, gen)).ParamName);
        Assert.Equal("lr", Assert.Throws<ArgumentException>(() => hcd.LrStage(badLr, hr, gen)).ParamName);
        Assert.Equal("hr", Assert.Throws<ArgumentException>(() => hcd.Downscale(new Rescaler(net), Poisoned(3, bad, 0, 0, 0))).ParamName);
        // Finite inputs pass the same checks.
        Assert.Equal([1L, 3, 4, 4], net.Downscale(hr).shape);
        Assert.Equal([1L, 3, 4, 4], hcd.Optimize(hr, gen).shape);
    }
}
