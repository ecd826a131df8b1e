using MLNet.Rescale.Tensors;
using Xunit;
using Xunit.Abstractions;
using static MLNet.Rescale.Tensors.Tests.TestUtil;

namespace MLNet.Rescale.Tensors.Tests;

/// <summary>Native errors and disposal.</summary>
public class ErrorTests
{
    [Fact]
    public void Conv2dWithMismatchedChannelsCarriesLibtorchsMessage()
    {
        using var s = Torch.NewScope();
        var x = Tensor.Zeros([1, 2, 5, 5]);
        var w = Tensor.Zeros([4, 3, 3, 3]);
        var e = Assert.Throws<TorchException>(() => Functional.Conv2d(x, w));
        // libtorch 1.13: "Given groups=1, weight of size [4, 3, 3, 3], expected input[1, 2, 5, 5] to have 3 channels, but got 2 channels instead"
        Assert.Contains("expected input[1, 2, 5, 5] to have 3 channels", e.Message);
        Assert.Contains("but got 2 channels", e.Message);
        Assert.DoesNotContain("Exception raised from", e.Message); // no C++ backtrace
    }

    [Fact]
    public void OtherNativeErrorsCarryMessages()
    {
        using var s = Torch.NewScope();
        var e = Assert.Throws<TorchException>(() => Tensor.Zeros([2, 3]) + Tensor.Zeros([4]));
        Assert.Contains("must match the size", e.Message);
        Assert.Throws<TorchException>(() => Tensor.Zeros([2, 3]).MatMul(Tensor.Zeros([2, 3])));
        Assert.Throws<TorchException>(() => Tensor.Zeros([2]).Narrow(0, 1, 5));
        Assert.Throws<TorchException>(() => Tensor.Zeros([2]).Permute(0, 1));
        // the error channel is cleared by the next successful call
        Assert.Equal(2, (Tensor.Ones([2]) * 2).Sum().Item() / 2);
    }

    [Fact]
    public void DisposingTwiceIsFine()
    {
        var t = Tensor.Zeros([3]);
        Assert.False(t.IsDisposed);
        t.Dispose();
        t.Dispose();
        Assert.True(t.IsDisposed);
    }

    [Fact]
    public void UsingADisposedTensorThrowsObjectDisposedException()
    {
        var t = Tensor.From<float>([1, 2], [2], scoped: false);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => t.Shape);
        Assert.Throws<ObjectDisposedException>(() => t.ToArray<float>());
        Assert.Throws<ObjectDisposedException>(() => t + 1);
        Assert.Throws<ObjectDisposedException>(() => t.Exp());
        Assert.Throws<ObjectDisposedException>(() => t.RequiresGrad = true);
        Assert.Throws<ObjectDisposedException>(() => t.Grad);
        Assert.Throws<ObjectDisposedException>(() => Tensor.Cat([t, t], 0));
        using var s = Torch.NewScope();
        var ok = Tensor.Ones([2]);
        Assert.Throws<ObjectDisposedException>(() => ok * t);
        Assert.Throws<ObjectDisposedException>(() => Functional.Conv2d(ok, t));
    }

    [Fact]
    public void ScopedTensorIsDisposedWithItsScope()
    {
        Tensor t;
        using (Torch.NewScope()) t = Tensor.Ones([2]);
        Assert.True(t.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => t.Sum());
    }
}

/// <summary>Dispose scopes and leak checks. Runs alone: <see cref="Torch.LiveTensors"/> counts every thread.</summary>
[Collection("Serial")]
public class ScopeTests(ITestOutputHelper output)
{
    private static long Baseline()
    {
        FullGc();
        return Torch.LiveTensors;
    }

    [Fact]
    public void TensorsCreatedInAScopeAreDisposedWithIt()
    {
        long baseline = Baseline();
        Tensor a, b, c;
        using (var scope = Torch.NewScope())
        {
            Assert.Same(scope, DisposeScope.Current);
            a = Tensor.Ones([2, 2]);
            b = a * 3 + 1;
            c = b.Exp().Sum();
            Assert.Same(scope, a.Scope);
            Assert.Equal(5, scope.Count);
            Assert.Equal(baseline + 5, Torch.LiveTensors);
        }
        Assert.True(a.IsDisposed && b.IsDisposed && c.IsDisposed);
        Assert.Null(DisposeScope.Current);
        Assert.Equal(baseline, Torch.LiveTensors);
    }

    [Fact]
    public void MoveToOuterScopeKeepsATensorAlive()
    {
        long baseline = Baseline();
        using (var outer = Torch.NewScope())
        {
            Tensor kept, dropped;
            using (var inner = Torch.NewScope())
            {
                Assert.Same(outer, inner.Outer);
                dropped = Tensor.Ones([3]);
                kept = (dropped * 2).MoveToOuterScope();
                Assert.Same(outer, kept.Scope);
            }
            Assert.True(dropped.IsDisposed);
            Assert.False(kept.IsDisposed);
            Assert.Equal(new[] { 2f, 2, 2 }, kept.ToArray<float>());
            Assert.Same(outer, DisposeScope.Current);
            Assert.Equal(1, outer.Count);
            Assert.Equal(baseline + 1, Torch.LiveTensors);
        }
        Assert.Equal(baseline, Torch.LiveTensors);

        // out of the outermost scope: the caller owns it
        Tensor mine;
        using (Torch.NewScope()) mine = Tensor.Ones([1]).MoveToOuterScope();
        Assert.False(mine.IsDisposed);
        Assert.Null(mine.Scope);
        mine.Dispose();
        Assert.Equal(baseline, Torch.LiveTensors);
    }

