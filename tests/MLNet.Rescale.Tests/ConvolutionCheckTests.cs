using System.Globalization;
using MLNet.Rescale.Engine;
using MLNet.Rescale.Networks;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// Every convolution shape IRN and SAIN run at ×2 and ×4 (growth 32), measured by <see cref="ConvolutionCheck"/> in
/// both layouts, forward and backward: the layout the networks use must be within <see cref="ConvolutionCheck.Tolerance"/>
/// of float64 on this machine; the other one is only reported.
/// </summary>
public class ConvolutionCheckTests(ITestOutputHelper output)
{
    private const int Growth = 32;

    /// <summary>Channels of the couplings: 12 (×2, and ×4's first level) and 48 (×4's second level).</summary>
    private static readonly int[] CouplingChannels = [12, 48];

    /// <summary>Channels a Haar level transforms: 3 (first level), 12 (×4's second), 48 (×8's third).</summary>
    private static readonly int[] HaarChannels = [3, 12, 48];

    /// <summary>The five convolutions of a dense block from <paramref name="cin"/> to <paramref name="cout"/> channels.</summary>
    private static IEnumerable<ConvolutionShape> DenseBlockShapes(int cin, int cout) =>
        Enumerable.Range(0, 5).Select(i => new ConvolutionShape(cin + i * Growth, i < 4 ? Growth : cout, 3, Padding: 1));

    /// <summary>
    /// The dense blocks' convolutions: per coupling of C channels split 3 / C − 3, F (and SAIN's E) map C − 3 → 3
    /// and G, H map 3 → C − 3.
    /// </summary>
    private static IEnumerable<ConvolutionShape> DenseShapes() =>
        CouplingChannels.SelectMany(c => DenseBlockShapes(c - 3, 3).Concat(DenseBlockShapes(3, c - 3))).Distinct();

    /// <summary>Haar's grouped 2×2 stride-2 convolution and its transposed inverse.</summary>
    private static IEnumerable<ConvolutionShape> HaarShapes() => HaarChannels.SelectMany(c => new[]
    {
        new ConvolutionShape(c, 4 * c, 2, Stride: 2, Groups: c),
        new ConvolutionShape(4 * c, c, 2, Stride: 2, Groups: c, Transposed: true),
    });

    public static TheoryData<int, int, int, int, int, int, bool, ConvolutionLayout> NetworkShapes()
    {
        var data = new TheoryData<int, int, int, int, int, int, bool, ConvolutionLayout>();
        foreach (var s in DenseShapes()) data.Add(s.InChannels, s.OutChannels, s.Kernel, s.Stride, s.Padding, s.Groups, s.Transposed, DenseBlock.Layout);
        foreach (var s in HaarShapes()) data.Add(s.InChannels, s.OutChannels, s.Kernel, s.Stride, s.Padding, s.Groups, s.Transposed, ConvolutionLayout.ChannelsFirst);
        return data;
    }

    private static ConvolutionLayout Other(ConvolutionLayout layout) =>
        layout == ConvolutionLayout.ChannelsLast ? ConvolutionLayout.ChannelsFirst : ConvolutionLayout.ChannelsLast;

    [Theory]
    [MemberData(nameof(NetworkShapes))]
    public void The_layout_the_networks_use_is_computed_right_and_the_other_is_reported(
        int inChannels, int outChannels, int kernel, int stride, int padding, int groups, bool transposed, ConvolutionLayout used)
    {
        var shape = new ConvolutionShape(inChannels, outChannels, kernel, stride, padding, groups, transposed);
        var (worst, where) = ConvolutionCheck.Measure(shape, used);
        var (otherWorst, otherWhere) = ConvolutionCheck.Measure(shape, Other(used));
        output.WriteLine(FormattableString.Invariant($"libtorch {TorchRuntime.LibTorchVersion}, {shape}"));
        output.WriteLine(FormattableString.Invariant($"  {used} (used by the networks): worst {worst:G3} ({where})"));
        output.WriteLine(FormattableString.Invariant($"  {Other(used)} (informative): worst {otherWorst:G3} ({otherWhere}){(otherWorst <= ConvolutionCheck.Tolerance ? "" : " — above the tolerance")}"));
        Assert.True(worst <= ConvolutionCheck.Tolerance,
            FormattableString.Invariant($"{shape} in {used}: {where} differs from float64 by {worst:G3} of the largest value (tolerance {ConvolutionCheck.Tolerance:G1})"));
        // Float32 is not exact: a measurement of 0 would mean the float32 run was not measured at all.
        Assert.True(worst > 0, $"{shape}: no float32 rounding measured at all");
    }

