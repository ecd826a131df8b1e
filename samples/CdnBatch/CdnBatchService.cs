using MLNet.Rescale.Batch;
using MLNet.Rescale.Hosting;
using MLNet.Rescale.Imaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CdnBatch;

/// <summary>
/// Downscales the images of the input folder tree into the output folder with the library's <see cref="ImageBatch"/>
/// (the engine of <c>rescale batch</c>: up-to-date outputs skipped, atomic writes, a corrupt input reported and
/// skipped), several at once through the pooled <see cref="IImageRescaler"/>, then stops the application; with --watch
/// it stays and rescans whenever the folder changes (and every few seconds, in case the file system does not say).
/// </summary>
public sealed class CdnBatchService(
    IImageRescaler rescaler, BatchSettings settings, IHostApplicationLifetime lifetime, ILogger<CdnBatchService> logger) : BackgroundService
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(2);
    // A file modified this recently may still be being written; it is taken on a later scan.
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    // What was last done with each input (by size and time stamp), so a scan skips it until it changes.
    private readonly Dictionary<string, (long Length, DateTime Modified)> seen = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            logger.LogInformation("Downscaling {Input} → {Output} with {Model} ({Architecture} ×{Scale}{Hcd}), {Workers} at a time",
                settings.Input, settings.Output, rescaler.ModelPath, rescaler.Architecture, rescaler.Scale,
                settings.Collaborative ? ", collaborative" : "", settings.Workers);
            var total = await ScanAsync(stoppingToken);
            if (!settings.Watch)
            {
                if (total?.Failed > 0) Environment.ExitCode = 1;
                return;
            }
            await WatchAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogError("{Message}", e.Message);
            Environment.ExitCode = 1;
        }
        finally
        {
            lifetime.StopApplication();
        }
    }

    private async Task WatchAsync(CancellationToken stoppingToken)
    {
        using var changed = new SemaphoreSlim(0);
        void Signal(object? sender, FileSystemEventArgs e) { if (changed.CurrentCount == 0) changed.Release(); }
        FileSystemWatcher? watcher = null;
        try
        {
            watcher = new FileSystemWatcher(settings.Input) { IncludeSubdirectories = true };
            watcher.Created += Signal;
            watcher.Changed += Signal;
            watcher.Renamed += Signal;
            watcher.EnableRaisingEvents = true;
        }
        catch (IOException e)
        {
            // e.g. the inotify instance limit: the periodic rescan still finds new files, only later.
            logger.LogWarning("Cannot watch {Input} ({Message}); rescanning every {Seconds} s instead", settings.Input, e.Message, Poll.TotalSeconds);
            watcher?.Dispose();
            watcher = null;
        }
        using var _ = watcher;
        logger.LogInformation("Watching {Input} for new images (Ctrl+C stops)", settings.Input);
        while (!stoppingToken.IsCancellationRequested)
        {
            await changed.WaitAsync(Poll, stoppingToken);
            await ScanAsync(stoppingToken);
        }
    }

    /// <summary>Downscales every input image not yet handled and not older than its output; logs each and a summary (null: nothing new while watching).</summary>
    private async Task<BatchSummary?> ScanAsync(CancellationToken stoppingToken)
    {
        var now = DateTime.UtcNow;
        var stamps = new Dictionary<string, (long, DateTime)>(StringComparer.Ordinal);
        var plan = ImageBatch.Plan(new BatchOptions { InputFolder = settings.Input, OutputFolder = settings.Output, Format = settings.Format, Force = settings.Force })
            .Where(item =>
            {
                var stamp = (item.InputBytes, File.GetLastWriteTimeUtc(item.InputPath));
                if (seen.TryGetValue(item.InputPath, out var last) && last == stamp) return false;
                if (settings.Watch && now - stamp.Item2 < Settle) return false;
                stamps[item.InputPath] = stamp;
                return true;
            });
        if (plan.Pending == 0 && settings.Watch)
        {
            foreach (var (path, stamp) in stamps) seen[path] = stamp;
            return null;
        }

        int done = 0, count = plan.Items.Count;
        var summary = await ImageBatch.RunAsync(plan, new Downscaler(rescaler), new BatchRunOptions
        {
            Workers = settings.Workers,
            Encoding = new ImageWriteOptions { Quality = settings.Quality },
            Completed = result =>
            {
                // Failed files too: retried only when they change, not on every scan.
                seen[result.Input] = stamps[result.Input];
                done++;
                if (result.Status == BatchStatus.Written)
                    logger.LogInformation("[{Done}/{Count}] {Name} → {Output}: {InKb:F1} KB → {OutKb:F1} KB in {Seconds:F2} s",
                        done, count, result.RelativePath, Path.GetFileName(result.Output), result.InputBytes / 1024.0, result.OutputBytes / 1024.0, result.Seconds);
                else if (result.Status == BatchStatus.Failed)
                    logger.LogWarning("[{Done}/{Count}] skipped: {Message}", done, count, result.Error);
            },
        }, stoppingToken);
        logger.LogInformation("{Written} written, {UpToDate} up to date, {Failed} failed in {Seconds:F1} s → {Output}",
            summary.Written, summary.UpToDate, summary.Failed, summary.Elapsed.TotalSeconds, settings.Output);
        return summary;
    }

    /// <summary>The DI service as what <see cref="ImageBatch"/> runs.</summary>
    private sealed class Downscaler(IImageRescaler rescaler) : IBatchRescaler
    {
        public int Scale => rescaler.Scale;
        public Task<Image> DownscaleAsync(Image hr, CancellationToken cancellationToken = default) => rescaler.DownscaleAsync(hr, cancellationToken);
        public Task<Image> UpscaleAsync(Image lr, int width, int height, CancellationToken cancellationToken = default) =>
            rescaler.UpscaleAsync(lr, width, height, cancellationToken);
    }
}
