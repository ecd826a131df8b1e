using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Rescale.ML.Internals;
using MLNet.Rescale.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.ML.Rescaling;

/// <summary>
/// A component's view of the <see cref="MLContext"/> it was created from, used as ML.NET's own components use it:
/// messages go through the host's channels (so <c>mlContext.Log</c> shows them), <c>mlContext.CancelExecution()</c>
/// stops long work at the next iteration with ML.NET's <see cref="OperationCanceledException"/>, the device follows
/// <c>GpuDeviceId</c>/<c>FallbackToCpu</c> as in Microsoft.ML.TorchSharp's trainers, and the seed of every random draw
/// comes from the component's own option, else the context's seed, else 0.
/// </summary>
internal sealed class ComponentHost
{
    private readonly IHostEnvironment env;

    public ComponentHost(IHostEnvironment env, string name)
    {
        ArgumentNullException.ThrowIfNull(env);
        this.env = env;
        Host = env.Register(name);
    }

    /// <summary>The host registered for the component (its name is the <c>Source</c> of its log messages).</summary>
    public IHost Host { get; }

    /// <summary>Opens a channel of the component's host (dispose it when the work ends).</summary>
    public IChannel Start(string name) => Host.Start(name);

    /// <summary>The seed of a random draw: <paramref name="own"/>, else the context's seed, else 0 (reproducible by default).</summary>
    public ulong Seed(ulong? own) => own ?? (HostSettings.Seed(env) is int s ? unchecked((ulong)(long)s) : 0);

    /// <summary>Whether <c>CancelExecution</c> was called on the context.</summary>
    public bool IsCanceled => HostSettings.IsCanceled(env) || HostSettings.IsCanceled(Host);

    /// <summary>Throws ML.NET's <see cref="OperationCanceledException"/> once <c>CancelExecution</c> was called.</summary>
    public void CheckAlive()
    {
        if (IsCanceled) throw new OperationCanceledException("Operation was cancelled.");
    }

    /// <summary>
    /// The device the context asks for: the CPU without <c>GpuDeviceId</c>; <c>cuda:N</c> for <c>GpuDeviceId = N</c>
    /// when this libtorch has CUDA; otherwise the CPU with a warning when <c>FallbackToCpu</c>, or an error naming what
    /// brings CUDA.
    /// </summary>
    public Device Device()
    {
        // libtorch first (one clear error when it cannot load): even torch.CPU starts TorchSharp.
        Engine.TorchRuntime.EnsureStarted();
        return ResolveDevice(HostSettings.GpuDeviceId(env), HostSettings.FallbackToCpu(env), CudaAvailable, Host);
    }

    internal static Device ResolveDevice(int? gpuDeviceId, bool fallbackToCpu, Func<bool> cudaAvailable, IChannelProvider log)
    {
        if (gpuDeviceId is not int id) return CPU;
        if (id < 0) throw new ArgumentOutOfRangeException(nameof(gpuDeviceId), $"MLContext.GpuDeviceId must be a CUDA device number ≥ 0, got {id}");
        if (cudaAvailable()) return new Device(DeviceType.CUDA, id);
        string why = string.Create(CultureInfo.InvariantCulture,
            $"MLContext.GpuDeviceId is {id}, but this process's libtorch has no CUDA device (a CPU libtorch package such as libtorch-cpu-linux-x64, or no GPU visible)");
        if (!fallbackToCpu)
            throw new InvalidOperationException(why + ": reference TorchSharp-cuda-linux (or TorchSharp-cuda-windows) instead of the CPU libtorch package, or set MLContext.FallbackToCpu = true to run on the CPU");
        using var ch = log.Start("Device");
        ch.Warning(MessageSensitivity.None, why + "; running on the CPU (MLContext.FallbackToCpu is true)");
        return CPU;
    }

    /// <summary>Moves a network to <paramref name="device"/> when it is not there (networks load on the CPU).</summary>
    public static void Place(Networks.RescaleNetwork network, Device device)
    {
        if (device.type != DeviceType.CPU) network.to(device);
    }

    private static bool CudaAvailable() => cuda.is_available();
}

/// <summary>
/// Training reports for a <c>Fit</c>: each goes to the caller's progress, to the host's channel (every iteration as
/// Trace; the validations, the first iteration and every tenth of the run as Info, with the ETA), and gives the
/// caller's check (cancellation) a turn after every iteration.
/// </summary>
internal sealed class TrainingReports(IChannel channel, IProgress<TrainingProgress>? inner, Action afterEach) : IProgress<TrainingProgress>
{
    private long nextInfo;

    public void Report(TrainingProgress p)
    {
        inner?.Report(p);
        string line = FormattableString.Invariant(
            $"iteration {p.Iteration}/{p.ExpectedIterations} loss {p.Loss:0.###} ({string.Join(", ", p.Terms.Terms.Select(t => $"{t.Key} {t.Value:0.####}"))}) lr {p.LearningRate:0.##e0}{(p.ValidationPsnr is { } v ? $" validation Y-PSNR {v:0.00} dB" : "")} elapsed {p.Elapsed:hh\\:mm\\:ss} ETA {p.Remaining:hh\\:mm\\:ss}");
        if (p.ValidationPsnr is not null || p.Iteration >= nextInfo)
        {
            channel.Info(MessageSensitivity.None, line);
            nextInfo = p.Iteration + Math.Max(1, p.ExpectedIterations / 10);
        }
        else
        {
            channel.Trace(MessageSensitivity.None, line);
        }
        afterEach();
    }
}
