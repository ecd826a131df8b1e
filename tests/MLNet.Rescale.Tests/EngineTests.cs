using MLNet.Rescale.Engine;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>
/// Our helpers beside TorchSharp (Engine/StateDicts.cs): Gumbel-softmax, straight-through and Xavier initialization
/// with a generator, and loading named tensors with errors that list the names. Moved from the binding's tests,
/// where these helpers lived before.
/// </summary>
public class SamplingTests
{
    [Fact]
    public void GumbelSoftmaxSoftRowsSumToOne()
    {
        using var s = NewDisposeScope();
        using var g = new Generator(3);
        var logits = RandD([5, 7], -2, 2).to(float32);
        var y = Sampling.GumbelSoftmax(logits, tau: 0.5, generator: g);
        Assert.Equal(new long[] { 5, 7 }, y.shape);
        Assert.All(Floats(y), v => Assert.InRange(v, 0f, 1f));
        Close(Enumerable.Repeat(1.0, 5).ToArray(), Doubles(y.sum(1)), 1e-6);
    }

    [Fact]
    public void GumbelSoftmaxHardIsOneHotPerRow()
    {
        using var s = NewDisposeScope();
        using var g = new Generator(4);
        var logits = RandD([6, 5], -2, 2).to(float32).requires_grad_();
        var y = Sampling.GumbelSoftmax(logits, hard: true, generator: g);
        var v = Floats(y);
        for (int r = 0; r < 6; r++)
        {
            var row = v.Skip(r * 5).Take(5).ToArray();
            Assert.Equal(1, row.Count(x => x == 1f));
            Assert.Equal(4, row.Count(x => x == 0f));
        }
        // straight-through: the gradient is the soft sample's, not zero
        (y * arange(0, 5, float32)).sum().backward();
        Assert.Contains(Floats(logits.grad!), x => x != 0);
    }

    [Fact]
    public void GumbelSoftmaxHardAlongAnInnerDimension()
    {
        using var s = NewDisposeScope();
        using var g = new Generator(6);
        // [A, B, C] = [4, 3, 2], one-hot along dim 0 and along dim 1
        var logits = RandD([4, 3, 2], -2, 2).to(float32);
        foreach (var dim in new long[] { 0, 1, -3, -2 })
        {
            var y = Sampling.GumbelSoftmax(logits, hard: true, dim: dim, generator: g);
            Assert.Equal(logits.shape, y.shape);
            Assert.All(Floats(y.sum(dim)), v => Assert.Equal(1f, v));
            Assert.All(Floats(y), v => Assert.True(v == 0f || v == 1f));
        }
        var soft = Sampling.GumbelSoftmax(logits, dim: 0, generator: g);
        Close(Enumerable.Repeat(1.0, 6).ToArray(), Doubles(soft.sum(0L)), 1e-6);
    }

    [Fact]
    public void GumbelSoftmaxIsReproducibleWithASeed()
    {
        using var s = NewDisposeScope();
        var logits = tensor(new[] { 0.1f, 0.7f, -0.3f, 0.2f, 1.5f, 0.0f }, [2, 3]);
        float[] Draw(ulong seed, bool hard)
        {
            using var g = new Generator(seed);
            return Floats(Sampling.GumbelSoftmax(logits, 0.7, hard, generator: g));
        }
        Assert.Equal(Draw(10, false), Draw(10, false));
        Assert.Equal(Draw(10, true), Draw(10, true));
        Assert.NotEqual(Draw(10, false), Draw(11, false));
    }

    [Fact]
    public void GumbelSoftmaxFrequenciesApproachSoftmax()
    {
        using var s = NewDisposeScope();
        using var g = new Generator(77);
        double[] l = [0.5, 1.0, -1.0, 0.0];
        var logits = tensor(l.Select(v => (float)v).ToArray(), [1, 4]).expand(40000, 4).contiguous();
        var y = Sampling.GumbelSoftmax(logits, tau: 1, hard: true, generator: g);
        var freq = Doubles(y.mean([0L]));
        double z = l.Sum(Math.Exp);
        Close(l.Select(v => Math.Exp(v) / z).ToArray(), freq, 0.015, "empirical frequencies");
        // the soft samples average to... something with the same ordering as the logits
        var soft = Doubles(Sampling.GumbelSoftmax(logits, tau: 1, generator: g).mean([0L]));
        Assert.True(soft[1] > soft[0] && soft[0] > soft[3] && soft[3] > soft[2]);
    }

