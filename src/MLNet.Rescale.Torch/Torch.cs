namespace MLNet.Rescale.Tensors;

/// <summary>Entry points: scopes, gradient modes, threads and global settings.</summary>
public static class Torch
{
    /// <summary>The device new tensors and modules go to when none is given.</summary>
    public static Device DefaultDevice { get; set; } = Device.Cpu;

    /// <summary>Opens a dispose scope on this thread: <c>using var scope = Torch.NewScope();</c></summary>
    public static DisposeScope NewScope() => new();

    /// <summary>Disables gradient recording on this thread until disposed.</summary>
    public static IDisposable NoGrad() => new GradModeScope(false);

    /// <summary>Enables gradient recording on this thread until disposed (inside a NoGrad block).</summary>
    public static IDisposable EnableGrad() => new GradModeScope(true);

    /// <summary>libtorch's inference mode: no autograd bookkeeping at all; tensors made inside can never require grad.</summary>
    public static IDisposable InferenceMode() => new InferenceModeScope();

    /// <summary>Whether gradients are recorded on this thread.</summary>
    public static bool IsGradEnabled => Native.rs_grad_enabled() != 0;

    /// <summary>Intra-op threads libtorch uses.</summary>
    public static int NumThreads
    {
        get => Native.rs_get_num_threads();
        set => Native.rs_set_num_threads(value);
    }

    /// <summary>Seeds libtorch's default generator.</summary>
    public static void ManualSeed(ulong seed) => Native.rs_manual_seed(seed);

    /// <summary>Native tensors currently alive (all threads); for leak checks.</summary>
    public static long LiveTensors => Native.rs_live_handles();

    /// <summary>Whether a CUDA device is usable.</summary>
    public static bool CudaAvailable => Native.rs_cuda_available() != 0;

    private sealed class GradModeScope : IDisposable
    {
        private readonly bool previous;
        private bool disposed;

        public GradModeScope(bool enabled)
        {
            previous = IsGradEnabled;
            Native.rs_set_grad_enabled(enabled ? 1 : 0);
        }

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            Native.rs_set_grad_enabled(previous ? 1 : 0);
        }
    }

    private sealed class InferenceModeScope : IDisposable
    {
        private IntPtr guard;

        public InferenceModeScope()
        {
            guard = Native.rs_inference_mode_enter();
            if (guard == IntPtr.Zero) throw new TorchException(Native.LastError());
        }

        public void Dispose()
        {
            if (guard != IntPtr.Zero) Native.rs_inference_mode_exit(guard);
            guard = IntPtr.Zero;
        }
    }
}
