using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.IO;
using MLNet.Rescale.Tests.Shared;
using Xunit;

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
            var a = net.StateDict();
            var b = loaded.StateDict();
            Assert.Equal(a.Keys, b.Keys);
            foreach (var k in a.Keys) Assert.Equal(a[k].ToArray<float>(), b[k].ToArray<float>());
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
            using var scope = Torch.NewScope();
            var tensors = src.LoadAll().Where(kv => kv.Key != "model.operations.1.F.conv1.bias").ToList();
            tensors.Add(new("model.operations.9.extra", Tensor.Zeros([1])));
            SafetensorsFile.Write(path, tensors, src.MetadataPairs);
            var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path));
            Assert.Contains("operations.1.F.conv1.bias", e.Message);
            Assert.Contains("operations.9.extra", e.Message);
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void UnknownArchitectureIsAClearError()
    {
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Create(new Dictionary<string, string> { ["model"] = "ESRGAN", ["scale"] = "2" }, "x.safetensors"));
        Assert.Contains("unknown architecture 'ESRGAN'", e.Message);
    }
}
