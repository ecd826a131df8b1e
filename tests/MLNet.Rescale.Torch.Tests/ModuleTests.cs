using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.IO;
using MLNet.Rescale.Tensors.NN;
using Xunit;
using static MLNet.Rescale.Tensors.Tests.TestUtil;

namespace MLNet.Rescale.Tensors.Tests;

/// <summary>A small network: a parameter of its own, a convolution and a list of convolutions.</summary>
internal sealed class TinyNet : Module
{
    public TinyNet(ulong seed)
    {
        using var g = new Generator(seed);
        Scale = RegisterParameter("scale", new Parameter(Tensor.Ones([1])));
        Head = RegisterModule("head", new Conv2d(3, 4, 3, padding: 1, generator: g));
        Layers = RegisterModule("layers", new ModuleList<Conv2d>([
            new Conv2d(4, 4, 3, padding: 1, groups: 2, generator: g),
            new Conv2d(4, 2, 1, bias: false, generator: g),
        ]));
    }

    public Parameter Scale { get; }
    public Conv2d Head { get; }
    public ModuleList<Conv2d> Layers { get; }

    public Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        var h = Head.Forward(x).LeakyRelu(0.2);
        foreach (var l in Layers.Items) h = l.Forward(h);
        return (h * Scale.Value).MoveToOuterScope();
    }
}

public class ModuleTests
{
    private static readonly string[] Names =
        ["scale", "head.weight", "head.bias", "layers.0.weight", "layers.0.bias", "layers.1.weight"];

    [Fact]
    public void NamedParametersUseDottedNames()
    {
        using var net = new TinyNet(1);
        Assert.Equal(Names, net.NamedParameters().Select(kv => kv.Key));
        Assert.Equal(new long[] { 4, 3, 3, 3 }, net.NamedParameters().Single(kv => kv.Key == "head.weight").Value.Shape);
        Assert.Equal(new long[] { 4, 2, 3, 3 }, net.Layers[0].Weight.Shape);
        Assert.Null(net.Layers[1].Bias);
        Assert.Equal(2, net.Layers.Count);
        Assert.Equal(["head", "layers"], net.NamedChildren().Select(kv => kv.Key));
        Assert.Equal(1 + 4 * 27 + 4 + 4 * 18 + 4 + 2 * 4, net.ParameterCount);
        Assert.Equal(6, net.Parameters().Count());
        Assert.All(net.Parameters(), p => Assert.True(p.Value.IsLeaf && p.RequiresGrad && p.Value.Scope is null));
        Assert.Equal(Names.Select(n => "net." + n), net.NamedParameters("net.").Select(kv => kv.Key));
    }

    [Fact]
    public void TrainAndEvalPropagate()
    {
        using var net = new TinyNet(1);
        Assert.True(net.Training && net.Head.Training && net.Layers[1].Training);
        net.Eval();
        Assert.False(net.Training || net.Head.Training || net.Layers.Training || net.Layers[0].Training || net.Layers[1].Training);
        net.Train();
        Assert.True(net.Training && net.Head.Training && net.Layers.Training && net.Layers[0].Training && net.Layers[1].Training);
        net.Layers.Train(false);
        Assert.True(net.Training && net.Head.Training);
        Assert.False(net.Layers[0].Training);
    }

