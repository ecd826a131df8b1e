using TorchSharp;
using Xunit;
using Xunit.Sdk;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>Small TorchSharp helpers and a float64 finite-difference gradient checker shared by the tests.</summary>
internal static class TorchTestUtil
{
    /// <summary>The elements of a tensor (any layout, any floating dtype) as float32, row-major.</summary>
    public static float[] Floats(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().cpu().to(float32).contiguous().data<float>().ToArray();
    }

    /// <summary>The elements of a tensor as float64, row-major.</summary>
    public static double[] Doubles(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().cpu().to(float64).contiguous().data<double>().ToArray();
    }

    /// <summary>Reproducible values uniform in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static Tensor Uniform(long[] shape, double low, double high, Generator generator, ScalarType dtype = ScalarType.Float32) =>
        empty(shape, dtype).uniform_(low, high, generator);

    /// <summary>Overwrites a parameter's values (no gradient is recorded).</summary>
    public static void Set(Tensor parameter, Tensor value)
    {
        using var noGrad = no_grad();
        parameter.copy_(value);
    }

    /// <summary>Adds N(0, <paramref name="scale"/>²) noise to every parameter (only the trainable ones if asked).</summary>
    public static void Perturb(nn.Module module, Generator generator, double scale, bool trainableOnly = false)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (_, p) in module.named_parameters())
            if (!trainableOnly || p.requires_grad)
                p.add_(randn(p.shape, p.dtype, generator: generator) * scale);
    }

    /// <summary>A float64 tensor of reproducible values in [lo, hi).</summary>
    public static Tensor RandD(long[] shape, double lo = -1, double hi = 1, ulong seed = 1)
    {
        using var g = new Generator(seed);
        return Uniform(shape, lo, hi, g, ScalarType.Float64);
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

    /// <summary>
    /// Compares autograd's gradient of sum(f(x)·w) (w fixed random) with central differences in float64.
    /// </summary>
    public static void GradCheck(Func<Tensor, Tensor> f, Tensor x, double eps = 1e-6, double tol = 1e-6, ulong seed = 7)
    {
        using var scope = NewDisposeScope();
        Assert.Equal(ScalarType.Float64, x.dtype);
        var shape = x.shape;
        var x0 = Doubles(x);
        Tensor w;
        double[] analytic;
        using (var g = new Generator(seed))
        {
            var leaf = tensor(x0, shape).requires_grad_();
            var y = f(leaf);
            Assert.True(y.requires_grad, "output does not require grad");
            w = randn(y.shape, float64, generator: g);
            (y * w).sum().backward();
            var grad = leaf.grad ?? throw new XunitException("no gradient");
            Assert.Equal(shape, grad.shape);
            analytic = Doubles(grad);
        }
        double L(double[] v)
        {
            using var s = NewDisposeScope();
            using var ng = no_grad();
            return (f(tensor(v, shape)) * w).sum().ToDouble();
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
}
