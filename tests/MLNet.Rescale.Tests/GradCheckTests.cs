using MLNet.Rescale.Networks;
using TorchSharp;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// Autograd gradients of our blocks and networks against central finite differences in float64: with respect to the
/// input (every element) and to the parameters (a random direction through all of them at once).
/// </summary>
public class GradCheckTests
{
    /// <summary>Concatenates two outputs, so one finite-difference pass checks both.</summary>
    private static Tensor Both((Tensor, Tensor) outputs) => cat([outputs.Item1.flatten(), outputs.Item2.flatten()]);

    /// <summary>
    /// Compares autograd's gradient of sum(f()·w) with respect to <paramref name="module"/>'s trainable parameters with
    /// the central difference along a random direction d of all of them: Σ ∂L/∂θ·d against (L(θ + εd) − L(θ − εd))/2ε.
    /// </summary>
    private static void ParameterGradCheck(nn.Module module, Func<Tensor> f, double eps = 1e-6, double tol = 1e-6, ulong seed = 13)
    {
        using var scope = NewDisposeScope();
        var parameters = module.parameters().Where(p => p.requires_grad).ToList();
        Assert.NotEmpty(parameters);
        Assert.All(parameters, p => Assert.Equal(ScalarType.Float64, p.dtype));
        using var g = new Generator(seed);
        module.zero_grad();
        var y = f();
        var w = randn(y.shape, float64, generator: g);
        (y * w).sum().backward();
        var directions = parameters.Select(p => randn(p.shape, float64, generator: g)).ToList();
        // A parameter the output does not depend on has no gradient: it contributes 0.
        double analytic = parameters.Zip(directions, (p, d) => p.grad is { } grad ? (grad * d).sum().ToDouble() : 0).Sum();
        double L(double step)
        {
            using var s = NewDisposeScope();
            using var noGrad = no_grad();
            for (int i = 0; i < parameters.Count; i++) parameters[i].add_(directions[i] * step);
            double value = (f() * w).sum().ToDouble();
            for (int i = 0; i < parameters.Count; i++) parameters[i].sub_(directions[i] * step);
            return value;
        }
        double numeric = (L(eps) - L(-eps)) / (2 * eps);
        Assert.True(Math.Abs(analytic - numeric) <= tol * Math.Max(1, Math.Abs(numeric)),
            $"parameters: autograd {analytic:R} vs finite difference {numeric:R}");
        module.zero_grad();
    }

    private static T Float64<T>(T module, ulong seed, double perturbation) where T : nn.Module
    {
        using var g = new Generator(seed);
        // Fresh couplings are the identity (conv5 starts at zero): perturb every weight so each one matters.
        Perturb(module, g, perturbation, trainableOnly: true);
        module.to(float64);
        return module;
    }

    private static Tensor Input(long[] shape, ulong seed) => RandD(shape, 0, 1, seed);

    [Fact]
    public void DenseBlock()
    {
        using var gen = new Generator(1);
        using var block = Float64(new DenseBlock(5, 3, growth: 4, gen), 2, 0.1);
        using var scope = NewDisposeScope();
        var x = Input([2, 5, 4, 3], 3);
        GradCheck(block.forward, x);
        ParameterGradCheck(block, () => block.forward(x));
    }

    [Fact]
    public void InvBlockExpForwardAndInverse()
    {
        using var gen = new Generator(4);
        using var block = Float64(new InvBlockExp(12, 3, growth: 4, clamp: 1.0, gen), 5, 0.1);
        using var scope = NewDisposeScope();
        var x = Input([1, 12, 2, 3], 6);
        GradCheck(block.forward, x);
        GradCheck(block.inverse, x);
        ParameterGradCheck(block, () => block.forward(x));
        ParameterGradCheck(block, () => block.inverse(x));
    }

    [Fact]
    public void EnhancedInvBlockForwardInverseAndItsLr()
    {
        using var gen = new Generator(7);
        using var block = Float64(new EnhancedInvBlock(12, 3, growth: 4, clamp: 1.0, gen), 8, 0.1);
        using var scope = NewDisposeScope();
        var x = Input([1, 12, 2, 3], 9);
        GradCheck(t => Both(block.ForwardWithLr(t)), x);
        GradCheck(t => Both(block.InverseWithLr(t)), x);
        Assert.Equal(0, (block.forward(x) - block.ForwardWithLr(x).Output).abs().max().ToDouble());
        Assert.Equal(0, (block.inverse(x) - block.InverseWithLr(x).Output).abs().max().ToDouble());
        ParameterGradCheck(block, () => block.forward(x));
        ParameterGradCheck(block, () => block.InverseWithLr(x).Lr);
    }

