using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.ML.Rescaling;
using MLNet.Rescale.Networks;
using static TorchSharp.torch;
using Xunit.Abstractions;

namespace MLNet.Rescale.ML.Tests;

/// <summary>
/// A service fits a pipeline once and serves every request with it: threads sharing one fitted transformer chain
/// (and the input views) must get, bit for bit, what a single thread gets.
/// </summary>
public sealed class ConcurrencyTests(ITestOutputHelper output)
{
    private const int Threads = 8, CallsPerThread = 125;

    /// <summary>Small inputs (32–48 px) of different sizes, odd ones, a grey one and one with alpha.</summary>
    private static Image[] Inputs()
    {
        Image Crop(string file, int x, int y, int w, int h) => ImageFile.Read(TestPaths.Image(file)).Crop(x, y, w, h);
        var rgb = Crop("butterfly.png", 10, 20, 40, 36);
        var alpha = new Image(40, 36, 1, Enumerable.Range(0, 40 * 36).Select(i => (i % 40) / 39f).ToArray());
        return
        [
            rgb,
            Crop("bird.png", 100, 80, 33, 47),
            Crop("butterfly.png", 120, 90, 47, 33),
            Crop("bird.png", 0, 0, 48, 48),
            Crop("butterfly.png", 200, 200, 32, 32),
            Crop("bird.png", 60, 150, 45, 39),
            new Image(40, 36, 1, rgb.Data.AsSpan(0, 40 * 36).ToArray()),
            Image.WithAlpha(Crop("bird.png", 30, 150, 40, 36), alpha),
        ];
    }

    /// <summary>
    /// A small IRN ×2 (2 blocks, growth 8) with every weight perturbed — a fresh network's couplings start as the identity,
    /// so that every block changes the result — saved as a model file in <paramref name="folder"/>.
    /// </summary>
    private static string SmallPerturbedModel(string folder)
    {
        string path = Path.Combine(folder, "irn-x2-perturbed.safetensors");
        using var gen = new Generator(17);
        using var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [2], Growth = 8 }, gen);
        using (var scope = NewDisposeScope())
        using (no_grad())
            foreach (var p in net.parameters())
                if (p.requires_grad) p.add_(randn(p.shape, generator: gen) * 0.02);
        ModelFile.Save(net, path);
        return path;
    }

    /// <summary>One call as a service makes it: the chain over a one-row view, reading the (compressed) LR and the restored image.</summary>
    private static (Image Lr, Image Restored) Call(ITransformer pipeline, IDataView input)
    {
        var data = pipeline.Transform(input);
        var lrColumn = data.Schema["LR"];
        var restoredColumn = data.Schema["Upscaled"];
        using var cursor = data.GetRowCursor([lrColumn, restoredColumn]);
        var getLr = cursor.GetGetter<MLImage>(lrColumn);
        var getRestored = cursor.GetGetter<MLImage>(restoredColumn);
        if (!cursor.MoveNext()) throw new InvalidOperationException("the view has no row");
        MLImage lr = null!, restored = null!;
        getLr(ref lr);
        getRestored(ref restored);
        if (cursor.MoveNext()) throw new InvalidOperationException("the view has more than one row");
        using (lr)
        using (restored)
            return (lr.ToImage(), restored.ToImage());
    }

    [Fact]
    public void Eight_threads_sharing_one_fitted_chain_get_exactly_what_one_thread_gets_over_1000_calls()
    {
        var folder = Directory.CreateTempSubdirectory("mlnet-rescale-concurrency-").FullName;
        try
        {
            Run(SmallPerturbedModel(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private void Run(string modelPath)
    {
        var ml = new MLContext(seed: 2);
        var images = Inputs();
        var views = images.Select(i => ml.FromImages([i])).ToArray();
        // Downscale, WebP 80 (the real codec; unlike JPEG it keeps alpha), upscale: one network shared by both halves.
        using var pipeline = ml.Transforms.InvertibleDownscaler(modelPath)
            .Append(ml.Transforms.CompressImages("LR", "LR", "webp:80"))
            .Append(ml.Transforms.CompressionAwareUpscaler(new CompressionAwareUpscaler.Options { Seed = 11 }))
            .Fit(views[0]);
        Assert.Same(((InvertibleDownscalerTransformer)pipeline.First()).Network, pipeline.LastTransformer.Network);

        var clock = Stopwatch.StartNew();
        var expected = views.Select(v => Call(pipeline, v)).Select(r => (Lr: r.Lr.Data, Restored: r.Restored.Data)).ToArray();
        double singleSeconds = clock.Elapsed.TotalSeconds;
        for (int i = 0; i < images.Length; i++)
        {
            var (lr, restored) = Call(pipeline, views[i]);
            Assert.Equal(((images[i].Width + 1) / 2, (images[i].Height + 1) / 2), (lr.Width, lr.Height));
            // The pipeline does not know the original size: the upscaler gives s× the LR (odd sizes round up).
            Assert.Equal((2 * lr.Width, 2 * lr.Height), (restored.Width, restored.Height));
            // One thread repeating a call gets the same bits (the reference is deterministic).
            Assert.Equal(expected[i].Restored, restored.Data);
        }
        // The inputs are different computations (so a mix-up between threads would show).
        Assert.Equal(images.Length, expected.Select(e => e.Restored.Length + "/" + e.Restored.Sum()).Distinct().Count());

        var results = new ConcurrentBag<(int Image, float[] Lr, float[] Restored)>();
        var errors = new ConcurrentQueue<Exception>();
        int running = 0, maxRunning = 0;
        using var start = new Barrier(Threads);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        clock.Restart();
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                // Each thread walks the inputs from its own offset, so different inputs run side by side.
                for (int k = 0; k < CallsPerThread; k++)
                {
                    int i = (t + k) % images.Length;
                    int now = Interlocked.Increment(ref running);
                    for (int seen = Volatile.Read(ref maxRunning); now > seen; seen = Volatile.Read(ref maxRunning))
                        if (Interlocked.CompareExchange(ref maxRunning, now, seen) == seen) break;
                    var (lr, restored) = Call(pipeline, views[i]);
                    Interlocked.Decrement(ref running);
                    results.Add((i, lr.Data, restored.Data));
                }
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        output.WriteLine($"{Threads} threads × {CallsPerThread} calls in {clock.Elapsed.TotalSeconds:F1} s, {cpu.TotalSeconds:F1} s of CPU (one call per input alone: "
            + $"{singleSeconds:F2} s for {images.Length}); up to {maxRunning} calls in flight");

        Assert.Empty(errors);
        Assert.Equal(1000, results.Count);
        foreach (var (i, lr, restored) in results)
        {
            Assert.Equal(expected[i].Lr, lr);
            Assert.Equal(expected[i].Restored, restored);
        }
        // The calls really overlapped.
        Assert.True(maxRunning > 1, "no two calls ran at the same time");
    }
}
