using MLNet.Rescale.Engine;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.IO;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tests.Shared;
using TorchSharp;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

public class SainNetworkTests
{
    // The conformance weights are random and perturbed, so every block (and E in particular) matters.
    private static SainNetwork Reference() => (SainNetwork)ModelFile.Load(TestPaths.Conformance("sain_x2_small.safetensors"));

    /// <summary>A fresh network with every weight perturbed: fresh couplings start as the identity.</summary>
    private static SainNetwork Perturbed(SainOptions options, ulong seed)
    {
        using var gen = new Generator(seed);
        var net = new SainNetwork(options, gen);
        Perturb(net, gen, 0.02, trainableOnly: true);
        return net;
    }

    [Fact]
    public void InverseOfForwardIsIdentityWithoutCompression()
    {
        using var net = Reference();
        net.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var gen = new Generator(6);
        var hr = rand([2, 3, 32, 48], generator: gen);
        var (output, lr) = net.ForwardWithLr(hr);
        var (back, restoredLr) = net.InverseWithLr(output);
        Assert.True((back - hr).abs().max().ToDouble() < 1e-4, $"HR error {(back - hr).abs().max().ToDouble():g3}");
        // Given its own output, the last enhanced block restores exactly the high-quality LR it produced.
        Assert.True((restoredLr - lr).abs().max().ToDouble() < 1e-4, $"LR error {(restoredLr - lr).abs().max().ToDouble():g3}");
        // The compression simulator changes the LR: the output's channels 0..2 are not the high-quality LR.
        Assert.True((RescaleNetwork.LrOf(output) - lr).abs().max().ToDouble() > 1e-3);
    }

