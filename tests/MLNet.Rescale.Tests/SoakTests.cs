using System.Globalization;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tests.Shared;
using Xunit;
using Xunit.Abstractions;

namespace MLNet.Rescale.Tests;

/// <summary>Runs alone: it reads the whole process's resident memory.</summary>
[CollectionDefinition("Soak", DisableParallelization = true)]
public sealed class SoakCollection;

/// <summary>
/// A long-running service does many round trips through one network: resident memory must level off after the
/// warm-up and every native tensor must be released.
/// </summary>
[Collection("Soak")]
public class SoakTests(ITestOutputHelper output)
{
    /// <summary>Round trips of the soak; MLNET_RESCALE_SOAK_ROUNDS overrides it (the README gives the figures of a 10,000-round run).</summary>
    private static int Rounds => int.TryParse(Environment.GetEnvironmentVariable("MLNET_RESCALE_SOAK_ROUNDS"), NumberStyles.Integer,
        CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 300;

    /// <summary>Resident set size of this process in bytes (VmRSS of /proc/self/status).</summary>
    internal static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException("no VmRSS in /proc/self/status");
    }

    private static long SettledResidentBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return ResidentBytes();
    }

    [Fact]
    public void Round_trips_through_one_network_keep_memory_flat_and_release_every_tensor()
    {
        if (!OperatingSystem.IsLinux()) return;
        int rounds = Rounds, warmUp = Math.Max(50, rounds / 10);
        // Other tests' undisposed tensors are freed by finalizers: collect them first, or they vanish from the count mid-soak.
        SettledResidentBytes();
        long handlesBefore = Torch.LiveTensors;
        using var gen = new Generator(3);
        using var net = new InvRescaleNet(new IrnOptions { Scale = 2, BlocksPerLevel = [1], Growth = 2 }, gen);
        long handlesWithNetwork = Torch.LiveTensors;
        var rescaler = new Rescaler(net, new RescalerOptions { Seed = 1 });
        var hr = ImageFile.Read(TestPaths.Image("butterfly.png"));
        Assert.Equal((256, 256), (hr.Width, hr.Height));

        Image? first = null;
        long rssAfterWarmUp = 0, peak = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < rounds; i++)
        {
            var back = rescaler.Upscale(rescaler.Downscale(hr), hr.Width, hr.Height);
            first ??= back;
            if (i == warmUp - 1) rssAfterWarmUp = SettledResidentBytes();
            if (i % 100 == 0) peak = Math.Max(peak, ResidentBytes());
            // Same input, same seed: every round trip is the same computation.
            if (i % 997 == 0) Assert.Equal(first.Data, back.Data);
        }
        long rssEnd = SettledResidentBytes();
        double growth = (rssEnd - rssAfterWarmUp) / (double)rssAfterWarmUp;
        output.WriteLine($"{rounds} round trips of 256×256 in {clock.Elapsed.TotalSeconds:F1} s; VmRSS after {warmUp} warm-up rounds "
            + $"{rssAfterWarmUp / 1048576.0:F1} MiB, at the end {rssEnd / 1048576.0:F1} MiB ({growth:+0.00%;-0.00%}), peak sample {peak / 1048576.0:F1} MiB; "
            + $"live tensors {handlesWithNetwork} with the network, {Torch.LiveTensors} after");
        Assert.True(growth < 0.02, $"resident memory grew {growth:P2} after warm-up ({rssAfterWarmUp} -> {rssEnd} bytes)");
        Assert.Equal(handlesWithNetwork, Torch.LiveTensors);
        net.Dispose();
        Assert.Equal(handlesBefore, Torch.LiveTensors);
    }
}
