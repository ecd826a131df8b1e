using System.Runtime.InteropServices;
using TorchSharp;

namespace MLNet.Rescale.Engine;

/// <summary>
/// Starts TorchSharp once per process the way the networks need it: libtorch loaded (with one clear error when it
/// cannot be), glibc's allocator told to keep freed tensor memory for reuse, and the convolutions checked before
/// anything trusts them (<see cref="ConvolutionCheck"/>). Every network constructor calls <see cref="EnsureStarted"/>;
/// a user's own TorchSharp code that runs first is fine too.
/// </summary>
public static partial class TorchRuntime
{
    private static readonly Lazy<string> started = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The libtorch version TorchSharp runs on (e.g. "2.10.0").</summary>
    public static string LibTorchVersion => EnsureStarted();

    /// <summary>
    /// Starts libtorch and returns <paramref name="moduleName"/>: for module constructors, whose base (TorchSharp's
    /// <c>nn.Module</c>) calls into libtorch before their own body runs.
    /// </summary>
    internal static string Started(string moduleName)
    {
        EnsureStarted();
        return moduleName;
    }

    /// <summary>Loads libtorch (once); returns its version.</summary>
    /// <exception cref="InvalidOperationException">libtorch or TorchSharp's native glue cannot be loaded; the message says why and what to do.</exception>
    public static string EnsureStarted() => started.Value;

    private static string Start()
    {
        KeepFreedMemory();
        GlueAtRuntime.PrepareIfNeeded();
        // Without any libtorch, TorchSharp would print a page of its search trace before throwing: say it in one line.
        if (NativeLoadFailure.LibTorchMissing())
            throw new InvalidOperationException(NativeLoadFailure.MissingLibTorch("no libtorch_cpu beside the application or on the library path"));
        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
        }
        catch (Exception e) when (e is NotSupportedException or TypeInitializationException or DllNotFoundException or ExternalException)
        {
            throw new InvalidOperationException(NativeLoadFailure.Explain(e), e);
        }
        NnpackSwitch.TurnOff();
        return torch.__version__;
    }

    /// <summary>
    /// Whether libtorch may hand convolutions to NNPACK (null: this libtorch does not export the switch). False once
    /// started: see <see cref="NnpackSwitch"/>.
    /// </summary>
    public static bool? NnpackEnabled
    {
        get
        {
            EnsureStarted();
            return NnpackSwitch.Read();
        }
    }

    /// <summary>
    /// glibc returns large freed blocks to the system at once (mmap/munmap, heap trimming); a network frees and
    /// reallocates the same hundreds of megabytes every forward pass, so each pass would pay for fresh zeroed pages.
    /// Keeping them in the heap is worth 1.8× on inference here. <c>MLNET_RESCALE_MALLOC=system</c> leaves glibc's
    /// defaults (to compare, or where memory must go back to the system between calls).
    /// </summary>
    private static void KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MLNET_RESCALE_MALLOC") == "system") return;
        try
        {
            const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_MAX = -4;
            mallopt(M_MMAP_MAX, 0);
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
            mallopt(M_TOP_PAD, 64 << 20);
        }
        catch (DllNotFoundException) { } // not glibc (musl): its defaults stay
        catch (EntryPointNotFoundException) { }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}

/// <summary>
/// libtorch hands NCHW float32 convolutions with a batch of 16 or more to NNPACK when it can. Where NNPACK does not
/// know the CPU (AMD Zen 5 here) its initialization fails and libtorch prints "Could not initialize NNPACK! Reason:
/// Unsupported hardware." two dozen times into every training run; where it does know it, the batch-16 training
/// convolutions (Haar's) would run on a kernel other than the oneDNN one <see cref="ConvolutionCheck"/> verified
/// (at batch 2). So the engine switches NNPACK off, as PyTorch's <c>torch.backends.nnpack.set_flags(False)</c> does:
/// <c>at::globalContext().setUserEnabledNNPACK(false)</c>, which libtorch consults before trying NNPACK. TorchSharp
/// 0.107 has no binding for it, so the two exported C++ functions are called directly (Itanium ABI: the context is
/// the first argument); a libtorch without them is left as it is.
/// </summary>
internal static class NnpackSwitch
{
    private const string GlobalContext = "_ZN2at13globalContextEv";               // at::globalContext()
    private const string SetEnabled = "_ZN2at7Context20setUserEnabledNNPACKEb";   // at::Context::setUserEnabledNNPACK(bool)
    private const string GetEnabled = "_ZNK2at7Context17userEnabledNNPACKEv";    // at::Context::userEnabledNNPACK() const

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ContextFn();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetFn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool GetFn(IntPtr context);