    [Fact]
    public void GumbelSoftmaxNeverProducesNaN()
    {
        // Rand draws exactly 0 with probability 2^-24 per float32 element; that must not become an
        // infinite Gumbel sample (and a NaN softmax). Find a chunk of the stream that holds a 0, then
        // replay that chunk through GumbelSoftmax.
        using var g = new Generator(0);
        const int chunk = 1 << 20;
        byte[]? before = null;
        for (int i = 0; i < 1000 && before is null; i++)
        {
            using var s = NewDisposeScope();
            var state = Bytes(g.get_state());
            if (rand([chunk], generator: g).min().ToDouble() == 0) before = state;
        }
        Assert.NotNull(before); // (15/16)^1000: the case does occur
        using (var s = NewDisposeScope())
        {
            g.set_state(tensor(before!, ScalarType.Byte));
            Assert.Equal(0, rand([chunk / 2, 2], generator: g).min().ToDouble());
            foreach (var hard in new[] { false, true })
            {
                g.set_state(tensor(before!, ScalarType.Byte));
                var y = Sampling.GumbelSoftmax(zeros([chunk / 2, 2]), hard: hard, generator: g);
                Assert.Equal(1, y.isfinite().to(float32).min().ToDouble());
                Assert.Equal(chunk / 2, y.sum().ToDouble(), 1e-1);
            }
        }
    }

    private static byte[] Bytes(Tensor state) => state.data<byte>().ToArray();

    [Fact]
    public void StraightThroughRoundHasForwardRoundAndGradientOne()
    {
        using var s = NewDisposeScope();
        var x = tensor(new[] { 0.2, 0.5, 1.5, 2.7, -1.4, -2.5 }, [6]).requires_grad_();
        var y = Sampling.StraightThrough(x, x.round());
        Assert.Equal(new[] { 0.0, 0, 2, 3, -1, -2 }, Doubles(y));
        y.sum().backward();
        Assert.Equal(Enumerable.Repeat(1.0, 6), Doubles(x.grad!));
        // plain rounding has no useful gradient
        var z = tensor(new[] { 0.2, 1.7 }, [2]).requires_grad_();
        z.round().sum().backward();
        Assert.Equal(new[] { 0.0, 0.0 }, Doubles(z.grad!));
        // weighted: the upstream gradient passes through unchanged
        var q = tensor(new[] { 0.4, 0.6 }, [2]).requires_grad_();
        (Sampling.StraightThrough(q, q.round()) * tensor(new[] { 3.0, -5 }, [2])).sum().backward();
        Assert.Equal(new[] { 3.0, -5.0 }, Doubles(q.grad!));
    }

    [Fact]
    public void XavierNormalHasTheExpectedStd()
    {
        using var p = new Parameter(empty([256, 128, 3, 3]));
        using var g = new Generator(8);
        Sampling.XavierNormal(p, gain: 0.5, g);
        double expected = 0.5 * Math.Sqrt(2.0 / (128 * 9 + 256 * 9));
        var v = Floats(p);
        double mean = v.Average(x => (double)x);
        double std = Math.Sqrt(v.Average(x => ((double)x - mean) * ((double)x - mean)));
        Assert.InRange(std / expected, 0.99, 1.01);
        Assert.InRange(mean, -0.01 * expected, 0.01 * expected);
        Assert.True(p.requires_grad && p.is_leaf);
        // the generator decides the values
        using var q = new Parameter(empty([256, 128, 3, 3]));
        using var g2 = new Generator(8);
        Sampling.XavierNormal(q, gain: 0.5, g2);
        Assert.Equal(v, Floats(q));
    }
}

/// <summary>A small network: a parameter of its own, a convolution and a list of convolutions.</summary>
internal sealed class TinyNet : nn.Module<Tensor, Tensor>
{
    public TinyNet(ulong seed) : base(nameof(TinyNet))
    {
        using var g = new Generator(seed);
        Scale = new Parameter(ones(1));
        Head = nn.Conv2d(3, 4, 3, padding: 1);
        Layers = nn.ModuleList(nn.Conv2d(4, 4, 3, padding: 1, groups: 2), nn.Conv2d(4, 2, 1, bias: false));
        register_parameter("scale", Scale);
        register_module("head", Head);
        register_module("layers", Layers);
        // Seeded values (TorchSharp's default initialization draws from the global generator).
        Perturb(this, g, 0.5);
    }

