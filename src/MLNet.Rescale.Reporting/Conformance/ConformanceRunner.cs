using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.Rescale.IO;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Conformance;

/// <summary>One output of a conformance vector compared with our computation.</summary>
public sealed record ConformanceResult(string Output, double MaxAbsError, double Tolerance)
{
    /// <summary>Whether the error is within tolerance.</summary>
    public bool Passed => MaxAbsError <= Tolerance;
}

/// <summary>
/// Runs a reference vector in the format of the shared conformance folder (weights under
/// <c>model.*</c>, inputs and expected outputs under <c>io.*</c>, the case in <c>__metadata__</c>) and
/// compares every expected output: float32 cases within 1e-4·max(1, max|expected|), as the README sets.
/// </summary>
public static class ConformanceRunner
{
    /// <summary>Relative tolerance of the float32 network and simulator vectors.</summary>
    public const double NetworkTolerance = 1e-4;

    /// <summary>Runs every output of the file at <paramref name="path"/>.</summary>
    public static IReadOnlyList<ConformanceResult> Run(string path)
    {
        // The metrics vector is JSON (images as nested lists), not safetensors.
        if (string.Equals(Path.GetExtension(path), ".json", StringComparison.OrdinalIgnoreCase))
            return MetricsConformance.Run(path);
        var file = SafetensorsFile.Read(path);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        if (file.Metadata.TryGetValue("model", out var model))
            return model switch
            {
                "IRN" => RunIrn(file),
                "SAIN" => RunSain(file),
                _ => throw new NotSupportedException($"{path}: conformance for model '{model}' is not implemented yet"),
            };
        var op = file.Metadata.GetValueOrDefault("op", "");
        foreach (var (prefix, runner) in Extensions)
            if (op.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return runner(file);
        throw new NotSupportedException($"{path}: unknown conformance case (metadata model/op = '{op}')");
    }

    /// <summary>Runners for operator vectors (metadata <c>op</c> prefix → runner), registered by other layers.</summary>
    public static List<(string Prefix, Func<SafetensorsFile, IReadOnlyList<ConformanceResult>> Runner)> Extensions { get; } =
    [
        (BicubicConformance.OpPrefix, BicubicConformance.Run),
        (DiffJpegConformance.OpPrefix, DiffJpegConformance.Run),
    ];

    private static List<ConformanceResult> RunIrn(SafetensorsFile file)
    {
        using var net = ModelFile.Load(file);
        net.eval();
        var hr = file.Load("io.hr");
        var forward = net.forward(hr);
        var lrQ = Quantization.Quantize(RescaleNetwork.LrOf(forward));
        var inverse = net.inverse(cat([file.Load("io.lr_quantized"), file.Load("io.z")], 1));
        return
        [
            Compare("io.forward", forward, file),
            CompareQuantized("io.lr_quantized", lrQ, RescaleNetwork.LrOf(file.Load("io.forward")), file),
            Compare("io.inverse", inverse, file),
        ];
    }

    private static List<ConformanceResult> RunSain(SafetensorsFile file)
    {
        using var loaded = ModelFile.Load(file);
        var net = (SainNetwork)loaded;
        net.eval();
        var (forward, forwardLr) = net.ForwardWithLr(file.Load("io.hr"));
        var (inverse, inverseLr) = net.InverseWithLr(cat([file.Load("io.lr_compressed"), file.Load("io.z")], 1));
        return
        [
            Compare("io.forward", forward, file),
            Compare("io.forward_lr", forwardLr, file),
            Compare("io.inverse", inverse, file),
            Compare("io.inverse_lr", inverseLr, file),
        ];
    }

    /// <summary>
    /// Compares an 8-bit quantized output. Where the reference's own unquantized value lies within the float32
    /// tolerance of a rounding boundary (k + ½)/255, the last-bit differences between convolution back ends may
    /// legitimately round it to the neighbouring level, so those elements may differ by exactly one level;
    /// every other element must match.
    /// </summary>
    public static ConformanceResult CompareQuantized(string name, Tensor actual, Tensor referenceUnquantized, SafetensorsFile file)
    {
        using var scope = NewDisposeScope();
        var expected = file.Load(name);
        var v = referenceUnquantized.clamp(S(0), S(1)) * S(255);
        var ambiguous = ((v - v.floor() - S(0.5)).abs() / S(255)).lt(S(NetworkTolerance));
        var diff = (actual - expected).abs();
        var allowed = where(ambiguous, (diff - S(1.0 / 255)).abs().lt(S(1e-6)).to(ScalarType.Float32), tensor(0f));
        double err = (diff * allowed.SubtractedFrom(1)).max().Value();
        return new ConformanceResult(name, err, NetworkTolerance);
    }

    /// <summary>Compares one computed tensor with the expected one stored under <paramref name="name"/>.</summary>
    public static ConformanceResult Compare(string name, Tensor actual, SafetensorsFile file, double relativeTolerance = NetworkTolerance,
        bool absolute = false)
    {
        using var scope = NewDisposeScope();
        var expected = file.Load(name);
        if (!expected.shape.SequenceEqual(actual.shape))
            throw new InvalidDataException($"{file.Name}: {name} expected shape [{string.Join(", ", expected.shape)}], computed [{string.Join(", ", actual.shape)}]");
        double err = (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max().Value();
        double scale = absolute ? 1 : Math.Max(1, expected.abs().max().Value());
        return new ConformanceResult(name, err, relativeTolerance * scale);
    }
}
