using System.Diagnostics;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.Batch;

public static partial class ImageBatch
{
    /// <summary>
    /// Downscales the plan's pending images with <paramref name="rescaler"/> and writes each output atomically (a
    /// temporary file beside it, then a rename: a reader, or a worker killed mid-write, never leaves a partial output).
    /// An image that cannot be read, decoded or downscaled is reported (<see cref="BatchStatus.Failed"/>, with the file
    /// and the problem) and the run goes on; an output that cannot be written stops the run with a
    /// <see cref="BatchOutputException"/>, since the next writes would fail alike.
    /// </summary>
    /// <param name="plan">The images, from <see cref="Plan"/>.</param>
    /// <param name="rescaler">The downscaler (and the upscaler, for <see cref="BatchRunOptions.Psnr"/>).</param>
    /// <param name="options">Concurrency, encoding, scoring and the per-image callback; null for the defaults.</param>
    /// <param name="cancellationToken">Stops the run between images (an image being written is finished or not started).</param>
    /// <exception cref="BatchOutputException">An output could not be written (full disk, no permission).</exception>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    public static async Task<BatchSummary> RunAsync(BatchPlan plan, IBatchRescaler rescaler, BatchRunOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(rescaler);
        options ??= new BatchRunOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Workers, 1);
        var clock = Stopwatch.StartNew();
        var gate = new Lock();
        var failures = new List<BatchItemResult>();
        int written = 0, upToDate = 0;
        double megapixels = 0;

        void Report(BatchItemResult result)
        {
            lock (gate)
            {
                switch (result.Status)
                {
                    case BatchStatus.Written:
                        written++;
                        megapixels += (double)result.Width!.Value * result.Height!.Value / 1e6;
                        break;
                    case BatchStatus.UpToDate: upToDate++; break;
                    default: failures.Add(result); break;
                }
                options.Completed?.Invoke(result);
            }
        }

        foreach (var item in plan.Items)
        {
            if (item.UpToDate)
                Report(new BatchItemResult
                {
                    RelativePath = item.RelativePath, Input = item.InputPath, Output = item.OutputPath, Status = BatchStatus.UpToDate,
                    InputBytes = item.InputBytes, OutputBytes = LengthOrNull(item.OutputPath),
                });
            else if (item.Conflict is { } conflict)
                Report(new BatchItemResult
                {
                    RelativePath = item.RelativePath, Input = item.InputPath, Output = item.OutputPath, Status = BatchStatus.Failed,
                    InputBytes = item.InputBytes, Error = conflict,
                });
        }

        var pending = plan.Items.Where(i => !i.UpToDate && i.Conflict is null).ToList();
        await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = options.Workers, CancellationToken = cancellationToken },
            async (item, ct) => Report(await ProcessAsync(item, plan.Options.Format, rescaler, options, ct).ConfigureAwait(false))).ConfigureAwait(false);
        return new BatchSummary(written, upToDate, failures, megapixels, clock.Elapsed);
    }

    private static async Task<BatchItemResult> ProcessAsync(BatchItem item, ImageFormat? format, IBatchRescaler rescaler, BatchRunOptions options,
        CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var result = new BatchItemResult
        {
            RelativePath = item.RelativePath, Input = item.InputPath, Output = item.OutputPath, Status = BatchStatus.Failed, InputBytes = item.InputBytes,
        };
        byte[] encoded;
        try
        {
            var hr = ImageFile.Read(item.InputPath);
            result = result with { Width = hr.Width, Height = hr.Height };
            var lr = await rescaler.DownscaleAsync(hr, ct).ConfigureAwait(false);
            var outputFormat = format ?? ImageFile.FormatFromExtension(item.OutputPath)!.Value;
            encoded = ImageFile.Encode(lr, outputFormat, options.Encoding);
            result = result with { LrWidth = lr.Width, LrHeight = lr.Height };
            if (options.Psnr)
            {
                // What a client gets: the file as written (through its codec), upscaled back.
                var received = ImageFile.Decode(encoded, item.OutputPath);
                var restored = await rescaler.UpscaleAsync(received, hr.Width, hr.Height, ct).ConfigureAwait(false);
                static Image Rgb(Image i) => i.SplitAlpha(out _).ToRgb();
                result = result with { Psnr = Metrics.Psnr(Rgb(restored), Rgb(hr), rescaler.Scale, yOnly: true) };
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // A corrupt or unreadable input, or a network error on it, costs this image only, never the shard.
            return result with { Seconds = clock.Elapsed.TotalSeconds, Error = Describe(e, item.InputPath) };
        }

        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(item.OutputPath)!);
            ImageFile.WriteAtomically(item.OutputPath, encoded);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BatchOutputException(item.OutputPath, e);
        }
        return result with { Status = BatchStatus.Written, OutputBytes = encoded.Length, Seconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>One line naming the input and the problem (libtorch appends C++ backtraces to its messages; they are cut).</summary>
    private static string Describe(Exception e, string input)
    {
        string message = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? e.GetType().Name;
        if (e is FileNotFoundException or DirectoryNotFoundException) message = "the file disappeared before it was read";
        else if (e is UnauthorizedAccessException) message = "permission denied";
        return message.StartsWith(input, StringComparison.Ordinal) ? message : $"{input}: {message}";
    }

    private static long? LengthOrNull(string path)
    {
        try { return new FileInfo(path).Length; }
        catch (IOException) { return null; }
    }
}
