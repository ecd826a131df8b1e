using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using Xunit;
using Xunit.Abstractions;

namespace MLNet.Rescale.Hosting.Tests;

public class ConcurrencyTests(ITestOutputHelper output)
{
    private static readonly RescalerOptions SmallTiles = new() { TileSize = 12, TileOverlap = 4, Seed = 5 };

    private const int Operations = 3;

    // One call, as an array: 0 downscale, 1 upscale of the image's LR back to its size, 2 round trip.
    private static async Task<float[]> Call(IImageRescaler rescaler, int operation, Image image, Image lr) => operation switch
    {
        0 => (await rescaler.DownscaleAsync(image)).Data,
        1 => (await rescaler.UpscaleAsync(lr, image.Width, image.Height)).Data,
        _ => (await rescaler.RoundTripAsync(image)).Restored.Data,
    };

    [Fact]
    public async Task EightConcurrentCallersGetExactlyWhatOneThreadGetsOver1000Calls()
    {
        // The tiny network keeps 1,000 calls cheap.
        using var model = new TempModel(tiny: true);
        using var rescaler = new PooledImageRescaler(new ImageRescalingOptions { ModelPath = model.Path, PoolSize = 3, Inference = SmallTiles });
        var images = TestImages.Small();
        var lrs = new Image[images.Length];
        var expected = new float[images.Length][][];
        for (int i = 0; i < images.Length; i++)
        {
            lrs[i] = await rescaler.DownscaleAsync(images[i]);
            expected[i] = new float[Operations][];
            for (int op = 0; op < Operations; op++) expected[i][op] = await Call(rescaler, op, images[i], lrs[i]);
        }
        Assert.Equal(1, rescaler.LoadedInstances);
        // The inputs are different computations, so a mix-up between callers would show.
        Assert.Equal(images.Length, expected.Select(e => string.Join(",", e[2].Take(64))).Distinct().Count());

        const int callers = 8, callsPerCaller = 125;
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var start = new Barrier(callers);
        var results = await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            start.SignalAndWait();
            var mine = new List<(int Image, int Operation, float[] Output)>();
            // Each caller walks the images from its own offset, so different images and operations run side by side.
            for (int k = 0; k < callsPerCaller; k++)
            {
                int i = (c + k / Operations) % images.Length, op = k % Operations;
                mine.Add((i, op, await Call(rescaler, op, images[i], lrs[i])));
            }
            return mine;
        })));
        cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu;
        output.WriteLine($"{callers} callers × {callsPerCaller} calls in {clock.Elapsed.TotalSeconds:F1} s, {cpu.TotalSeconds:F1} s of CPU, on {rescaler.LoadedInstances} instances");

        Assert.Equal(1000, results.Sum(r => r.Count));
        foreach (var (i, op, got) in results.SelectMany(r => r)) Assert.Equal(expected[i][op], got);
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
    public async Task TheServiceHonoursTheCollaborativeBudget()
    {
        using var model = new TempModel();
        // A budget of zero seconds leaves no time for any iteration: the service sends the plain LR at once.
        var hcd = new CollaborativeOptions { HrIterations = 15, LrIterations = 15, Budget = 0 };
        using var rescaler = new PooledImageRescaler(new ImageRescalingOptions
        {
            ModelPath = model.Path, PoolSize = 1, Collaborative = true, CollaborativeOptions = hcd,
        });
        var image = TestImages.Small()[0];
        using var network = ModelFile.Load(model.Path);
        Assert.Equal(new Rescaler(network).Downscale(image).Data, (await rescaler.DownscaleAsync(image)).Data);
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
