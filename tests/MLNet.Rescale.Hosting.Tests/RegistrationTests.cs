using MLNet.Rescale.Inference;
using MLNet.Rescale.IO;
using MLNet.Rescale.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace MLNet.Rescale.Hosting.Tests;

public class RegistrationTests
{
    private static ServiceProvider Provider(Action<ImageRescalingOptions> configure, CapturingLoggerProvider? logs = null)
    {
        var services = new ServiceCollection();
        if (logs is not null) services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        services.AddImageRescaling(configure);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task AddImageRescalingRegistersOneLoggedRescalerThatComputesWhatTheLibraryDoes()
    {
        using var model = new TempModel();
        var logs = new CapturingLoggerProvider();
        var image = TestImages.Small()[1];
        var provider = Provider(o => { o.ModelPath = model.Path; o.PoolSize = 2; }, logs);
        IImageRescaler rescaler;
        using (provider)
        {
            rescaler = provider.GetRequiredService<IImageRescaler>();
            Assert.Same(rescaler, provider.GetRequiredService<IImageRescaler>());
            Assert.Equal((2, "IRN", model.Path), (rescaler.Scale, rescaler.Architecture, rescaler.ModelPath));

            var lr = await rescaler.DownscaleAsync(image);
            using var network = ModelFile.Load(model.Path);
            Assert.Equal(new Rescaler(network).Downscale(image).Data, lr.Data);

            var entries = logs.Entries.Where(e => e.Category == typeof(PooledImageRescaler).FullName).ToList();
            Assert.Contains(entries, e => e.Level == LogLevel.Debug && e.Message.Contains(model.Path) && e.Message.Contains("IRN ×2"));
            Assert.Contains(entries, e => e.Level == LogLevel.Debug && e.Message.StartsWith("downscale 33×47 → 17×24 on instance 1 in "));
        }
        // The container disposed the rescaler with itself.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => rescaler.DownscaleAsync(image));
    }

    [Fact]
    public void AMissingModelFileIsAClearErrorNamingIt()
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-such-model-{Guid.NewGuid():N}.safetensors");
        using var provider = Provider(o => o.ModelPath = path);
        var e = Assert.Throws<ModelLoadException>(() => provider.GetRequiredService<IImageRescaler>());
        Assert.Equal($"{path}: cannot load the rescaling model: the file does not exist", e.Message);
        Assert.Equal(path, e.ModelPath);
    }

    [Fact]
    public void ADirectoryIsNotAModelFile()
    {
        using var model = new TempModel();
        var e = Assert.Throws<ModelLoadException>(() => new PooledImageRescaler(new ImageRescalingOptions { ModelPath = model.Folder }));
        Assert.Equal($"{model.Folder}: cannot load the rescaling model: it is a directory, not a model file", e.Message);
    }

    [Fact]
    public void ACorruptModelFileIsAClearErrorNamingItAndTheProblem()
    {
        using var model = new TempModel();
        var truncated = model.WriteFile("truncated.safetensors", File.ReadAllBytes(model.Path)[..1000]);
        var e = Assert.Throws<ModelLoadException>(() => new PooledImageRescaler(new ImageRescalingOptions { ModelPath = truncated }));
        Assert.StartsWith($"{truncated}: cannot load the rescaling model: not a valid safetensors file: ", e.Message);

        var text = model.WriteFile("notes.safetensors", "not a model"u8.ToArray());
        e = Assert.Throws<ModelLoadException>(() => new PooledImageRescaler(new ImageRescalingOptions { ModelPath = text }));
        Assert.StartsWith($"{text}: cannot load the rescaling model: not a valid safetensors file: ", e.Message);
    }

    [Fact]
    public void ASafetensorsFileThatIsNoModelIsRefusedSayingWhy()
    {
        using var model = new TempModel();
        // Valid safetensors with the right tensors but no architecture metadata.
        var file = SafetensorsFile.Read(model.Path);
        var weights = model.WriteFile("weights-only.safetensors", SafetensorsFile.Serialize(file.LoadAll("", TorchSharp.torch.ScalarType.Float32)));
        var e = Assert.Throws<ModelLoadException>(() => new PooledImageRescaler(new ImageRescalingOptions { ModelPath = weights }));
        Assert.Equal($"{weights}: cannot load the rescaling model: model metadata lacks 'model' (is this a MLNet.Rescale model file?)", e.Message);
    }

    [Fact]
    public void MissingOrOutOfRangeSettingsAreRefused()
    {
        using var provider = Provider(_ => { });
        var e = Assert.Throws<ArgumentException>(() => provider.GetRequiredService<IImageRescaler>());
        Assert.Contains("ModelPath is not set", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PooledImageRescaler(new ImageRescalingOptions { ModelPath = "m", PoolSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PooledImageRescaler(new ImageRescalingOptions { ModelPath = "m", ThreadsPerCall = -1 }));
    }

    [Fact]
    public async Task ACustomLoaderIsCalledOncePerPoolInstance()
    {
        using var model = new TempModel();
        var loaded = new List<string>();
        using var rescaler = new PooledImageRescaler(new ImageRescalingOptions
        {
            ModelPath = model.Path, PoolSize = 2,
            ModelLoader = path => { lock (loaded) loaded.Add(path); return ModelFile.Load(TestPaths.Conformance("irn_x4_small.safetensors")); },
        });
        Assert.Equal([model.Path], loaded);
        Assert.Equal(4, rescaler.Scale);
        var lr = await rescaler.DownscaleAsync(TestImages.Small()[0]);
        Assert.Equal((10, 9), (lr.Width, lr.Height));

        var failing = Assert.Throws<ModelLoadException>(() => new PooledImageRescaler(new ImageRescalingOptions
        {
            ModelPath = model.Path, ModelLoader = _ => throw new InvalidDataException("zip manifest version 9 is newer than this library"),
        }));
        Assert.Equal($"{model.Path}: cannot load the rescaling model: zip manifest version 9 is newer than this library", failing.Message);
    }
}