    [Fact]
    public void NestedScopesAndDetachFromScope()
    {
        long baseline = Baseline();
        Tensor free;
        using (var s1 = Torch.NewScope())
        {
            var a = Tensor.Ones([1]);
            using (var s2 = Torch.NewScope())
            {
                var b = Tensor.Ones([1]);
                using (var s3 = Torch.NewScope())
                {
                    var c = (a + b).MoveToOuterScope().MoveToOuterScope(); // two levels up: s1
                    Assert.Same(s1, c.Scope);
                    free = Tensor.Zeros([1]).DetachFromScope();
                    Assert.Same(s3, DisposeScope.Current);
                }
                Assert.Same(s2, DisposeScope.Current);
                Assert.False(b.IsDisposed);
                s2.MoveToOuter(b);
                Assert.Same(s1, b.Scope);
            }
            Assert.Equal(3, s1.Count);
            Assert.False(free.IsDisposed);
        }
        Assert.False(free.IsDisposed);
        Assert.Equal(baseline + 1, Torch.LiveTensors);
        free.Dispose();
        Assert.Equal(baseline, Torch.LiveTensors);
        var scope = Torch.NewScope();
        scope.Dispose();
        scope.Dispose(); // idempotent
        Assert.Null(DisposeScope.Current);
    }

    [Fact]
    public void GradientsAndOpsInsideAScopeLeakNothing()
    {
        long baseline = Baseline();
        using (var g = new Generator(1))
        using (Torch.NewScope())
        {
            var x = Tensor.Randn([1, 2, 8, 8], g).RequiresGrad_();
            var w = Tensor.Randn([3, 2, 3, 3], g).RequiresGrad_();
            var y = Functional.GumbelSoftmax(Functional.Conv2d(x, w, padding: 1), hard: true, dim: 1, generator: g);
            (y * y).Sum().Backward();
            _ = x.Grad;
            _ = w.Grad;
            _ = g.GetState();
            Functional.StraightThrough(x, x.Round()).Dispose();
        }
        Assert.Equal(baseline, Torch.LiveTensors);
    }

    [Fact]
    public void ScopesAreThreadLocal()
    {
        using var mine = Torch.NewScope();
        DisposeScope? seen = mine;
        Tensor? made = null;
        var t = new Thread(() =>
        {
            seen = DisposeScope.Current;
            made = Tensor.Ones([1]);
        });
        t.Start();
        t.Join();
        Assert.Null(seen);
        Assert.Null(made!.Scope);
        made.Dispose();
    }

    [Fact]
    public void SoakTwentyThousandScopedIterations()
    {
        using var g = new Generator(2);
        using var w = Tensor.Randn([64, 64], g);
        void Iteration()
        {
            using var scope = Torch.NewScope();
            var x = Tensor.Rand([64, 64], g);
            var y = ((x * 2 + 1).Sigmoid().MatMul(w) - x).Abs();
            var z = Tensor.Cat([y, x], 0).Narrow(0, 10, 64).Sum([1]);
            _ = z.Mean().Item();
        }
        // A collection every 1,000 iterations keeps the managed heap at its steady state: otherwise the
        // GC's gen-0 budget (tens of MiB of short-lived wrappers before the first collection) shows up in
        // the resident size and hides what this test looks for, native memory that is never freed.
        for (int i = 1; i <= 2000; i++)
        {
            Iteration();
            if (i % 1000 == 0) GC.Collect();
        }
        FullGc();
        long baseline = Torch.LiveTensors;
        long rss0 = ResidentBytes();
        long heap0 = GC.GetTotalMemory(true);
        for (int i = 1; i <= 20000; i++)
        {
            Iteration();
            if (i % 1000 == 0) GC.Collect();
            if (i % 5000 == 0) output.WriteLine($"after {i}: RSS {ResidentBytes() / 1048576.0:F1} MiB");
        }
        FullGc();
        long rss1 = ResidentBytes();
        long heap1 = GC.GetTotalMemory(true);
        output.WriteLine($"RSS {rss0 / 1048576.0:F1} MiB -> {rss1 / 1048576.0:F1} MiB; managed heap {heap0 / 1048576.0:F2} -> {heap1 / 1048576.0:F2} MiB; live tensors {baseline} -> {Torch.LiveTensors}");
        Assert.Equal(baseline, Torch.LiveTensors);
        Assert.True(rss1 - rss0 < 20L << 20, $"resident memory grew by {(rss1 - rss0) / 1048576.0:F1} MiB");
        Assert.True(heap1 - heap0 < 2L << 20, $"managed heap grew by {(heap1 - heap0) / 1048576.0:F1} MiB after a full collection");
    }
}
