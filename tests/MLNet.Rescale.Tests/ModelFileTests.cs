using MLNet.Rescale.Networks;
using MLNet.Rescale.IO;
using MLNet.Rescale.Tests.Shared;
using TorchSharp;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

public class ModelFileTests
{
    [Fact]
    public void SaveAndLoadRoundTripsWeightsAndArchitecture()
    {
        var path = Path.Combine(Path.GetTempPath(), $"irn-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var gen = new Generator(3);
            using var net = new InvRescaleNet(new IrnOptions { Scale = 4, BlocksPerLevel = [1, 2], Growth = 8 }, gen);
            ModelFile.Save(net, path, [new("trained_iterations", "7")]);
            var meta = SafetensorsFile.Read(path).Metadata;
            Assert.Equal("IRN", meta["model"]);
            Assert.Equal("[1, 2]", meta["block_num"]);
            Assert.Equal("7", meta["trained_iterations"]);
            using var loaded = (InvRescaleNet)ModelFile.Load(path);
            Assert.Equal([1, 2], loaded.Options.BlocksPerLevel!);
            var a = net.state_dict();
            var b = loaded.state_dict();
            Assert.Equal(a.Keys, b.Keys);
            foreach (var k in a.Keys) Assert.Equal(Floats(a[k]), Floats(b[k]));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MismatchedTensorsAreListedByName()
    {
        var path = Path.Combine(Path.GetTempPath(), $"irn-{Guid.NewGuid():N}.safetensors");
        try
        {
            var src = SafetensorsFile.Read(TestPaths.Conformance("irn_x2_small.safetensors"));
            using var scope = NewDisposeScope();
            var tensors = src.LoadAll().Where(kv => kv.Key != "model.operations.1.F.conv1.bias").ToList();
            tensors.Add(new("model.operations.9.extra", zeros([1])));
            SafetensorsFile.Write(path, tensors, src.MetadataPairs);
            var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path));
            Assert.Contains("operations.1.F.conv1.bias", e.Message);
            Assert.Contains("operations.9.extra", e.Message);
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TheLatentScaleATrainingUsedTravelsWithTheModel()
    {
        var path = Path.Combine(Path.GetTempPath(), $"irn-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var gen = new Generator(3);
            using var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1], Growth = 8, LatentScale = 0.25 }, gen);
            ModelFile.Save(net, path);
            Assert.Equal("0.25", SafetensorsFile.Read(path).Metadata["latent_scale"]);
            using var loaded = ModelFile.Load(path);
            Assert.Equal(0.25, loaded.LatentScale);
            using var scope = NewDisposeScope();
            // Temperature is relative to the trained spread: 1 draws N(0, 0.25²), 2 draws N(0, 0.5²).
            using var g1 = new Generator(5);
            using var g2 = new Generator(5);
            using var g3 = new Generator(5);
            var standard = Floats(randn([1, 9, 16, 16], generator: g1));
            var asTrained = Floats(loaded.SampleLatent([1, 3, 16, 16], g2));
            var doubled = Floats(loaded.SampleLatent([1, 3, 16, 16], g3, temperature: 2));
            for (int i = 0; i < standard.Length; i++)
            {
                Assert.Equal(standard[i] * 0.25f, asTrained[i], 6);
                Assert.Equal(standard[i] * 0.5f, doubled[i], 6);
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AModelWithoutALatentScaleUpscalesWithTheStandardNormal()
    {
        // The conformance vectors come from the reference code, which knows no latent_scale.
        Assert.False(SafetensorsFile.Read(TestPaths.Conformance("irn_x2_small.safetensors")).Metadata.ContainsKey("latent_scale"));
        using var net = ModelFile.Load(TestPaths.Conformance("irn_x2_small.safetensors"));
        Assert.Equal(1.0, net.LatentScale);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("NaN")]
    [InlineData("1e9")]
    [InlineData("wide")]
    public void ABadLatentScaleIsAClearError(string value)
    {
        var meta = new Dictionary<string, string> { ["model"] = "IRN", ["scale"] = "2", ["block_num"] = "[1]", ["latent_scale"] = value };
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Create(meta, "x.safetensors"));
        Assert.Contains("x.safetensors", e.Message);
        Assert.Contains("latent_scale", e.Message);
    }

    [Fact]
    public void UnknownArchitectureIsAClearError()
    {
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Create(new Dictionary<string, string> { ["model"] = "ESRGAN", ["scale"] = "2" }, "x.safetensors"));
        Assert.Contains("unknown architecture 'ESRGAN'", e.Message);
    }
}