    [Fact]
    public void HaarForwardAndInverse()
    {
        using var haar = new HaarDownsampling(3).to(float64);
        using var scope = NewDisposeScope();
        GradCheck(haar.forward, Input([2, 3, 4, 6], 10));
        GradCheck(haar.inverse, Input([2, 12, 2, 3], 11));
    }

    [Fact]
    public void IrnForwardAndInverse()
    {
        using var gen = new Generator(12);
        using var net = Float64(new InvRescaleNet(new IrnOptions { Scale = 4, BlocksPerLevel = [1, 1], Growth = 4 }, gen), 13, 0.05);
        using var scope = NewDisposeScope();
        GradCheck(net.forward, Input([1, 3, 4, 4], 14));
        GradCheck(net.inverse, Input([1, 48, 1, 1], 15));
        var hr = Input([1, 3, 4, 4], 16);
        ParameterGradCheck(net, () => net.forward(hr));
    }

    [Fact]
    public void SainForwardInverseAndLrs()
    {
        using var gen = new Generator(17);
        using var net = Float64(new SainNetwork(new SainOptions { Scale = 2, EnhancedBlocks = 2, VanillaBlocks = 1, Growth = 4 }, gen), 18, 0.05);
        using var scope = NewDisposeScope();
        var hr = Input([1, 3, 4, 4], 19);
        var y = Input([1, 12, 2, 2], 20);
        GradCheck(t => Both(net.ForwardWithLr(t)), hr);
        GradCheck(t => Both(net.InverseWithLr(t)), y);
        ParameterGradCheck(net, () => net.ForwardWithLr(hr).Output);
        ParameterGradCheck(net, () => net.InverseWithLr(y).Hr);
    }

    /// <summary>
    /// TorchSharp's Module.to(dtype or device) replaces a registered parameter and disposes the old one, updating only
    /// a field whose component name matches: Haar's and the mixture's fields must follow.
    /// </summary>
    [Fact]
    public void HaarAndTheMixtureFollowModuleTo()
    {
        using var scope = NewDisposeScope();
        using var haar = new HaarDownsampling(3).to(float64);
        var x = Input([1, 3, 4, 4], 25);
        Assert.Equal(0, (haar.inverse(haar.forward(x)) - x).abs().max().ToDouble(), 12);
        using var mixture = new GaussianMixture(3).to(float64);
        using var gen = new Generator(26);
        Assert.Equal(ScalarType.Float64, mixture.Sample([4], gen).dtype);
    }

    [Fact]
    public void DifferentiableJpegEveryPixel()
    {
        // Away from the clamp at 0 and 255, where the simulator is smooth; 16×16 is one 4:2:0 macroblock.
        var jpeg = new MLNet.Rescale.Compression.DiffJpeg(60);
        using var scope = NewDisposeScope();
        GradCheck(jpeg.forward, RandD([1, 3, 16, 16], 0.3, 0.7, 21), eps: 1e-7, tol: 1e-5);
    }

    [Fact]
    public void QuantizationIsStraightThrough()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 0.2, 0.5, 1.5, -0.3, 0.0041, 0.9979 }, [6], requires_grad: true);
        var q = Quantization.Quantize(x);
        Close([51.0 / 255, 128.0 / 255, 1, 0, 1.0 / 255, 254.0 / 255], Doubles(q), 1e-12, "round(clamp(x, 0, 1)·255)/255");
        (q * tensor(new[] { 3.0, -5, 1, 2, 0.5, 7 }, [6])).sum().backward();
        // The identity gradient, even where the value was clamped.
        Assert.Equal(new[] { 3.0, -5, 1, 2, 0.5, 7 }, Doubles(x.grad!));
    }

    /// <summary>The checker itself notices a wrong gradient.</summary>
    [Fact]
    public void TheCheckerDetectsAWrongGradient()
    {
        using var s = NewDisposeScope();
        // x · detach(x) has true derivative 2x but autograd sees x: the check must fail.
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => GradCheck(x => x * x.detach(), RandD([3], 0.5, 1)));
        using var gen = new Generator(22);
        using var block = Float64(new DenseBlock(2, 2, growth: 2, gen), 23, 0.1);
        var x = Input([1, 2, 3, 3], 24);
        // A gradient that misses a factor (the parameters' effect through a detached copy) must fail too.
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => ParameterGradCheck(block, () => block.forward(x) + block.forward(x).detach()));
    }
}
