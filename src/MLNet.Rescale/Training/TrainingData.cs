using System.Collections.Concurrent;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.Training;

/// <summary>One batch of aligned HR and bicubic-LR patches, planar NCHW floats.</summary>
public sealed record Batch(long Iteration, float[] Hr, float[] Lr, int Size, int Patch, int Scale);

/// <summary>
/// Training patches from image folders: every image is read once, modcropped to the scale, and its
/// MATLAB-bicubic LR computed once and cached; a batch is random aligned HR/LR crops with a random flip or
/// 90° rotation. Batch i depends only on (seed, i), so a resumed run sees the same data, and batches are
/// prepared on a background thread while the network trains.
/// </summary>
public sealed class TrainingData : IDisposable
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp"];
    private readonly List<(Image Hr, Image Lr)> images = new();
    private BlockingCollection<Batch>? queue;
    private CancellationTokenSource? cts;
    private Task? producer;

    /// <summary>Loads every image in the folders (recursively). Images smaller than a patch are skipped.</summary>
    public TrainingData(IEnumerable<string> folders, int scale, int patch, int batchSize, ulong seed, bool sampleByArea = false)
        : this(scale, patch, batchSize, seed, sampleByArea)
    {
        foreach (var folder in folders)
        {
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: training folder not found");
            foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                if (!Extensions.Contains(Path.GetExtension(file).ToLowerInvariant())) continue;
                Add(ImageFile.Read(file));
            }
        }
        if (images.Count == 0)
            throw new InvalidDataException($"no training image of at least {patch}×{patch} in {string.Join(", ", folders)}");
    }

    /// <summary>Trains on images already in memory (e.g. a pipeline's image column). Images smaller than a patch are skipped.</summary>
    public TrainingData(IEnumerable<Image> hrImages, int scale, int patch, int batchSize, ulong seed, bool sampleByArea = false)
        : this(scale, patch, batchSize, seed, sampleByArea)
    {
        foreach (var image in hrImages) Add(image);
        if (images.Count == 0) throw new InvalidDataException($"no training image of at least {patch}×{patch} among the images given");
    }

    private TrainingData(int scale, int patch, int batchSize, ulong seed, bool sampleByArea)
    {
        SampleByArea = sampleByArea;
        if (patch % scale != 0) throw new ArgumentException($"patch size {patch} is not a multiple of the scale {scale}");
        Scale = scale;
        Patch = patch;
        BatchSize = batchSize;
        Seed = seed;
    }

    // Modcrops to the scale and caches the MATLAB-bicubic LR once.
    private void Add(Image image)
    {
        var hr = image.SplitAlpha(out _).ToRgb().ModCrop(Scale);
        if (hr.Width < Patch || hr.Height < Patch) return;
        var lr = Resize.BicubicScale(hr, 1.0 / Scale);
        images.Add((hr, lr));
        // Cumulative count of LR crop positions: an image's share of patches under SampleByArea.
        int q = Patch / Scale;
        long crops = (long)(lr.Width - q + 1) * (lr.Height - q + 1);
        cumulativeCrops.Add((cumulativeCrops.Count == 0 ? 0 : cumulativeCrops[^1]) + crops);
    }

    private readonly List<long> cumulativeCrops = new();

    // Uniform over images, or over all crop positions of all images.
    private int PickImage(Random rng)
    {
        if (!SampleByArea) return rng.Next(images.Count);
        long r = rng.NextInt64(cumulativeCrops[^1]);
        int i = cumulativeCrops.BinarySearch(r);
        // BinarySearch finds an exact boundary (the first crop of the next image) or the complement of the next larger.
        return i >= 0 ? i + 1 : ~i;
    }

    /// <summary>Images loaded.</summary>
    public int Count => images.Count;
    /// <summary>Downscaling factor.</summary>
    public int Scale { get; }
    /// <summary>HR patch side.</summary>
    public int Patch { get; }
    /// <summary>Patches per batch.</summary>
    public int BatchSize { get; }
    /// <summary>Seed of the crop sequence.</summary>
    public ulong Seed { get; }
    /// <summary>Whether images are drawn in proportion to their area (see <see cref="TrainerOptions.SampleByArea"/>).</summary>
    public bool SampleByArea { get; }

    /// <summary>Batch number <paramref name="iteration"/>, computed on the calling thread.</summary>
    public Batch Make(long iteration)
    {
        // A deterministic per-batch stream (System.Random with an int seed is stable across runs).
        var rng = new Random(unchecked((int)(Seed * 0x9E3779B97F4A7C15UL ^ (ulong)iteration * 0xBF58476D1CE4E5B9UL)));
        int p = Patch, q = Patch / Scale, s = Scale;
        var hr = new float[BatchSize * 3 * p * p];
        var lr = new float[BatchSize * 3 * q * q];
        for (int b = 0; b < BatchSize; b++)
        {
            var (hi, lo) = images[PickImage(rng)];
            int lx = rng.Next(lo.Width - q + 1), ly = rng.Next(lo.Height - q + 1);
            int mode = rng.Next(8);
            CopyPatch(hi, lx * s, ly * s, p, mode, hr.AsSpan(b * 3 * p * p, 3 * p * p));
            CopyPatch(lo, lx, ly, q, mode, lr.AsSpan(b * 3 * q * q, 3 * q * q));
        }
        return new Batch(iteration, hr, lr, BatchSize, p, s);
    }

    // Crops a size×size patch at (x, y) and applies one of the 8 flips/rotations of the square.
    private static void CopyPatch(Image img, int x, int y, int size, int mode, Span<float> dst)
    {
        int w = img.Width, plane = img.PlaneSize;
        for (int c = 0; c < 3; c++)
        for (int i = 0; i < size; i++)
        for (int j = 0; j < size; j++)
        {
            int si = i, sj = j;
            if ((mode & 1) != 0) sj = size - 1 - sj;
            if ((mode & 2) != 0) si = size - 1 - si;
            if ((mode & 4) != 0) (si, sj) = (sj, si);
            dst[(c * size + i) * size + j] = img.Data[c * plane + (y + si) * w + x + sj];
        }
    }

    /// <summary>Starts preparing batches from <paramref name="firstIteration"/> on a background thread.</summary>
    public void Start(long firstIteration)
    {
        Stop();
        queue = new BlockingCollection<Batch>(boundedCapacity: 4);
        cts = new CancellationTokenSource();
        var q = queue;
        var token = cts.Token;
        producer = Task.Run(() =>
        {
            try
            {
                for (long i = firstIteration; !token.IsCancellationRequested; i++) q.Add(Make(i), token);
            }
            catch (OperationCanceledException) { }
            finally { q.CompleteAdding(); }
        }, token);
    }

    /// <summary>The next prepared batch (in iteration order).</summary>
    public Batch Next() => (queue ?? throw new InvalidOperationException("call Start first")).Take();

    /// <summary>Stops the background thread.</summary>
    public void Stop()
    {
        cts?.Cancel();
        try { producer?.Wait(); } catch (AggregateException) { }
        queue?.Dispose();
        cts?.Dispose();
        queue = null;
        cts = null;
        producer = null;
    }

    /// <inheritdoc/>
    public void Dispose() => Stop();
}