    [Fact]
    public void EnhancedBlocksStartedFromAnIrnStateDownscaleLikeTheIrn()
    {
        using var gen = new Generator(11);
        using var irn = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [2], Growth = 8 }, gen);
        Perturb(irn, gen, 0.05, trainableOnly: true);
        // One more enhanced block than IRN has: the extra one starts as the identity.
        using var sain = new SainNetwork(new SainOptions { Scale = 2, EnhancedBlocks = 3, VanillaBlocks = 1, Growth = 8 }, gen);
        var loaded = StateDicts.LoadMatching(sain, SainNetwork.StateFromIrn(irn.state_dict()));
        Assert.Equal(2 * 3 * 10, loaded.Count); // 2 blocks × E, G, H × 5 convs × (weight, bias)
        Assert.Contains("down_operations.1.E.conv5.weight", loaded);
        Assert.DoesNotContain(loaded, n => n.Contains(".F.", StringComparison.Ordinal));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var hr = rand([1, 3, 16, 24], generator: gen);
        var error = (sain.Downscale(hr) - irn.Downscale(hr)).abs().max().ToDouble();
        Assert.True(error < 1e-5, $"SAIN started from IRN differs from it by {error:g3}");
        Assert.Throws<InvalidDataException>(() => SainNetwork.StateFromIrn(sain.state_dict()));
    }

    [Fact]
    public void X4NetworkIsInvertibleAndHasTheReferenceLayout()
    {
        using var net = Perturbed(new SainOptions { Scale = 4, EnhancedBlocks = 2, VanillaBlocks = 1, Growth = 8 }, 7);
        var names = net.named_parameters().Select(kv => kv.name).ToHashSet();
        Assert.Contains("haar_operations.0.haar_weights", names);
        Assert.Contains("haar_operations.1.haar_weights", names);
        Assert.Contains("down_operations.1.E.conv5.bias", names);
        Assert.Contains("comp_operations.0.H.conv1.weight", names);
        Assert.DoesNotContain("comp_operations.0.E.conv1.weight", names);
        Assert.Contains("gmm.gmm_para", names);
        // Haar level i acts on 3·4ⁱ channels (4 filters each).
        Assert.Equal([12L, 1, 2, 2], net.state_dict()["haar_operations.0.haar_weights"].shape);
        Assert.Equal([48L, 1, 2, 2], net.state_dict()["haar_operations.1.haar_weights"].shape);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var gen = new Generator(8);
        var hr = rand([1, 3, 32, 32], generator: gen);
        var output = net.forward(hr);
        Assert.Equal([1L, 48, 8, 8], output.shape);
        Assert.True((net.inverse(output) - hr).abs().max().ToDouble() < 1e-4);
        // Downscale delivers the high-quality LR of the last enhanced block.
        Assert.Equal(0, (net.Downscale(hr) - net.ForwardWithLr(hr).Lr).abs().max().ToDouble());
    }

    [Fact]
    public void DefaultsFollowThePaper()
    {
        Assert.Equal((5, 3), (new SainOptions { Scale = 2 }.ResolvedEnhancedBlocks, new SainOptions { Scale = 2 }.ResolvedVanillaBlocks));
        Assert.Equal((10, 6), (new SainOptions { Scale = 4 }.ResolvedEnhancedBlocks, new SainOptions { Scale = 4 }.ResolvedVanillaBlocks));
        Assert.Throws<ArgumentException>(() => new SainNetwork(new SainOptions { EnhancedBlocks = 0 }));
    }

    [Fact]
    public void MixtureSamplingPassesGradientsToEveryMixtureParameter()
    {
        using var net = new SainNetwork(new SainOptions { EnhancedBlocks = 1, VanillaBlocks = 0, Growth = 4 });
        var para = net.Mixture.GmmPara;
        using var scope = NewDisposeScope();
        Set(para, tensor(new[] { 0.1f, -0.2f, 0.3f, 0f, 0.5f, -1f, -0.5f, 0f, 0.5f, 1f, 0.2f, -0.3f, 0f, 0.4f, -0.1f }, [3, 5]));
        using var gen = new Generator(9);
        var z = net.SampleLatent([2, 3, 8, 8], gen);
        Assert.Equal([2L, 9, 8, 8], z.shape);
        var target = randn(z.shape, generator: gen);
        (z - target).square().mean().backward();
        var grad = para.grad!;
        for (int row = 0; row < 3; row++)
            Assert.True(grad.narrow(0, row, 1).abs().max().ToDouble() > 1e-6, $"row {row} of gmm_para got no gradient: [{string.Join(", ", Floats(grad))}]");
    }

    [Fact]
    public void MixtureSamplesHaveTheMixtureStatistics()
    {
        using var mixture = new GaussianMixture(2);
        using var scope = NewDisposeScope();
        // Weights 0.8 / 0.2 (logits log 4 and 0), means −1 / 4, standard deviations 0.5 / 2 (log-variances).
        Set(mixture.GmmPara, tensor(new[] { (float)Math.Log(4), 0f, -1f, 4f, (float)Math.Log(0.25), (float)Math.Log(4) }, [3, 2]));
        using var gen = new Generator(10);
        using var _ = no_grad();
        var z = mixture.Sample([200_000], gen);
        double mean = z.mean().ToDouble(), variance = (z - mean).square().mean().ToDouble();
        // E = 0.8·(−1) + 0.2·4 = 0; Var = 0.8·(0.25 + 1) + 0.2·(4 + 16) = 5.
        Assert.InRange(mean, -0.03, 0.03);
        Assert.InRange(variance, 4.9, 5.1);
        Assert.InRange(z.gt(1.5).to(float32).mean().ToDouble(), 0.2 * 0.894 - 0.01, 0.2 * 0.894 + 0.01);
    }

    [Fact]
    public void ModelFileRoundTripsASainModel()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sain-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var net = Perturbed(new SainOptions { Scale = 2, EnhancedBlocks = 2, VanillaBlocks = 1, Growth = 8, MixtureComponents = 3 }, 11);
            ModelFile.Save(net, path);
            var meta = SafetensorsFile.Read(path).Metadata;
            Assert.Equal("SAIN", meta["model"]);
            Assert.Equal("2", meta["e_blocks"]);
            Assert.Equal("1", meta["v_blocks"]);
            Assert.Equal("3", meta["gmm_components"]);
            using var loaded = Assert.IsType<SainNetwork>(ModelFile.Load(path));
            Assert.Equal(net.Options, loaded.Options);
            var a = net.state_dict();
            var b = loaded.state_dict();
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
            foreach (var k in a.Keys) Assert.Equal(Floats(a[k]), Floats(b[k]));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void RescalerDownscalesToTheHighQualityLr()
    {
        using var net = Reference();
        var rescaler = new Rescaler(net);
        var hr = ImageFile.Read(TestPaths.Image("butterfly.png")).Crop(0, 0, 48, 32);
        var lr = rescaler.Downscale(hr);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var expected = (net.Downscale(ImageTensors.ToTensor(hr)).clamp(0, 1) * 255).round() / 255;
        Assert.True((ImageTensors.ToTensor(lr) - expected).abs().max().ToDouble() < 1e-6);
        var back = rescaler.Upscale(lr);
        Assert.Equal((48, 32), (back.Width, back.Height));
    }
}
