using System.Diagnostics;
using MLNet.Rescale.Batch;
using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MLNet.Rescale.Hosting;

/// <summary>
/// The <see cref="IImageRescaler"/> behind <see cref="ImageRescalingServiceCollectionExtensions.AddImageRescaling"/>:
/// a pool of up to <see cref="ImageRescalingOptions.PoolSize"/> network instances loaded from one model file, each
/// used by one call at a time. The first instance is loaded by the constructor, so a missing or bad model file fails
/// there (with a <see cref="ModelLoadException"/>); the others are loaded when concurrent calls first need them. Work
/// runs on the thread pool; callers beyond the pool size wait asynchronously for a free instance. It is also an
/// <see cref="IBatchRescaler"/>, so <see cref="ImageBatch.RunAsync"/> can downscale a whole image store on the pool.
/// </summary>
public sealed partial class PooledImageRescaler : IImageRescaler, IBatchRescaler, IDisposable
{
    private readonly Func<string, RescaleNetwork> loader;
    private readonly bool customLoader;
    private readonly RescalerOptions inference;
    private readonly CollaborativeOptions? collaborative;
    private readonly ImageWriteOptions encoding;
    private readonly int poolSize, threadsPerCall;
    private readonly ILogger logger;
    private readonly SemaphoreSlim slots;
    private readonly Stack<Worker> idle = new();
    private readonly Lock gate = new();
    private int created;
    private bool disposed;

    /// <summary>Validates the options and loads the first network instance.</summary>
    /// <exception cref="ArgumentException">A setting is missing or out of range.</exception>
    /// <exception cref="ModelLoadException">The model file is missing or cannot be loaded.</exception>
    public PooledImageRescaler(ImageRescalingOptions options, ILogger<PooledImageRescaler>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ModelPath = Path.GetFullPath(options.ModelPath!);
        inference = options.Inference;
        var device = inference.Device;
        loader = options.ModelLoader ?? (path => ModelFile.Load(path, device));
        customLoader = options.ModelLoader is not null;
        collaborative = options.Collaborative ? options.CollaborativeOptions : null;
        encoding = options.Encoding;
        poolSize = options.PoolSize;
        threadsPerCall = options.ThreadsPerCall;
        this.logger = (ILogger?)logger ?? NullLogger.Instance;
        slots = new SemaphoreSlim(poolSize, poolSize);
        var first = CreateWorker();
        Scale = first.Rescaler.Scale;
        Architecture = first.Network.Architecture;
        idle.Push(first);
    }

    /// <inheritdoc/>
    public int Scale { get; }

    /// <inheritdoc/>
    public string Architecture { get; }

    /// <inheritdoc/>
    public string ModelPath { get; }

    /// <summary>Network instances loaded so far (at most <see cref="ImageRescalingOptions.PoolSize"/>).</summary>
    public int LoadedInstances => Volatile.Read(ref created);