    protected override void RegisterComponents() { }

    public Parameter Scale { get; }
    public Conv2d Head { get; }
    public ModuleList<Conv2d> Layers { get; }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.leaky_relu(Head.forward(x), 0.2);
        foreach (var l in Layers) h = l.forward(h);
        return (h * Scale).MoveToOuterDisposeScope();
    }
}

public class StateDictTests
{
    private static readonly string[] Names =
        ["scale", "head.weight", "head.bias", "layers.0.weight", "layers.0.bias", "layers.1.weight"];

    [Fact]
    public void LoadStrictCopiesEveryTensorByName()
    {
        using var s = NewDisposeScope();
        using var a = new TinyNet(1);
        using var b = new TinyNet(2);
        Assert.Equal(Names, a.state_dict().Keys);
        var x = RandD([1, 3, 5, 5], seed: 3).to(float32);
        Assert.NotEqual(Floats(a.forward(x)), Floats(b.forward(x)));
        StateDicts.LoadStrict(b, a.state_dict());
        foreach (var name in Names) Assert.Equal(Floats(a.state_dict()[name]), Floats(b.state_dict()[name]));
        Assert.Equal(Floats(a.forward(x)), Floats(b.forward(x)));
        Assert.All(b.parameters(), p => Assert.True(p.is_leaf && p.requires_grad));

        // from float64 tensors (converted to the parameters' dtype)
        using var c = new TinyNet(3);
        StateDicts.LoadStrict(c, a.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to(float64)));
        Assert.Equal(Floats(a.forward(x)), Floats(c.forward(x)));
        Assert.All(c.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
    }

    [Fact]
    public void LoadStrictReportsMissingExtraAndWronglyShapedEntries()
    {
        using var s = NewDisposeScope();
        using var a = new TinyNet(1);
        using var b = new TinyNet(2);
        var before = Floats(b.Head.weight!);

        var missing = a.state_dict();
        missing.Remove("layers.1.weight");
        missing.Remove("head.bias");
        var e = Assert.Throws<InvalidDataException>(() => StateDicts.LoadStrict(b, missing, "ckpt.safetensors"));
        Assert.Contains("ckpt.safetensors", e.Message);
        Assert.Contains("missing 2", e.Message);
        Assert.Contains("layers.1.weight", e.Message);
        Assert.Contains("head.bias", e.Message);

        var extra = a.state_dict();
        extra["layers.2.weight"] = zeros(1);
        e = Assert.Throws<InvalidDataException>(() => StateDicts.LoadStrict(b, extra));
        Assert.Contains("unexpected 1: layers.2.weight", e.Message);

        var shaped = a.state_dict();
        shaped["layers.0.weight"] = zeros(4, 4, 3, 3);
        e = Assert.Throws<InvalidDataException>(() => StateDicts.LoadStrict(b, shaped));
        Assert.Contains("layers.0.weight has shape [4, 4, 3, 3], expected [4, 2, 3, 3]", e.Message);

        var all = a.state_dict();
        all.Remove("scale");
        all["extra"] = zeros(1);
        all["head.bias"] = zeros(5);
        e = Assert.Throws<InvalidDataException>(() => StateDicts.LoadStrict(b, all));
        Assert.Contains("missing 1: scale", e.Message);
        Assert.Contains("unexpected 1: extra", e.Message);
        Assert.Contains("head.bias has shape [5], expected [4]", e.Message);

        // nothing was copied by the failed loads
        Assert.Equal(before, Floats(b.Head.weight!));
    }

    [Fact]
    public void LoadMatchingCopiesWhatFitsAndIgnoresTheRest()
    {
        using var s = NewDisposeScope();
        using var a = new TinyNet(1);
        using var b = new TinyNet(2);
        var headBias = Floats(b.Head.bias!);
        var state = a.state_dict();
        state.Remove("scale");
        state["head.bias"] = zeros(5);
        state["layers.7.weight"] = zeros(1);
        var loaded = StateDicts.LoadMatching(b, state);
        Assert.Equal(["head.weight", "layers.0.weight", "layers.0.bias", "layers.1.weight"], loaded);
        foreach (var name in loaded) Assert.Equal(Floats(a.state_dict()[name]), Floats(b.state_dict()[name]));
        Assert.Equal(headBias, Floats(b.Head.bias!));
        Assert.NotEqual(Floats(a.Scale), Floats(b.Scale));
    }
}