    [Fact]
    public void The_shapes_checked_here_are_every_convolution_the_networks_contain()
    {
        var nets = new RescaleNetwork[]
        {
            new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1], Growth = Growth }),
            new InvRescaleNet(new IrnOptions { Scale = 4, BlocksPerLevel = [1, 1], Growth = Growth }),
            new SainNetwork(new SainOptions { Scale = 2, EnhancedBlocks = 1, VanillaBlocks = 1, Growth = Growth }),
            new SainNetwork(new SainOptions { Scale = 4, EnhancedBlocks = 1, VanillaBlocks = 1, Growth = Growth }),
        };
        try
        {
            var dense = new HashSet<ConvolutionShape>();
            var haar = new HashSet<ConvolutionShape>();
            foreach (var net in nets)
                foreach (var (name, module) in net.named_modules())
                {
                    if (module is Conv2d conv)
                    {
                        Assert.True(conv.stride.All(s => s == 1) && conv.padding!.All(p => p == 1) && conv.kernel_size.All(k => k == 3), name);
                        dense.Add(new ConvolutionShape((int)conv.in_channels, (int)conv.out_channels, 3, Padding: 1));
                    }
                    else if (module is HaarDownsampling h)
                    {
                        int c = (int)h.state_dict()["haar_weights"].shape[0] / 4;
                        haar.Add(new ConvolutionShape(c, 4 * c, 2, Stride: 2, Groups: c));
                        haar.Add(new ConvolutionShape(4 * c, c, 2, Stride: 2, Groups: c, Transposed: true));
                    }
                }
            Assert.Equal(DenseShapes().OrderBy(Key), dense.OrderBy(Key));
            // ×8's third level (48 channels) is checked too, beyond the ×2 and ×4 networks built here.
            Assert.Subset(HaarShapes().ToHashSet(), haar);
            Assert.Equal(4, haar.Count);
        }
        finally
        {
            foreach (var net in nets) net.Dispose();
        }
    }

    private static string Key(ConvolutionShape s) => s.ToString();

    [Fact]
    public void Require_passes_the_shapes_the_networks_use_and_remembers_them()
    {
        foreach (var s in DenseShapes()) ConvolutionCheck.Require(s, DenseBlock.Layout);
        foreach (var s in HaarShapes()) ConvolutionCheck.Require(s, ConvolutionLayout.ChannelsFirst);
        // Verified once per process: a second round measures nothing, so it takes a small part of the time measuring takes.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var s in DenseShapes()) ConvolutionCheck.Measure(s, DenseBlock.Layout);
        var measuring = clock.Elapsed;
        clock.Restart();
        foreach (var s in DenseShapes()) ConvolutionCheck.Require(s, DenseBlock.Layout);
        var cached = clock.Elapsed;
        output.WriteLine($"measuring {measuring.TotalMilliseconds:F1} ms, cached checks {cached.TotalMilliseconds:F3} ms");
        Assert.True(cached < measuring / 10, $"cached checks took {cached.TotalMilliseconds:F1} ms, measuring {measuring.TotalMilliseconds:F1} ms");
    }

    /// <summary>
    /// Require's refusal, provoked by a real setting rather than a hook: oneDNN's documented
    /// <c>ONEDNN_DEFAULT_FPMATH_MODE=BF16</c> lets it compute float32 convolutions from bfloat16-rounded operands (8-bit
    /// significands) on CPUs with bfloat16 arithmetic, about 3e-3 off float64 where float32 is ~1e-6 off. oneDNN reads
    /// the setting once per process, so the check runs in a child process (this assembly, <see cref="Program"/>).
    /// </summary>
    [FactNeedsBFloat16Cpu]
    public void Require_refuses_a_convolution_computed_wrong_naming_the_shape_and_the_libtorch_version()
    {
        var timeout = TimeSpan.FromMinutes(5);
        var (code, text) = Bf16MathMode.Child.Value;
        output.WriteLine("ONEDNN_DEFAULT_FPMATH_MODE=BF16:");
        output.WriteLine(text);
        Assert.Equal(0, code);
        var lines = Outcomes(text);
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.StartsWith("refused: ", l));
        // ConvolutionCheck.Require itself: the message names the shape, the layout and the libtorch version.
        Assert.Contains(new ConvolutionShape(9, 32, 3, Padding: 1).ToString(), lines[0]);
        Assert.Contains("channels-last", lines[0]);
        Assert.Contains(FormattableString.Invariant($"libtorch {TorchRuntime.LibTorchVersion} "), lines[0]);
        Assert.Contains("largest difference from float64", lines[0]);
        // A network refuses to be built, naming the first of its convolutions found wrong.
        Assert.Contains(FormattableString.Invariant($"libtorch {TorchRuntime.LibTorchVersion} "), lines[1]);
        Assert.Contains(DenseShapes().Concat(HaarShapes()), s => lines[1].Contains(s.ToString(), StringComparison.Ordinal));

        // The control: the same child without the setting accepts both, so the setting is what made the difference.
        var (controlCode, control) = ChildProcess.Run(["convolution-check"], new Dictionary<string, string?> { ["ONEDNN_DEFAULT_FPMATH_MODE"] = null }, timeout);
        output.WriteLine("without it:");
        output.WriteLine(control);
        Assert.Equal(0, controlCode);
        Assert.Equal(2, Outcomes(control).Count);
        Assert.All(Outcomes(control), l => Assert.StartsWith("accepted: ", l));
    }

    private static List<string> Outcomes(string text) =>
        text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("refused: ", StringComparison.Ordinal) || l.StartsWith("accepted: ", StringComparison.Ordinal)).ToList();

    [Fact]
    public void Measure_reports_the_forward_value_input_and_weight_gradients()
    {
        var (worst, where) = ConvolutionCheck.Measure(new ConvolutionShape(9, 32, 3, Padding: 1), ConvolutionLayout.ChannelsLast);
        Assert.Contains(where, new[] { "forward", "input gradient", "weight gradient" });
        Assert.InRange(worst, 0, ConvolutionCheck.Tolerance);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"9 → 32 channels-last: worst {worst:G3} ({where})"));
    }
}