    public static void TurnOff()
    {
        if (Resolve() is not { } api || !NativeLibrary.TryGetExport(api.Library, SetEnabled, out var set)) return;
        Marshal.GetDelegateForFunctionPointer<SetFn>(set)(api.Context, false);
    }

    public static bool? Read() =>
        Resolve() is { } api && NativeLibrary.TryGetExport(api.Library, GetEnabled, out var get)
            ? Marshal.GetDelegateForFunctionPointer<GetFn>(get)(api.Context)
            : null;

    /// <summary>libtorch_cpu (already loaded by TorchSharp: opening it by its soname returns that copy) and its global context.</summary>
    private static (IntPtr Library, IntPtr Context)? Resolve()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libtorch_cpu.so", out var library)) return null;
        if (!NativeLibrary.TryGetExport(library, GlobalContext, out var context)) return null;
        return (library, Marshal.GetDelegateForFunctionPointer<ContextFn>(context)());
    }
}

/// <summary>Turns TorchSharp's failure to load its natives into what happened and what to do.</summary>
internal static class NativeLoadFailure
{
    public static string Explain(Exception e)
    {
        // TorchSharp's own message lists every path it tried, over many lines: its first line is kept.
        string inner = e.GetBaseException().Message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        string? glue = FindNative("libLibTorchSharp.so");
        string? libstdcxx = TorchSharpGluePatch.SystemLibStdCxx();
        if (OperatingSystem.IsLinux() && FindNative("libtorch_cpu.so") is null) return MissingLibTorch("TorchSharp said: " + inner);
        if (OperatingSystem.IsLinux() && glue is not null && libstdcxx is not null && GlueNeedsPatch(glue, libstdcxx))
        {
            return $"TorchSharp cannot load its native glue {glue}: it needs GLIBCXX_3.4.32 (GCC 13's libstdc++) and this system's "
                 + $"{libstdcxx} is older (Debian 12, Ubuntu 22.04). The MLNet.Rescale package's build step makes the copy in a build or "
                 + "publish folder loadable: build the application with dotnet build or dotnet publish (not by copying files from another "
                 + $"machine), or install a libstdc++ from GCC 13 or newer. TorchSharp said: {inner}";
        }
        return "TorchSharp could not load libtorch: the application must reference one libtorch package for its platform "
             + "(dotnet add package libtorch-cpu-linux-x64 --version 2.10.0 on Linux x64, or a CUDA one). TorchSharp said: " + inner;
    }

    /// <summary>
    /// On Linux, in a built application (TorchSharp.dll beside it): no libtorch_cpu.so beside it nor on the library
    /// path. (A notebook or script loads TorchSharp from the NuGet cache, where TorchSharp finds its natives itself.)
    /// </summary>
    public static bool LibTorchMissing() =>
        OperatingSystem.IsLinux() && File.Exists(Path.Combine(AppContext.BaseDirectory, "TorchSharp.dll"))
        && FindNative("libtorch_cpu.so") is null && !NativeLibrary.TryLoad("libtorch_cpu.so", out _);

    public static string MissingLibTorch(string detail) =>
        "TorchSharp could not load libtorch: add the libtorch package for this platform to the application "
        + $"(dotnet add package libtorch-cpu-linux-x64 --version 2.10.0 on Linux x64, or a CUDA one); {detail}";

    // Where TorchSharp looks first: beside the application, or under its runtimes/linux-x64/native.
    private static string? FindNative(string file)
    {
        string baseDir = AppContext.BaseDirectory;
        foreach (var p in new[] { Path.Combine(baseDir, file), Path.Combine(baseDir, "runtimes", "linux-x64", "native", file) })
            if (File.Exists(p)) return p;
        return null;
    }

    // The same ELF reading as the build step (eng/TorchSharpGlue.cs): a copy already patched is not misreported.
    private static bool GlueNeedsPatch(string glue, string libstdcxx)
    {
        try { return TorchSharpGluePatch.NeedsPatch(glue, TorchSharpGluePatch.DefinedVersions(libstdcxx)); }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException) { return false; }
    }
}