    [Fact]
    public void StateDictRoundTrips()
    {
        using var s = Torch.NewScope();
        using var a = new TinyNet(1);
        using var b = new TinyNet(2);
        var x = RandD([1, 3, 5, 5], seed: 3).To(DType.Float32);
        Assert.NotEqual(a.Forward(x).ToArray<float>(), b.Forward(x).ToArray<float>());
        b.LoadStateDict(a.StateDict());
        foreach (var name in Names)
            Assert.Equal(a.StateDict()[name].ToArray<float>(), b.StateDict()[name].ToArray<float>());
        Assert.Equal(a.Forward(x).ToArray<float>(), b.Forward(x).ToArray<float>());
        Assert.All(b.Parameters(), p => Assert.True(p.Value.IsLeaf && p.RequiresGrad));

        // through the safetensors format, from float64 tensors (converted to the parameters' dtype)
        using var c = new TinyNet(3);
        var file = SafetensorsFile.Parse(SafetensorsFile.Serialize(a.StateDict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.To(DType.Float64)))), "mem");
        c.LoadStateDict(file.LoadAll().ToDictionary(kv => kv.Key, kv => kv.Value));
        Assert.Equal(a.Forward(x).ToArray<float>(), c.Forward(x).ToArray<float>());
        Assert.All(c.Parameters(), p => Assert.Equal(DType.Float32, p.Value.DType));
    }

    [Fact]
    public void LoadStateDictReportsMissingExtraAndWronglyShapedEntries()
    {
        using var s = Torch.NewScope();
        using var a = new TinyNet(1);
        using var b = new TinyNet(2);
        var before = b.Head.Weight.Value.ToArray<float>();

        var missing = a.StateDict();
        missing.Remove("layers.1.weight");
        missing.Remove("head.bias");
        var e = Assert.Throws<InvalidDataException>(() => b.LoadStateDict(missing, "ckpt.safetensors"));
        Assert.Contains("ckpt.safetensors", e.Message);
        Assert.Contains("missing 2", e.Message);
        Assert.Contains("layers.1.weight", e.Message);
        Assert.Contains("head.bias", e.Message);

        var extra = a.StateDict();
        extra["layers.2.weight"] = Tensor.Zeros([1]);
        e = Assert.Throws<InvalidDataException>(() => b.LoadStateDict(extra));
        Assert.Contains("unexpected 1: layers.2.weight", e.Message);

        var shaped = a.StateDict();
        shaped["layers.0.weight"] = Tensor.Zeros([4, 4, 3, 3]);
        e = Assert.Throws<InvalidDataException>(() => b.LoadStateDict(shaped));
        Assert.Contains("layers.0.weight has shape [4, 4, 3, 3], expected [4, 2, 3, 3]", e.Message);

        var all = a.StateDict();
        all.Remove("scale");
        all["extra"] = Tensor.Zeros([1]);
        all["head.bias"] = Tensor.Zeros([5]);
        e = Assert.Throws<InvalidDataException>(() => b.LoadStateDict(all));
        Assert.Contains("missing 1: scale", e.Message);
        Assert.Contains("unexpected 1: extra", e.Message);
        Assert.Contains("head.bias has shape [5], expected [4]", e.Message);

        // nothing was copied by the failed loads
        Assert.Equal(before, b.Head.Weight.Value.ToArray<float>());
    }

    [Fact]
    public void Conv2dDefaultInitStaysWithinTheFanInBound()
    {
        using var conv = new Conv2d(16, 32, 3, generator: new Generator(5));
        double bound = 1 / Math.Sqrt(16 * 9);
        var w = conv.Weight.Value.ToArray<float>();
        Assert.All(w, v => Assert.InRange(v, -bound, bound));
        Assert.True(w.Max() > 0.95 * bound && w.Min() < -0.95 * bound, "uses the whole range");
        Assert.InRange(w.Average(), -0.05 * bound, 0.05 * bound);
        var b = conv.Bias!.Value.ToArray<float>();
        Assert.All(b, v => Assert.InRange(v, -bound, bound));
        Assert.Equal(new long[] { 32, 16, 3, 3 }, conv.Weight.Shape);

        using var grouped = new Conv2d(16, 8, 3, groups: 4);
        double gb = 1 / Math.Sqrt(4 * 9);
        Assert.All(grouped.Weight.Value.ToArray<float>(), v => Assert.InRange(v, -gb, gb));
        Assert.Throws<ArgumentException>(() => new Conv2d(6, 4, 3, groups: 4));

        using var same1 = new Conv2d(2, 2, 3, generator: new Generator(9));
        using var same2 = new Conv2d(2, 2, 3, generator: new Generator(9));
        Assert.Equal(same1.Weight.Value.ToArray<float>(), same2.Weight.Value.ToArray<float>());
    }

    [Fact]
    public void XavierNormalHasTheExpectedStd()
    {
        using var p = new Parameter(Tensor.Empty([256, 128, 3, 3]).DetachFromScope());
        using var g = new Generator(8);
        Init.XavierNormal(p, gain: 0.5, g);
        double expected = 0.5 * Math.Sqrt(2.0 / (128 * 9 + 256 * 9));
        var v = p.Value.ToArray<float>();
        double mean = v.Average(x => (double)x);
        double std = Math.Sqrt(v.Average(x => ((double)x - mean) * ((double)x - mean)));
        Assert.InRange(std / expected, 0.99, 1.01);
        Assert.InRange(mean, -0.01 * expected, 0.01 * expected);
        Assert.True(p.RequiresGrad && p.Value.IsLeaf);
    }

    [Fact]
    public void OtherInitializers()
    {
        using var p = new Parameter(Tensor.Empty([64, 32, 3, 3]).DetachFromScope());
        Assert.Equal((32L * 9, 64L * 9), Init.Fans(p.Shape));
        Init.KaimingNormal(p, 0, new Generator(1));
        var v = p.Value.ToArray<float>();
        double std = Math.Sqrt(v.Average(x => (double)x * x));
        Assert.InRange(std / Math.Sqrt(2.0 / (32 * 9)), 0.97, 1.03);
        Init.KaimingUniform(p, 0, new Generator(1));
        double bound = Math.Sqrt(6.0 / (32 * 9));
        Assert.All(p.Value.ToArray<float>(), x => Assert.InRange(x, -bound, bound));
        Init.Constant(p, 0.25);
        Assert.All(p.Value.ToArray<float>(), x => Assert.Equal(0.25f, x));
        Init.Scale(p, 4);
        Assert.All(p.Value.ToArray<float>(), x => Assert.Equal(1f, x));
        Assert.True(p.Value.IsLeaf && p.RequiresGrad);
        Assert.Throws<ArgumentException>(() => Init.Fans([3]));
    }

    [Fact]
    public void GradientsReachEveryParameter()
    {
        using var s = Torch.NewScope();
        using var net = new TinyNet(4);
        net.Forward(Tensor.Ones([1, 3, 4, 4])).Square().Sum().Backward();
        foreach (var (name, p) in net.NamedParameters())
        {
            var g = p.Grad;
            Assert.NotNull(g);
            Assert.Equal(p.Shape, g!.Shape);
        }
        net.ZeroGrad();
        Assert.All(net.Parameters(), p => Assert.Null(p.Grad));
        var frozen = new Parameter(Tensor.Ones([2]), requiresGrad: false);
        Assert.False(frozen.RequiresGrad);
        frozen.Dispose();
    }
}
