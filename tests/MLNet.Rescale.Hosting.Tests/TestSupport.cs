using System.Collections.Concurrent;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Networks;
using static TorchSharp.torch;
using MLNet.Rescale.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace MLNet.Rescale.Hosting.Tests;

/// <summary>
/// A model file in a temporary folder: the weights of the irn_x2_small conformance vector (random and perturbed, so
/// every block changes the result, unlike a fresh network) saved as a model file — or, with <c>tiny</c>, a fresh IRN ×2
/// of 2 blocks and growth 8 (a tenth of the work) with every weight perturbed likewise. Deleted on dispose.
/// </summary>
public sealed class TempModel : IDisposable
{
    public TempModel(bool tiny = false)
    {
        Folder = Directory.CreateTempSubdirectory("mlnet-rescale-hosting-").FullName;
        Path = System.IO.Path.Combine(Folder, tiny ? "irn-x2-tiny.safetensors" : "irn-x2-small.safetensors");
        using var network = tiny ? Tiny() : ModelFile.Load(TestPaths.Conformance("irn_x2_small.safetensors"));
        ModelFile.Save(network, Path);
    }

    private static InvRescaleNet Tiny()
    {
        using var gen = new Generator(17);
        var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [2], Growth = 8 }, gen);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var p in net.parameters())
            if (p.requires_grad) p.add_(randn(p.shape, generator: gen) * 0.02);
        return net;
    }

    public string Folder { get; }
    public string Path { get; }

    /// <summary>A file in the temporary folder holding <paramref name="bytes"/>.</summary>
    public string WriteFile(string name, byte[] bytes)
    {
        var path = System.IO.Path.Combine(Folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

public static class TestImages
{
    public static Image Crop(string file, int x, int y, int w, int h) => ImageFile.Read(TestPaths.Image(file)).Crop(x, y, w, h);

    /// <summary>Small images of different sizes (odd ones included), one grey and one with alpha.</summary>
    public static Image[] Small()
    {
        var rgb = Crop("butterfly.png", 10, 20, 40, 36);
        var gray = new Image(40, 36, 1, rgb.Data.AsSpan(0, 40 * 36).ToArray());
        var alpha = new Image(40, 36, 1, Enumerable.Range(0, 40 * 36).Select(i => (i % 40) / 39f).ToArray());
        return
        [
            rgb,
            Crop("bird.png", 100, 80, 33, 47),
            Crop("butterfly.png", 120, 90, 50, 30),
            Crop("bird.png", 0, 0, 48, 48),
            gray,
            Image.WithAlpha(Crop("bird.png", 30, 150, 40, 36), alpha),
        ];
    }
}

/// <summary>Keeps every log entry, for assertions on what was logged.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue((logLevel, category, formatter(state, exception)));
    }
}
