using MLNet.Rescale.IO;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tests.Shared;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// PyTorch checkpoints (.pth) written by Debian's PyTorch 1.13 from the reference networks
/// (tests/fixtures/pth/make_pth_fixtures.py): they load as data, give PyTorch's outputs, and hostile ones are refused.
/// </summary>
public class PthCheckpointTests
{
    private static string Fixture(string name) => Path.Combine(TestPaths.Fixtures, "pth", name);

    // The file the fixture script makes every hostile checkpoint try to create when Python unpickles it.
    private const string Sentinel = "/tmp/mlnet-rescale-pth-fixture-was-run";

    private static double MaxAbs(Tensor a, Tensor b) => (a.to(float64) - b.to(float64)).abs().max().ToDouble();

    [Fact]
    public void IrnCheckpointLoadsAndComputesWhatPyTorchComputed()
    {
        using var scope = NewDisposeScope();
        var reference = SafetensorsFile.Read(Fixture("reference.safetensors"));
        using var net = ModelFile.Load(Fixture("irn_x2.pth")); // recognized by content, not by extension
        var irn = Assert.IsType<InvRescaleNet>(net);
        Assert.Equal(2, irn.Scale);
        Assert.Equal([1], irn.Options.BlocksPerLevel!);
        Assert.Equal(8, irn.Options.Growth);
        net.eval();
        using var noGrad = no_grad();
        var forward = net.forward(reference.Load("io.hr"));
        Assert.True(MaxAbs(forward, reference.Load("io.irn_forward")) < 1e-5, $"forward differs by {MaxAbs(forward, reference.Load("io.irn_forward")):g3}");
        // And back: the inverse of PyTorch's forward output is the HR input.
        Assert.True(MaxAbs(net.inverse(reference.Load("io.irn_forward")), reference.Load("io.hr")) < 1e-4);
    }

    [Fact]
    public void LegacyFormatGivesTheSameTensorsAsTheZipFormat()
    {
        var zip = PthFile.ReadStateDict(Fixture("irn_x2.pth"));
        var legacy = PthFile.ReadStateDict(Fixture("irn_x2_legacy.pth"));
        try
        {
            Assert.Equal(zip.Select(kv => kv.Key), legacy.Select(kv => kv.Key)); // same names in the same order
            Assert.Equal(31, zip.Count);
            Assert.Equal("operations.0.haar_weights", zip[0].Key);
            foreach (var ((_, a), (_, b)) in zip.Zip(legacy))
            {
                Assert.Equal(a.shape, b.shape);
                Assert.True(a.equal(b).all().ToBoolean());
            }
        }
        finally
        {
            foreach (var (_, t) in zip.Concat(legacy)) t.Dispose();
        }
    }

    [Fact]
    public void SainTrainingCheckpointLoadsItsStateDict()
    {
        using var scope = NewDisposeScope();
        var reference = SafetensorsFile.Read(Fixture("reference.safetensors"));
        using var net = ModelFile.LoadPyTorch(Fixture("sain_x2.pth"));
        var sain = Assert.IsType<SainNetwork>(net);
        Assert.Equal((1, 1, 5), (sain.Options.ResolvedEnhancedBlocks, sain.Options.ResolvedVanillaBlocks, sain.Options.MixtureComponents));
        net.eval();
        using var noGrad = no_grad();
        var (output, lr) = sain.ForwardWithLr(reference.Load("io.hr"));
        Assert.True(MaxAbs(output, reference.Load("io.sain_forward")) < 1e-5);
        Assert.True(MaxAbs(lr, reference.Load("io.sain_lr")) < 1e-5);
    }

    [Fact]
    public void ConvertedCheckpointRoundTripsThroughAModelFile()
    {
        string dir = Directory.CreateTempSubdirectory("pth-").FullName;
        try
        {
            using var fromPth = ModelFile.LoadPyTorch(Fixture("sain_x2.pth"));
            string path = Path.Combine(dir, "sain.safetensors");
            ModelFile.Save(fromPth, path);
            using var fromFile = ModelFile.Load(path);
            var a = fromPth.state_dict();
            var b = fromFile.state_dict();
            Assert.Equal(a.Keys, b.Keys);
            foreach (var key in a.Keys) Assert.True(a[key].equal(b[key]).all().ToBoolean(), key);
            Assert.Equal(fromPth.ArchitectureMetadata(), fromFile.ArchitectureMetadata());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("hostile_os_system.pth", "posix.system")]        // zip format: os.system("touch …") on unpickling
    [InlineData("hostile_eval_legacy.pth", "__builtin__.eval")]  // legacy format: eval(…)
    [InlineData("hostile_class.pth", "__main__.Thing")]          // an instance of a class
    public void HostileCheckpointIsRefusedWithoutRunningAnything(string file, string global)
    {
        // Python's torch.load of these files runs the command (checked when the fixtures were made); we must not.
        File.Delete(Sentinel);
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(Fixture(file)));
        Assert.Contains(file, e.Message);
        Assert.Contains(global, e.Message);
        Assert.Contains("nothing in it is run", e.Message);
        Assert.False(File.Exists(Sentinel));
        Assert.Throws<InvalidDataException>(() => PthFile.ReadStateDict(Fixture(file)));
    }

    [Theory]
    [InlineData("irn_x2.pth")]
    [InlineData("irn_x2_legacy.pth")]
    public void TruncatedCheckpointIsAnErrorNamingTheFile(string file)
    {
        string dir = Directory.CreateTempSubdirectory("pth-").FullName;
        try
        {
            var bytes = File.ReadAllBytes(Fixture(file));
            foreach (int keep in new[] { bytes.Length / 2, 200, 3 })
            {
                string path = Path.Combine(dir, $"cut{keep}-{file}");
                File.WriteAllBytes(path, bytes[..keep]);
                var e = Assert.ThrowsAny<Exception>(() => PthFile.ReadStateDict(path));
                Assert.IsType<InvalidDataException>(e);
                Assert.Contains(path, e.Message);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ArchitectureIsInferredFromTheTensorsOfEveryPaperConfiguration()
    {
        using var irn4 = new InvRescaleNet(new IrnOptions { Scale = 4 });
        var irnMeta = ModelFile.InferArchitecture(irn4.state_dict().Select(kv => new KeyValuePair<string, long[]>(kv.Key, kv.Value.shape)), "irn");
        Assert.Equal(("IRN", "4", "[8, 8]", "32"), (irnMeta["model"], irnMeta["scale"], irnMeta["block_num"], irnMeta["gc"]));
        using var sain4 = new SainNetwork(new SainOptions { Scale = 4 });
        var sainMeta = ModelFile.InferArchitecture(sain4.state_dict().Select(kv => new KeyValuePair<string, long[]>(kv.Key, kv.Value.shape)), "sain");
        Assert.Equal(("SAIN", "4", "10", "6", "5"), (sainMeta["model"], sainMeta["scale"], sainMeta["e_blocks"], sainMeta["v_blocks"], sainMeta["gmm_components"]));
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.InferArchitecture([new("fc.weight", [10, 4])], "mine.pth"));
        Assert.Contains("mine.pth", e.Message);
    }
}