/// <summary>
/// The child of <see cref="ConvolutionCheckTests"/> run under <c>ONEDNN_DEFAULT_FPMATH_MODE=BF16</c>, once per test
/// process, and whether that setting can make this machine's convolutions wrong at all.
/// </summary>
internal static class Bf16MathMode
{
    public static readonly Lazy<(int ExitCode, string Output)> Child = new(() =>
        ChildProcess.Run(["convolution-check"], new Dictionary<string, string?> { ["ONEDNN_DEFAULT_FPMATH_MODE"] = "BF16" }, TimeSpan.FromMinutes(5)));

    /// <summary>
    /// Why the refusal cannot be provoked here, or null. Without bfloat16 arithmetic the setting changes nothing. With
    /// it, oneDNN may still run a float32 kernel that ignores the setting (libtorch 2.10 on AMD Zen 5 does): the child
    /// then measures float32's own error (&lt; 1e-5). Only that case is skipped: an error above it that the check accepted
    /// is the check failing, and the test runs and says so.
    /// </summary>
    public static string? SkipReason()
    {
        if (!HasBFloat16())
            return "needs a CPU with bfloat16 arithmetic (avx512_bf16 or amx_bf16): only there does oneDNN's BF16 math mode make float32 convolutions lose precision";
        var (code, text) = Child.Value;
        var line = text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("accepted: Require: worst ", StringComparison.Ordinal));
        if (code != 0 || line is null) return null;
        var number = line["accepted: Require: worst ".Length..].Split(' ')[0];
        return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double worst) && worst < 1e-5
            ? $"this CPU has bfloat16 arithmetic, but the oneDNN kernels libtorch {TorchRuntime.LibTorchVersion} picks here ignore ONEDNN_DEFAULT_FPMATH_MODE=BF16 (the convolution stayed {worst:G3} off float64, float32's own error), so no setting makes them wrong honestly"
            : null;
    }

    private static bool HasBFloat16()
    {
        try
        {
            return OperatingSystem.IsLinux() && File.ReadLines("/proc/cpuinfo")
                .Where(l => l.StartsWith("flags", StringComparison.Ordinal))
                .Any(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is var flags && (flags.Contains("avx512_bf16") || flags.Contains("amx_bf16")));
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}

/// <summary>
/// A fact that is skipped, saying why, where oneDNN's BF16 math mode cannot make this machine's convolutions wrong
/// (<see cref="Bf16MathMode.SkipReason"/>).
/// </summary>
public sealed class FactNeedsBFloat16CpuAttribute : FactAttribute
{
    /// <summary>Skips unless the BF16 math mode takes effect here.</summary>
    public FactNeedsBFloat16CpuAttribute()
    {
        if (Bf16MathMode.SkipReason() is { } reason) Skip = reason;
    }
}
