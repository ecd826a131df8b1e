using System.Collections.Concurrent;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.Engine;

/// <summary>How a convolution's input and output are laid out in memory.</summary>
public enum ConvolutionLayout
{
    /// <summary>NCHW, PyTorch's default.</summary>
    ChannelsFirst,
    /// <summary>NHWC strides (PyTorch's channels_last) on an NCHW-shaped tensor.</summary>
    ChannelsLast,
}

/// <summary>One convolution the networks run: 2-D, square kernel, on float32.</summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="OutChannels">Output channels (of the forward convolution; for a transposed one, of its result).</param>
/// <param name="Kernel">Kernel side.</param>
/// <param name="Stride">Stride.</param>
/// <param name="Padding">Zero padding on every side.</param>
/// <param name="Groups">Groups.</param>
/// <param name="Transposed">A transposed convolution (Haar's inverse).</param>
public readonly record struct ConvolutionShape(int InChannels, int OutChannels, int Kernel, int Stride = 1, int Padding = 0, int Groups = 1, bool Transposed = false)
{
    /// <inheritdoc/>
    public override string ToString() => FormattableString.Invariant(
        $"{(Transposed ? "transposed " : "")}{Kernel}×{Kernel} convolution {InChannels} → {OutChannels} channels (stride {Stride}, padding {Padding}, groups {Groups})");
}

/// <summary>
/// Checks that this machine's libtorch computes a convolution right before a network trusts it: forward and both
/// gradients of a small float32 case against the same case in float64. Newer oneDNN picks its kernels from what the
/// CPU reports, and on some virtual machines libtorch 2.10's NCHW convolutions have been seen to return wrong values
/// (or NaN) for channel counts that are not multiples of 16, silently. A wrong convolution makes a wrong image that
/// looks plausible, so the networks call <see cref="Require"/> for each of their shapes when they are built: once
/// per shape and layout per process (about a millisecond each), and a failure is an exception naming the shape
/// and the libtorch version.
/// </summary>
public static class ConvolutionCheck
{
    /// <summary>Largest difference from float64 allowed, relative to the largest float64 value (float32 errors are ~1e-6).</summary>
    public const double Tolerance = 1e-3;

    private static readonly ConcurrentDictionary<(ConvolutionShape, ConvolutionLayout), bool> verified = new();

    // One measurement at a time in the process. On an AMD Zen 5 VM (2026-12-07) two threads measuring new shapes at
    // once made libtorch 2.10 return garbage gradients (up to 5e34 off) or crash the process with SIGSEGV, while the
    // same measurements one after another were right every time; two networks built on two threads (parallel tests,
    // a DI pool warming up) would then refuse to start, or kill the host.
    private static readonly Lock measuring = new();

    /// <summary>Throws unless libtorch computes <paramref name="shape"/> in <paramref name="layout"/> right on the CPU.</summary>
    /// <exception cref="InvalidOperationException">It does not; the message names the shape, layout and libtorch version.</exception>
    public static void Require(ConvolutionShape shape, ConvolutionLayout layout)
    {
        if (verified.ContainsKey((shape, layout))) return;
        var error = Measure(shape, layout);
        if (!(error.Worst <= Tolerance))
            throw new InvalidOperationException(FormattableString.Invariant(
                $"libtorch {TorchRuntime.LibTorchVersion} computes the {shape} wrong on this machine ({Describe(layout)}, {error.Where}: largest difference from float64 {error.Worst:G3} of the largest value, allowed {Tolerance:G1}). Refusing to run rather than return a wrong image; see the README (Engine) for the machines this has been seen on."));
        verified[(shape, layout)] = true;
    }

    /// <summary>The relative error of forward output, input gradient and weight gradient, and which was worst.</summary>
    public static (double Worst, string Where) Measure(ConvolutionShape shape, ConvolutionLayout layout, int size = 10, int batch = 2)
    {
        lock (measuring) return MeasureAlone(shape, layout, size, batch);
    }

    private static (double Worst, string Where) MeasureAlone(ConvolutionShape shape, ConvolutionLayout layout, int size, int batch)
    {
        TorchRuntime.EnsureStarted();
        using var scope = NewDisposeScope();
        using var enable = enable_grad();
        using var generator = new Generator(0x5eed);
        int cin = shape.InChannels, cout = shape.OutChannels, g = shape.Groups, k = shape.Kernel;
        long[] weightShape = shape.Transposed ? [cin, cout / g, k, k] : [cout, cin / g, k, k];
        var x64 = randn([batch, cin, size, size], float64, generator: generator);
        var w64 = randn(weightShape, float64, generator: generator) / Scalars.S(Math.Sqrt(cin / g * k * k));
        var b64 = randn([cout], float64, generator: generator);
        var (y64, gx64, gw64) = Run(shape, x64, w64, b64, ConvolutionLayout.ChannelsFirst);
        var (y32, gx32, gw32) = Run(shape, x64.to(float32), w64.to(float32), b64.to(float32), layout);
        var errors = new (string, double)[] { ("forward", Relative(y32, y64)), ("input gradient", Relative(gx32, gx64)), ("weight gradient", Relative(gw32, gw64)) };
        var worst = errors.OrderByDescending(e => double.IsNaN(e.Item2) ? double.PositiveInfinity : e.Item2).First();
        return (worst.Item2, worst.Item1);
    }

    private static (Tensor Y, Tensor GradX, Tensor GradW) Run(ConvolutionShape s, Tensor x, Tensor w, Tensor b, ConvolutionLayout layout)
    {
        x = Layouts.Convert(x, layout).detach().requires_grad_(true);
        w = w.detach().requires_grad_(true);
        var y = s.Transposed
            ? nn.functional.conv_transpose2d(x, w, b, strides: [s.Stride, s.Stride], padding: [s.Padding, s.Padding], groups: s.Groups)
            : nn.functional.conv2d(x, w, b, strides: [s.Stride, s.Stride], padding: [s.Padding, s.Padding], groups: s.Groups);
        // A fixed, non-uniform upstream gradient: cos of the element index.
        var upstream = TensorOps.Range(y.numel(), float64).cos().reshape(y.shape).to(y.dtype);
        (y * upstream).sum().backward();
        return (y.detach().to(float64), x.grad!.to(float64), w.grad!.to(float64));
    }

    private static double Relative(Tensor a, Tensor reference)
    {
        double scale = Math.Max(1e-12, reference.abs().max().item<double>());
        return (a - reference).abs().max().item<double>() / scale;
    }

    private static string Describe(ConvolutionLayout layout) => layout == ConvolutionLayout.ChannelsLast ? "channels-last" : "NCHW";
}

/// <summary>Memory layouts of NCHW tensors.</summary>
internal static class Layouts
{
    /// <summary>
    /// The same values with NHWC strides (PyTorch's <c>x.contiguous(memory_format=torch.channels_last)</c>, which
    /// TorchSharp 0.107 does not offer), or NCHW-contiguous ones.
    /// </summary>
    public static Tensor Convert(Tensor x, ConvolutionLayout layout) => layout == ConvolutionLayout.ChannelsLast
        ? x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
        : x.contiguous();
}
