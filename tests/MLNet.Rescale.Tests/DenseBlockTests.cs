using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors;
using Xunit;

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
        using var scope = Torch.NewScope();
        // conv5 starts at zero (a fresh coupling is the identity): perturb every weight so each matters.
        foreach (var (_, p) in block.NamedParameters()) p.Set(p.Value + Tensor.Randn(p.Shape, gen) * 0.05);
        return block;
    }

    /// <summary>The reference formula, on NCHW tensors with libtorch's own cat.</summary>
    private static Tensor Plain(DenseBlock block, Tensor x)
    {
        var p = block.NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value.Value);
        var features = new List<Tensor> { x };
        for (int i = 1; i <= 5; i++)
        {
            var input = Tensor.Cat(features, 1);
            Assert.True(input.IsContiguous());
            var y = Functional.Conv2d(input, p[$"conv{i}.weight"], p[$"conv{i}.bias"], padding: 1);
            if (i == 5) return y;
            features.Add(y.LeakyRelu(0.2));
        }
        throw new InvalidOperationException("unreachable");
    }

    [Theory]
    [InlineData(9, 3, 32)]   // SAIN/IRN ×2 F and E: high-frequency part to the LR channels
    [InlineData(3, 45, 8)]   // IRN ×4 second level G/H shape, narrower growth
    public void MatchesTheReferenceFormulaInValuesAndLayout(int cin, int cout, int growth)
    {
        using var block = Perturbed(cin, cout, growth, 11);
        using var scope = Torch.NewScope();
        using var _ = Torch.NoGrad();
        using var gen = new Generator(3);
        var x = Tensor.Rand([2, cin, 13, 10], gen);
        var expected = Plain(block, x);
        var actual = block.Forward(x);
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.True(actual.IsContiguous(), "the block returns its input's (NCHW) layout");
        double err = (actual - expected).Abs().Max().Item();
        Assert.True(err < 1e-5, $"max difference {err:g3}");
        Assert.True(expected.Abs().Max().Item() > 0.01, "the perturbed block computes something");
    }

    [Fact]
    public void GradientsMatchTheReferenceFormula()
    {
        using var block = Perturbed(9, 3, 16, 12);
        using var scope = Torch.NewScope();
        using var gen = new Generator(4);
        var x0 = Tensor.Rand([2, 9, 12, 12], gen);
        var w = Tensor.Randn([2, 3, 12, 12], gen);

        Dictionary<string, double[]> Gradients(Func<Tensor, Tensor> f)
        {
            using var s = Torch.NewScope();
            block.ZeroGrad();
            var x = x0.Clone().RequiresGrad_();
            (f(x) * w).Sum().Backward();
            var grads = block.NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value.Value.Grad!.Contiguous().ToArray<float>().Select(v => (double)v).ToArray());
            grads["input"] = x.Grad!.Contiguous().ToArray<float>().Select(v => (double)v).ToArray();
            return grads;
        }

        var expected = Gradients(x => Plain(block, x));
        var actual = Gradients(block.Forward);
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
