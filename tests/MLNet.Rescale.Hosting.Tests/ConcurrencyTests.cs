using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using Xunit;

namespace MLNet.Rescale.Hosting.Tests;

public class ConcurrencyTests
{
    private static readonly RescalerOptions SmallTiles = new() { TileSize = 12, TileOverlap = 4, Seed = 5 };

    // One call of each kind per image: downscale, upscale of that image's LR, and a round trip; the outputs as arrays.
    private static async Task<float[][]> Calls(IImageRescaler rescaler, Image image, Image lr) =>
    [
        (await rescaler.DownscaleAsync(image)).Data,
        (await rescaler.UpscaleAsync(lr, image.Width, image.Height)).Data,
        (await rescaler.RoundTripAsync(image)).Restored.Data,
    ];

    [Fact]
    public async Task EightConcurrentCallersGetExactlyWhatOneThreadGets()
    {
        using var model = new TempModel();
        using var rescaler = new PooledImageRescaler(new ImageRescalingOptions { ModelPath = model.Path, PoolSize = 3, Inference = SmallTiles });
        var images = TestImages.Small();
        var lrs = new Image[images.Length];
        var expected = new float[images.Length][][];
        for (int i = 0; i < images.Length; i++)
        {
            lrs[i] = await rescaler.DownscaleAsync(images[i]);
            expected[i] = await Calls(rescaler, images[i], lrs[i]);
        }
        Assert.Equal(1, rescaler.LoadedInstances);

        const int callers = 8, rounds = 3;
        using var start = new Barrier(callers);
        var results = await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            start.SignalAndWait();
            var mine = new List<(int Image, float[][] Outputs)>();
            // Each caller walks the images from its own offset, so different images run side by side.
            for (int k = 0; k < rounds * images.Length; k++)
            {
                int i = (c + k) % images.Length;
                mine.Add((i, await Calls(rescaler, images[i], lrs[i])));
            }
            return mine;
        })));

        Assert.Equal(callers * rounds * images.Length, results.Sum(r => r.Count));
        foreach (var (i, outputs) in results.SelectMany(r => r))
            for (int op = 0; op < 3; op++) Assert.Equal(expected[i][op], outputs[op]);
        // The concurrent demand grew the pool, and never past its size.
        Assert.InRange(rescaler.LoadedInstances, 2, 3);
    }

    [Fact]
    public async Task ConcurrentCollaborativeDownscalesMatchTheOptimizerRunAlone()
    {
        using var model = new TempModel();
        // No check against the plain LR, so the result is the optimized one even where it does not help.
        var hcd = new CollaborativeOptions { HrIterations = 1, LrIterations = 1, Seed = 3, CheckLatents = 0 };
        using var rescaler = new PooledImageRescaler(new ImageRescalingOptions
        {
            ModelPath = model.Path, PoolSize = 2, Collaborative = true, CollaborativeOptions = hcd,
        });
        var images = TestImages.Small().Take(3).ToArray();
        using var network = ModelFile.Load(model.Path);
        var direct = new Rescaler(network);
        var expected = images.Select(i => new CollaborativeOptimizer(network, hcd).Downscale(direct, i).Data).ToArray();

        var got = await Task.WhenAll(images.Concat(images).Select(i => Task.Run(() => rescaler.DownscaleAsync(i))));
        for (int k = 0; k < got.Length; k++) Assert.Equal(expected[k % images.Length], got[k].Data);
        // HCD changed the LR (it is not plain downscaling), and it is a valid 8-bit image.
        Assert.NotEqual(direct.Downscale(images[0]).Data, got[0].Data);
        Assert.All(got[0].Data, v => Assert.Equal(v, MathF.Round(v * 255) / 255, 6));
    }

    [Fact]
    public async Task ACancelledCallThrowsAndLeavesThePoolUsable()
    {
        using var model = new TempModel();
        using var rescaler = new PooledImageRescaler(new ImageRescalingOptions { ModelPath = model.Path, PoolSize = 1 });
        var image = TestImages.Small()[0];
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => rescaler.DownscaleAsync(image, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => rescaler.RoundTripAsync(image, cancelled.Token));
        // The single slot was given back both times.
        var lr = await rescaler.DownscaleAsync(image);
        Assert.Equal((20, 18), (lr.Width, lr.Height));
    }

    [Fact]
    public async Task AfterDisposeCallsAreRefused()
    {
        using var model = new TempModel();
        var rescaler = new PooledImageRescaler(new ImageRescalingOptions { ModelPath = model.Path });
        rescaler.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => rescaler.DownscaleAsync(TestImages.Small()[0]));
    }
}