    /// <inheritdoc/>
    public Task<Image> DownscaleAsync(Image hr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hr);
        return RunAsync("downscale", hr, w => Downscale(w, hr, cancellationToken), lr => lr, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<Image> UpscaleAsync(Image lr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lr);
        return RunAsync("upscale", lr, w => w.Rescaler.Upscale(lr), hr => hr, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<Image> UpscaleAsync(Image lr, int width, int height, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lr);
        return RunAsync("upscale", lr, w => w.Rescaler.Upscale(lr, width, height), hr => hr, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<RoundTripResult> RoundTripAsync(Image hr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hr);
        return RunAsync("round trip", hr, w =>
        {
            var lr = Downscale(w, hr, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            return new RoundTripResult(lr, w.Rescaler.Upscale(lr, hr.Width, hr.Height));
        }, r => r.Restored, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<ImageFormat> DownscaleAsync(Stream input, Stream output, ImageFormat? outputFormat = null, CancellationToken cancellationToken = default)
    {
        var (hr, format) = await ReadAsync(input, output, cancellationToken).ConfigureAwait(false);
        var lr = await DownscaleAsync(hr, cancellationToken).ConfigureAwait(false);
        return await WriteAsync(lr, output, outputFormat ?? format, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<ImageFormat> UpscaleAsync(Stream input, Stream output, ImageFormat? outputFormat = null, CancellationToken cancellationToken = default)
    {
        var (lr, format) = await ReadAsync(input, output, cancellationToken).ConfigureAwait(false);
        var hr = await UpscaleAsync(lr, cancellationToken).ConfigureAwait(false);
        return await WriteAsync(hr, output, outputFormat ?? format, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<ImageFormat> RoundTripAsync(Stream input, Stream output, ImageFormat? outputFormat = null, CancellationToken cancellationToken = default)
    {
        var (hr, format) = await ReadAsync(input, output, cancellationToken).ConfigureAwait(false);
        var result = await RoundTripAsync(hr, cancellationToken).ConfigureAwait(false);
        return await WriteAsync(result.Restored, output, outputFormat ?? format, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Frees the networks; calls still running finish, and their instances are freed when they return.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            while (idle.TryPop(out var worker)) worker.Network.Dispose();
        }
    }

    private Image Downscale(Worker worker, Image hr, CancellationToken cancellationToken) =>
        worker.Collaborative is { } hcd
            // HCD runs many network passes: it checks for cancellation after each iteration.
            ? hcd.Downscale(worker.Rescaler, hr, cancellationToken.ThrowIfCancellationRequested)
            : worker.Rescaler.Downscale(hr);

    /// <summary>
    /// Waits for a free slot, then runs <paramref name="work"/> on the thread pool with an instance of its own and
    /// logs the call's sizes and timing at Debug.
    /// </summary>
    private async Task<T> RunAsync<T>(string operation, Image input, Func<Worker, T> work, Func<T, Image> outputOf, CancellationToken cancellationToken)
    {
        lock (gate) ObjectDisposedException.ThrowIf(disposed, this);
        long requested = Stopwatch.GetTimestamp();
        await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await Task.Run(() =>
            {
                var waited = Stopwatch.GetElapsedTime(requested);
                var worker = Take();
                try
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    // libtorch's thread count is per thread: set it on the one doing the work.
                    if (threadsPerCall > 0) set_num_threads(threadsPerCall);
                    long started = Stopwatch.GetTimestamp();
                    var result = work(worker);
                    if (logger.IsEnabled(LogLevel.Debug))
                    {
                        var output = outputOf(result);
                        LogCall(logger, operation, input.Width, input.Height, output.Width, output.Height, worker.Id,
                            Stopwatch.GetElapsedTime(started).TotalMilliseconds, waited.TotalMilliseconds);
                    }
                    return result;
                }
                finally
                {
                    Return(worker);
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            slots.Release();
        }
    }

    /// <summary>An idle instance, or a newly loaded one (the caller holds a slot, so fewer than the pool size exist).</summary>
    private Worker Take()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (idle.TryPop(out var worker)) return worker;
        }
        var loaded = CreateWorker();
        if (loaded.Network.Scale != Scale || loaded.Network.Architecture != Architecture)
        {
            loaded.Network.Dispose();
            throw new ModelLoadException(ModelPath, $"the file changed while in use: it now holds {loaded.Network.Architecture} ×{loaded.Network.Scale}, the pool runs {Architecture} ×{Scale}");
        }
        return loaded;
    }

    private void Return(Worker worker)
    {
        lock (gate)
        {
            if (disposed) worker.Network.Dispose();
            else idle.Push(worker);
        }
    }

    private Worker CreateWorker()
    {
        long started = Stopwatch.GetTimestamp();
        RescaleNetwork network;
        try
        {
            network = loader(ModelPath) ?? throw new InvalidOperationException("the model loader returned no network");
        }
        catch (Exception e) when (e is not ModelLoadException and not OutOfMemoryException)
        {
            throw new ModelLoadException(ModelPath, Problem(e), e);
        }
        try
        {
            var worker = new Worker(Interlocked.Increment(ref created), network, new Rescaler(network, inference),
                collaborative is null ? null : new CollaborativeOptimizer(network, collaborative));
            double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (worker.Id == 1) LogFirstLoad(logger, network.Architecture, network.Scale, ModelPath, ms, poolSize);
            else LogInstanceLoad(logger, worker.Id, poolSize, ms);
            return worker;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The loader's message without the path it may start with (the exception's message starts with it).</summary>
    private string Problem(Exception e)
    {
        if (!File.Exists(ModelPath) && !Directory.Exists(ModelPath)) return "the file does not exist";
        // A custom loader may take a folder; the safetensors loader cannot.
        if (!customLoader && Directory.Exists(ModelPath)) return "it is a directory, not a model file";
        string message = e.Message;
        return message.StartsWith(ModelPath + ": ", StringComparison.Ordinal) ? message[(ModelPath.Length + 2)..] : message;
    }

    private static async Task<(Image Image, ImageFormat Format)> ReadAsync(Stream input, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        string name = input is FileStream file ? file.Name : "<input stream>";
        byte[] bytes;
        using (var buffer = new MemoryStream())
        {
            await input.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            bytes = buffer.ToArray();
        }
        var image = ImageFile.Decode(bytes, name);
        return (image, ImageFile.DetectFormat(bytes)!.Value);
    }

    private async Task<ImageFormat> WriteAsync(Image image, Stream output, ImageFormat format, CancellationToken cancellationToken)
    {
        var bytes = ImageFile.Encode(image, format, encoding);
        await output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        return format;
    }

    /// <summary>One pool instance: a network with its rescaler (and HCD optimizer), used by one call at a time.</summary>
    private sealed record Worker(int Id, RescaleNetwork Network, Rescaler Rescaler, CollaborativeOptimizer? Collaborative);

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug,
        Message = "Loaded the {Architecture} ×{Scale} rescaling model {ModelPath} in {Milliseconds:F0} ms (pool of up to {PoolSize} instances)")]
    private static partial void LogFirstLoad(ILogger logger, string architecture, int scale, string modelPath, double milliseconds, int poolSize);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Loaded rescaling instance {Instance} of {PoolSize} in {Milliseconds:F0} ms")]
    private static partial void LogInstanceLoad(ILogger logger, int instance, int poolSize, double milliseconds);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug,
        Message = "{Operation} {InWidth}×{InHeight} → {OutWidth}×{OutHeight} on instance {Instance} in {Milliseconds:F1} ms (waited {WaitMilliseconds:F1} ms)")]
    private static partial void LogCall(ILogger logger, string operation, int inWidth, int inHeight, int outWidth, int outHeight,
        int instance, double milliseconds, double waitMilliseconds);
}
