using System.Diagnostics;
using MLNet.Rescale.Hosting;
using MLNet.Rescale.Imaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CdnBatch;

/// <summary>
/// Downscales the images of the input folder into the output folder, several at once through the pooled
/// <see cref="IImageRescaler"/>, then stops the application; with --watch it stays and rescans whenever the folder
/// changes (and every few seconds, in case the file system does not say).
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
            Directory.CreateDirectory(settings.Output);
            logger.LogInformation("Downscaling {Input} → {Output} with {Model} ({Architecture} ×{Scale}{Hcd}), {Workers} at a time",
                settings.Input, settings.Output, rescaler.ModelPath, rescaler.Architecture, rescaler.Scale,
                settings.Collaborative ? ", collaborative" : "", settings.Workers);
            var total = await ScanAsync(stoppingToken);
            if (!settings.Watch)
            {
                if (total.Failed > 0) Environment.ExitCode = 1;
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
            watcher = new FileSystemWatcher(settings.Input);
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

    private sealed record Totals(int Written, int UpToDate, int Failed);

    /// <summary>Downscales every input image not yet handled and not older than its output; logs each and a summary.</summary>
    private async Task<Totals> ScanAsync(CancellationToken stoppingToken)
    {
        var clock = Stopwatch.StartNew();
        var now = DateTime.UtcNow;
        var todo = new List<(FileInfo File, string Output)>();
        int upToDate = 0;
        foreach (var file in new DirectoryInfo(settings.Input).EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            if (file.Name.StartsWith('.') || ImageFile.FormatFromExtension(file.Name) is null) continue;
            if (seen.TryGetValue(file.FullName, out var last) && last == (file.Length, file.LastWriteTimeUtc)) continue;
            if (settings.Watch && now - file.LastWriteTimeUtc < Settle) continue;
            string output = OutputPath(file.Name);
            if (!settings.Force && File.Exists(output) && File.GetLastWriteTimeUtc(output) >= file.LastWriteTimeUtc)
            {
                seen[file.FullName] = (file.Length, file.LastWriteTimeUtc);
                upToDate++;
                continue;
            }
            todo.Add((file, output));
        }
        if (todo.Count == 0 && settings.Watch) return new Totals(0, upToDate, 0);

        int done = 0, written = 0, failed = 0;
        await Parallel.ForEachAsync(todo, new ParallelOptions { MaxDegreeOfParallelism = settings.Workers, CancellationToken = stoppingToken },
            async (item, ct) =>
            {
                var (file, output) = item;
                var one = Stopwatch.StartNew();
                try
                {
                    long written1 = await DownscaleAsync(file, output, ct);
                    Interlocked.Increment(ref written);
                    logger.LogInformation("[{Done}/{Count}] {Name} → {Output}: {InKb:F1} KB → {OutKb:F1} KB in {Seconds:F2} s",
                        Interlocked.Increment(ref done), todo.Count, file.Name, Path.GetFileName(output), file.Length / 1024.0, written1 / 1024.0,
                        one.Elapsed.TotalSeconds);
                }
                catch (Exception e) when (e is ImageFormatException or IOException or UnauthorizedAccessException or ArgumentException)
                {
                    Interlocked.Increment(ref failed);
                    // ImageFormatException's message starts with the file's path; the others are about it too.
                    logger.LogWarning("[{Done}/{Count}] skipped: {Message}", Interlocked.Increment(ref done), todo.Count,
                        e is ImageFormatException ? e.Message : $"{file.FullName}: {e.Message}");
                }
                // Failed files too: retried only when they change, not on every scan.
                lock (seen) seen[file.FullName] = (file.Length, file.LastWriteTimeUtc);
            });
        logger.LogInformation("{Written} written, {UpToDate} up to date, {Failed} failed in {Seconds:F1} s → {Output}",
            written, upToDate, failed, clock.Elapsed.TotalSeconds, settings.Output);
        return new Totals(written, upToDate, failed);
    }

    /// <summary>Downscales one file into its output, written atomically (temp file + rename); returns the bytes written.</summary>
    private async Task<long> DownscaleAsync(FileInfo file, string output, CancellationToken ct)
    {
        using var lr = new MemoryStream();
        await using (var input = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
            await rescaler.DownscaleAsync(input, lr, settings.Format, ct);
        ImageFile.WriteAtomically(output, lr.GetBuffer().AsSpan(0, (int)lr.Length));
        return lr.Length;
    }

    private string OutputPath(string inputName) => Path.Combine(settings.Output, settings.Format switch
    {
        null => inputName,
        ImageFormat.Jpeg => Path.ChangeExtension(inputName, ".jpg"),
        var f => Path.ChangeExtension(inputName, "." + f.Value.ToString().ToLowerInvariant()),
    });
}
