using MLNet.Rescale.Tensors;
using Xunit;
using Xunit.Sdk;

namespace MLNet.Rescale.Tensors.Tests;

/// <summary>Assertions and a float64 finite-difference gradient checker shared by the tests.</summary>
internal static class TestUtil
{
    public static Tensor F(float[] data, params long[] shape) => Tensor.From<float>(data, shape);
    public static Tensor D(double[] data, params long[] shape) => Tensor.From<double>(data, shape);

    public static float[] Floats(Tensor t) => t.DType == DType.Float32 ? t.ToArray<float>() : Convert(t);

    private static float[] Convert(Tensor t)
    {
        using var s = Torch.NewScope();
        return t.To(DType.Float32).ToArray<float>();
    }

    public static void Close(IReadOnlyList<double> expected, IReadOnlyList<double> actual, double tol = 1e-6, string? what = null)
    {
        if (expected.Count != actual.Count)
            throw new XunitException($"{what}: expected {expected.Count} values, got {actual.Count}");
        for (int i = 0; i < expected.Count; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (double.IsInfinity(e) && e == a) continue;
            if (!(Math.Abs(e - a) <= tol * Math.Max(1, Math.Abs(e))))
                throw new XunitException($"{what} [{i}]: expected {e:R}, got {a:R} (tol {tol})\n expected: [{string.Join(", ", expected)}]\n actual:   [{string.Join(", ", actual)}]");
        }
    }

    /// <summary>Values and shape of a tensor against expectations (float32 compared at 1e-6 relative).</summary>
    public static void Equal(Tensor t, long[] shape, double[] expected, double tol = 1e-6)
    {
        Assert.Equal(shape, t.Shape);
        Close(expected, Values(t), tol, t.ToString());
    }

    public static double[] Values(Tensor t)
    {
        using var s = Torch.NewScope();
        return t.To(DType.Float64).ToArray<double>();
    }

    /// <summary>
    /// Compares autograd's gradient of sum(f(x)·w) (w fixed random) with central differences in float64.
    /// </summary>
    public static void GradCheck(Func<Tensor, Tensor> f, Tensor x, double eps = 1e-6, double tol = 1e-6, ulong seed = 7)
    {
        using var scope = Torch.NewScope();
        Assert.Equal(DType.Float64, x.DType);
        var shape = x.Shape;
        var x0 = x.ToArray<double>();
        Tensor w;
        double[] analytic;
        using (var g = new Generator(seed))
        {
            var leaf = Tensor.From<double>(x0, shape).RequiresGrad_();
            var y = f(leaf);
            Assert.True(y.RequiresGrad, "output does not require grad");
            w = Tensor.Randn(y.Shape, g, DType.Float64);
            (y * w).Sum().Backward();
            var grad = leaf.Grad ?? throw new XunitException("no gradient");
            Assert.Equal(shape, grad.Shape);
            analytic = grad.ToArray<double>();
        }
        double L(double[] v)
        {
            using var s = Torch.NewScope();
            using var ng = Torch.NoGrad();
            return (f(Tensor.From<double>(v, shape)) * w).Sum().Item();
        }
        var numeric = new double[x0.Length];
        var v = (double[])x0.Clone();
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = x0[i] + eps;
            double plus = L(v);
            v[i] = x0[i] - eps;
            double minus = L(v);
            v[i] = x0[i];
            numeric[i] = (plus - minus) / (2 * eps);
        }
        Close(numeric, analytic, tol, "gradient (numeric expected vs autograd)");
    }

    /// <summary>A float64 tensor of reproducible values in [lo, hi).</summary>
    public static Tensor RandD(long[] shape, double lo = -1, double hi = 1, ulong seed = 1)
    {
        using var g = new Generator(seed);
        return Tensor.Uniform(shape, lo, hi, g, DType.Float64);
    }

    /// <summary>Resident set size of this process in bytes (Linux).</summary>
    public static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException("no VmRSS in /proc/self/status");
    }

    public static void FullGc()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}

/// <summary>Tests that read the process-wide live-tensor count or resident memory run alone.</summary>
[CollectionDefinition("Serial", DisableParallelization = true)]
public sealed class SerialCollection { }
