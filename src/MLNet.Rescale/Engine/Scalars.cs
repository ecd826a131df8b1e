using System.Collections.Concurrent;
using TorchSharp;

namespace MLNet.Rescale.Engine;

/// <summary>
/// Numbers for tensor operations, as TorchSharp <see cref="Scalar"/>s that live as long as the process.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 turns a number passed to a tensor operation (<c>x * 255</c>, <c>clamp(0, 1)</c>,
/// <c>leaky_relu(0.2)</c>) into a temporary <see cref="Scalar"/> that holds a raw native pointer and frees it in its
/// finalizer; nothing keeps the temporary alive during the native call, so a garbage collection on another thread
/// (the background GC, or any thread of a multi-threaded host) can free it while libtorch is still reading it —
/// seen here as "Expected false to be true … Scalar.h" or "Unknown scalar type" after thousands of calls in the soak
/// test (dotnet/TorchSharp #1434 and #1496 concern the same temporaries). TorchSharp makes such temporaries inside
/// some calls too: <c>a + b</c> on two tensors is <c>add(b, 1)</c>, <c>square()</c> is <c>pow(2)</c>, its Adam's
/// step converts its coefficients. Our code passes numbers through <see cref="S"/>, which returns one cached
/// <see cref="Scalar"/> per value, never collected (the set of values is small and fixed by the code and the
/// options), or <see cref="Owned"/> for a value that changes every call; <see cref="TensorOps"/> and
/// <see cref="SafeAdam"/> replace the TorchSharp shorthands that make temporaries. The tests read the compiled IL of
/// every assembly of ours and fail on any call that still makes one (TemporaryScalarAudit).
/// </remarks>
internal static class Scalars
{
    private static readonly ConcurrentDictionary<double, Scalar> cache = new();

    /// <summary>The process-lifetime scalar of <paramref name="value"/> (a double, as TorchSharp's own conversion).</summary>
    public static Scalar S(double value) => cache.GetOrAdd(value, static v => v.ToScalar());

    /// <summary>
    /// A new Scalar for a value that changes from call to call (so is not worth caching); the caller owns it and
    /// holds it with a <c>using</c> declaration, which keeps it alive until after the tensor operations that read it.
    /// </summary>
    public static Scalar Owned(double value) => value.ToScalar();
}
