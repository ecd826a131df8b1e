using MLNet.Rescale.Networks;
using TorchSharp;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// The dense block computes channels-last inside; these tests hold it to the plain NCHW formula of the
/// reference (five convolutions over the growing concatenation, LeakyReLU 0.2 between), values and gradients.
/// </summary>
public class DenseBlockTests
{
    private static DenseBlock Perturbed(int cin, int cout, int growth, ulong seed)
    {
        using var gen = new Generator(seed);
        var block = new DenseBlock(cin, cout, growth, gen);
        // conv5 starts at zero (a fresh coupling is the identity): perturb every weight so each matters.
        Perturb(block, gen, 0.05);
        return block;
    }

    /// <summary>
    /// The reference formula, on NCHW tensors with libtorch's own cat, computed in float64 (differentiably converted,
    /// so gradients still reach the block's float32 parameters): libtorch 2.10's float32 NCHW convolutions are wrong
    /// for such channel counts on some CPUs (AMD Zen 5 here: 0.05–0.25 off, NaN gradients), which is why the block
    /// works channels-last and <c>ConvolutionCheck</c> compares against float64 too.
    /// </summary>
    private static Tensor Plain(DenseBlock block, Tensor x)
    {
        var p = block.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter.to(float64));
        return PlainFloat64(p, x.to(float64)).to(float32);
    }

    private static Tensor PlainFloat64(Dictionary<string, Tensor> p, Tensor x)
    {
        var features = new List<Tensor> { x };
        for (int i = 1; i <= 5; i++)
        {
            var input = cat(features, 1);
            Assert.True(input.is_contiguous());
            var y = nn.functional.conv2d(input, p[$"conv{i}.weight"], p[$"conv{i}.bias"], padding: [1, 1]);
            if (i == 5) return y;
            features.Add(nn.functional.leaky_relu(y, 0.2));
        }
        throw new InvalidOperationException("unreachable");
    }

    [Theory]
    [InlineData(9, 3, 32)]   // SAIN/IRN ×2 F and E: high-frequency part to the LR channels
    [InlineData(3, 45, 8)]   // IRN ×4 second level G/H shape, narrower growth
    public void MatchesTheReferenceFormulaInValuesAndLayout(int cin, int cout, int growth)
    {
        using var block = Perturbed(cin, cout, growth, 11);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var gen = new Generator(3);
        var x = rand([2, cin, 13, 10], generator: gen);
        var expected = Plain(block, x);
        var actual = block.forward(x);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(actual.is_contiguous(), "the block returns its input's (NCHW) layout");
        double err = (actual - expected).abs().max().ToDouble();
        Assert.True(err < 1e-5, $"max difference {err:g3}");
        Assert.True(expected.abs().max().ToDouble() > 0.01, "the perturbed block computes something");
    }

    [Fact]
    public void GradientsMatchTheReferenceFormula()
    {
        using var block = Perturbed(9, 3, 16, 12);
        using var scope = NewDisposeScope();
        using var gen = new Generator(4);
        var x0 = rand([2, 9, 12, 12], generator: gen);
        var w = randn([2, 3, 12, 12], generator: gen);

        Dictionary<string, double[]> Gradients(Func<Tensor, Tensor> f)
        {
            using var s = NewDisposeScope();
            block.zero_grad();
            var x = x0.clone().requires_grad_();
            (f(x) * w).sum().backward();
            var grads = block.named_parameters().ToDictionary(kv => kv.name, kv => Doubles(kv.parameter.grad!));
            grads["input"] = Doubles(x.grad!);
            return grads;
        }

        var expected = Gradients(x => Plain(block, x));
        var actual = Gradients(block.forward);
        Assert.Equal(11, actual.Count);
        foreach (var (name, e) in expected)
        {
            var a = actual[name];
            double scale = Math.Max(1e-3, e.Max(Math.Abs));
            double err = e.Zip(a, (u, v) => Math.Abs(u - v)).Max();
            Assert.True(err <= 1e-4 * scale, $"{name}: max difference {err:g3} (largest gradient {scale:g3})");
        }
    }
}
