using TorchSharp;
using static MLNet.Rescale.Engine.Scalars;
using static TorchSharp.torch;

namespace MLNet.Rescale.Engine;

/// <summary>
/// The tensor arithmetic whose TorchSharp operator or shorthand makes a temporary <see cref="Scalar"/> (see
/// <see cref="Scalars"/>): <c>a + b</c> is <c>add(b, 1)</c>, <c>square()</c> is <c>pow(2)</c>, <c>ToDouble()</c>
/// reads through a Scalar. These give the same numbers through the overloads that take our cached Scalars. The
/// tests read the compiled engine and fail on any call that still makes a temporary (TemporaryScalarTests).
/// </summary>
internal static class TensorOps
{
    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, S(1));

    /// <summary><c>a + value</c>.</summary>
    public static Tensor Plus(this Tensor a, double value) => a.add(S(value), S(1));

    /// <summary><c>value − a</c>.</summary>
    public static Tensor SubtractedFrom(this Tensor a, double value) => a.neg().add(S(value), S(1));

    /// <summary><c>a²</c> element-wise (what <c>square()</c> computes).</summary>
    public static Tensor Squared(this Tensor a) => a.pow(S(2));

    /// <summary>The value of a one-element tensor, as a double (exact for float32 and float64).</summary>
    public static double Value(this Tensor t)
    {
        using var cpu = t.to(ScalarType.Float64, CPU);
        return cpu.item<double>();
    }

    /// <summary><c>arange(0, count)</c> in <paramref name="dtype"/>.</summary>
    public static Tensor Range(long count, ScalarType dtype) => arange(S(0), S(count), S(1), dtype);
}
