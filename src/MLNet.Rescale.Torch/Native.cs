using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MLNet.Rescale.Tensors;

/// <summary>Owns one native <c>at::Tensor*</c>; the release frees it even when a tensor is never disposed.</summary>
internal sealed class TensorHandle : SafeHandle
{
    public TensorHandle() : base(IntPtr.Zero, ownsHandle: true) { }
    public TensorHandle(IntPtr h) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(h);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle()
    {
        Native.rs_free(handle);
        return true;
    }
}

/// <summary>The C ABI of <c>libmlnet_rescale_native.so</c> (see src/MLNet.Rescale.Native).</summary>
internal static partial class Native
{
    private const string Lib = "mlnet_rescale_native";

    // Codes shared with the native switch statements.
    internal enum Unary { Neg, Exp, Log, Sigmoid, Tanh, Sqrt, Abs, Sin, Cos, Round, Relu, Floor, Sign, Square, IsFinite, Rsqrt }
    internal enum Binary { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Gt, Lt, RSub, Copy, Fill }
    internal enum Reduction { Sum, Mean, Max, Min }

    // A library-level initializer is intended here: the resolver must be in place before the
    // first P/Invoke, whichever public type a caller touches first.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterResolver()
    {
        // The native library is copied next to the assemblies by the build; look there first
        // so that neither LD_LIBRARY_PATH nor the working directory matters.
        NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, static (name, assembly, path) =>
        {
            if (name != Lib) return IntPtr.Zero;
            PreferPassiveOpenMpThreads();
            foreach (var dir in new[] { Path.GetDirectoryName(assembly.Location), AppContext.BaseDirectory })
            {
                if (string.IsNullOrEmpty(dir)) continue;
                var candidate = Path.Combine(dir, "lib" + Lib + ".so");
                if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out var h)) return h;
            }
            return IntPtr.Zero;
        });
    }

    // libtorch's OpenMP threads spin while they wait for work by default. On a machine shared with other
    // processes (a service, a training run beside a build) a spinning thread whose partner is descheduled
    // stalls every parallel region: we measured a training step 5x slower under load. libgomp reads the
    // policy once, when libtorch loads, so set it (unless the user chose one) before loading it: through libc,
    // because .NET keeps its own copy of the environment that native code does not see.
    private static void PreferPassiveOpenMpThreads()
    {
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
            setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    static Native()
    {
        // See rs_keep_freed_memory: the allocator keeps freed tensor memory for reuse instead of unmapping it
        // (IRN ×4 forward 3.1 s → 2.3 s on 512²). MLNET_RESCALE_MALLOC=system keeps glibc's defaults.
        if (Environment.GetEnvironmentVariable("MLNET_RESCALE_MALLOC") != "system") rs_keep_freed_memory();
    }

    [LibraryImport(Lib)] internal static partial void rs_keep_freed_memory();

    /// <summary>Wraps a returned handle, turning a null result into the native error message.</summary>
    internal static TensorHandle Check(IntPtr h)
    {
        if (h == IntPtr.Zero) throw new TorchException(LastError());
        return new TensorHandle(h);
    }

    internal static void Check(int status)
    {
        if (status != 0) throw new TorchException(LastError());
    }

    internal static string LastError() => Marshal.PtrToStringUTF8(rs_last_error()) ?? "unknown native error";

    [LibraryImport(Lib)] internal static partial IntPtr rs_last_error();
    [LibraryImport(Lib)] internal static partial long rs_live_handles();
    [LibraryImport(Lib)] internal static partial void rs_free(IntPtr t);

    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_from_data(void* data, long* shape, int ndim, int dtype, int device);
    [LibraryImport(Lib)] internal static unsafe partial int rs_copy_to(TensorHandle t, void* dst, long nbytes);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_full(long* shape, int ndim, double value, int dtype, int device);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_empty(long* shape, int ndim, int dtype, int device);
    [LibraryImport(Lib)] internal static partial IntPtr rs_arange(double start, double end, double step, int dtype, int device);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_random(int kind, long* shape, int ndim, double low, double high, IntPtr gen, int dtype, int device);

    [LibraryImport(Lib)] internal static partial int rs_ndim(TensorHandle t);
    [LibraryImport(Lib)] internal static unsafe partial int rs_shape(TensorHandle t, long* dst, int capacity);
    [LibraryImport(Lib)] internal static partial int rs_dtype(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int rs_device(TensorHandle t);
    [LibraryImport(Lib)] internal static partial long rs_numel(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int rs_item(TensorHandle t, out double value);
    [LibraryImport(Lib)] internal static partial IntPtr rs_to(TensorHandle t, int dtype, int device);
    [LibraryImport(Lib)] internal static partial IntPtr rs_clone(TensorHandle t);
    [LibraryImport(Lib)] internal static partial IntPtr rs_alias(TensorHandle t);

    [LibraryImport(Lib)] internal static partial int rs_requires_grad(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int rs_set_requires_grad(TensorHandle t, int on);
    [LibraryImport(Lib)] internal static partial int rs_is_leaf(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int rs_backward(TensorHandle t, IntPtr grad, int retainGraph);
    [LibraryImport(Lib)] internal static partial IntPtr rs_grad(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int rs_zero_grad(TensorHandle t);
    [LibraryImport(Lib)] internal static partial IntPtr rs_detach(TensorHandle t);
    [LibraryImport(Lib)] internal static partial int rs_grad_enabled();
    [LibraryImport(Lib)] internal static partial void rs_set_grad_enabled(int on);
    [LibraryImport(Lib)] internal static partial IntPtr rs_inference_mode_enter();
    [LibraryImport(Lib)] internal static partial void rs_inference_mode_exit(IntPtr guard);

    [LibraryImport(Lib)] internal static partial IntPtr rs_generator_new(ulong seed);
    [LibraryImport(Lib)] internal static partial void rs_generator_free(IntPtr g);
    [LibraryImport(Lib)] internal static partial IntPtr rs_generator_get_state(IntPtr g);
    [LibraryImport(Lib)] internal static partial int rs_generator_set_state(IntPtr g, TensorHandle state);
    [LibraryImport(Lib)] internal static partial void rs_manual_seed(ulong seed);
    [LibraryImport(Lib)] internal static partial void rs_set_num_threads(int n);
    [LibraryImport(Lib)] internal static partial int rs_get_num_threads();
    [LibraryImport(Lib)] internal static partial int rs_cuda_available();

    [LibraryImport(Lib)] internal static partial IntPtr rs_unary(TensorHandle x, int op);
    [LibraryImport(Lib)] internal static partial IntPtr rs_binary(TensorHandle a, TensorHandle b, int op);
    [LibraryImport(Lib)] internal static partial IntPtr rs_binary_scalar(TensorHandle a, double s, int op);
    [LibraryImport(Lib)] internal static partial int rs_binary_(TensorHandle a, TensorHandle b, int op, double alpha);
    [LibraryImport(Lib)] internal static partial int rs_binary_scalar_(TensorHandle a, double s, int op);
    [LibraryImport(Lib)] internal static partial IntPtr rs_clamp(TensorHandle x, double lo, double hi, int hasLo, int hasHi);
    [LibraryImport(Lib)] internal static partial IntPtr rs_leaky_relu(TensorHandle x, double slope);
    [LibraryImport(Lib)] internal static partial IntPtr rs_where(TensorHandle c, TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_reduce(TensorHandle x, int op, long* dims, int ndims, int keepdim);
    [LibraryImport(Lib)] internal static partial IntPtr rs_argmax(TensorHandle x, long dim, int keepdim);
    [LibraryImport(Lib)] internal static partial IntPtr rs_one_hot(TensorHandle x, long classes);
    [LibraryImport(Lib)] internal static partial IntPtr rs_softmax(TensorHandle x, long dim, int log);
    [LibraryImport(Lib)] internal static partial IntPtr rs_norm(TensorHandle x, double p);

    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_reshape(TensorHandle x, long* shape, int n);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_view(TensorHandle x, long* shape, int n);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_expand(TensorHandle x, long* shape, int n);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_permute(TensorHandle x, long* order, int n);
    [LibraryImport(Lib)] internal static partial IntPtr rs_transpose(TensorHandle x, long a, long b);
    [LibraryImport(Lib)] internal static partial IntPtr rs_contiguous(TensorHandle x);
    [LibraryImport(Lib)] internal static partial IntPtr rs_to_memory_format(TensorHandle x, int format);
    [LibraryImport(Lib)] internal static partial int rs_is_contiguous(TensorHandle x, int format);
    [LibraryImport(Lib)] internal static partial IntPtr rs_slice(TensorHandle x, long dim, long start, long end, long step);
    [LibraryImport(Lib)] internal static partial IntPtr rs_narrow(TensorHandle x, long dim, long start, long length);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_flip(TensorHandle x, long* dims, int n);
    [LibraryImport(Lib)] internal static partial IntPtr rs_rot90(TensorHandle x, long k, long d0, long d1);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_cat(IntPtr* tensors, int n, long dim);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_stack(IntPtr* tensors, int n, long dim);
    [LibraryImport(Lib)] internal static partial IntPtr rs_matmul(TensorHandle a, TensorHandle b);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_tensordot(TensorHandle a, TensorHandle b, long* da, long* db, int n);

    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_conv2d(TensorHandle x, TensorHandle w, IntPtr b, long* stride, long* padding, long* dilation, long groups);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_conv_transpose2d(TensorHandle x, TensorHandle w, IntPtr b, long* stride, long* padding, long* outputPadding, long groups, long* dilation);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_avg_pool2d(TensorHandle x, long* kernel, long* stride, long* padding);
    [LibraryImport(Lib)] internal static partial IntPtr rs_interpolate(TensorHandle x, long outH, long outW, int mode, int alignCorners);
    [LibraryImport(Lib)] internal static partial IntPtr rs_pixel_shuffle(TensorHandle x, long factor, int inverse);
    [LibraryImport(Lib)] internal static unsafe partial IntPtr rs_pad2d(TensorHandle x, long* pads, int mode, double value);
    [LibraryImport(Lib)] internal static partial int rs_adam_step(TensorHandle p, TensorHandle m, TensorHandle v, long step, double lr, double b1, double b2, double eps, double wd);
    [LibraryImport(Lib)] internal static unsafe partial int rs_clip_grad_norm(IntPtr* ps, int n, double maxNorm, out double total);
}

/// <summary>An error reported by libtorch, carrying its message.</summary>
public sealed class TorchException : Exception
{
    /// <summary>Creates the exception with libtorch's message.</summary>
    public TorchException(string message) : base(message) { }
}
