using Google.Protobuf;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.Onnx;

/// <summary>
/// Builds one ONNX graph node by node: values are named after the module path that computes them (so Netron shows
/// <c>operations.1.F.conv3</c>), weights become initializers under the reference parameter names, and small constants
/// (scalars, slice bounds) are shared initializers under <c>const/…</c>.
/// </summary>
internal sealed class OnnxGraph
{
    private readonly GraphProto graph = new();
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> constants = new(StringComparer.Ordinal);

    public OnnxGraph(string name, string doc)
    {
        graph.Name = name;
        graph.DocString = doc;
    }

    public GraphProto Proto => graph;

    /// <summary>Declares a float32 graph input of the given dimensions (a string is a symbolic, dynamic dimension).</summary>
    public string Input(string name, params object[] dims)
    {
        graph.Input.Add(ValueInfo(name, dims));
        names.Add(name);
        return name;
    }

    /// <summary>Marks <paramref name="value"/> as the graph output <paramref name="name"/> (through an Identity).</summary>
    public void Output(string value, string name, params object[] dims)
    {
        Node("Identity", [value], name);
        graph.Output.Add(ValueInfo(name, dims));
    }

    /// <summary>A float32 initializer holding the tensor's values under <paramref name="name"/>.</summary>
    public string Weight(string name, Tensor t)
    {
        if (!names.Add(name)) return name;
        using var scope = NewDisposeScope();
        var data = t.detach().cpu().to(ScalarType.Float32).contiguous();
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        proto.Dims.AddRange(data.shape);
        proto.RawData = ByteString.CopyFrom(data.bytes);
        graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>A shared float32 scalar constant.</summary>
    public string Scalar(float value)
    {
        string key = "const/" + value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (constants.TryGetValue(key, out var existing)) return existing;
        var proto = new TensorProto { Name = key, DataType = (int)TensorProto.Types.DataType.Float };
        proto.FloatData.Add(value);
        graph.Initializer.Add(proto);
        names.Add(key);
        constants[key] = key;
        return key;
    }

    /// <summary>A shared int64 vector constant.</summary>
    public string Int64s(string label, params long[] values)
    {
        string key = "const/" + label;
        if (constants.TryGetValue(key, out var existing)) return existing;
        var proto = new TensorProto { Name = key, DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Dims.Add(values.Length);
        proto.Int64Data.AddRange(values);
        graph.Initializer.Add(proto);
        names.Add(key);
        constants[key] = key;
        return key;
    }

    /// <summary>Adds a node whose single output is named <paramref name="output"/> (made unique if taken).</summary>
    public string Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
    {
        string name = output;
        for (int i = 2; !names.Add(name); i++) name = $"{output}#{i}";
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(name);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return name;
    }

    /// <summary>Channels [start, end) of an NCHW value.</summary>
    public string Channels(string x, long start, long end, string output) =>
        Node("Slice", [x, Int64s($"c{start}", start), Int64s($"c{end}", end), Int64s("axis1", 1)], output);

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static ValueInfoProto ValueInfo(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            var dim = new TensorShapeProto.Types.Dimension();
            if (d is string symbol) dim.DimParam = symbol;
            else dim.DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture);
            shape.Dim.Add(dim);
        }
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape };
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }
}
