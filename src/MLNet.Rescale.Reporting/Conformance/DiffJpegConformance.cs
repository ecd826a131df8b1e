using System.Globalization;
using System.Text.RegularExpressions;
using MLNet.Rescale.Compression;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.Rescale.IO;

namespace MLNet.Rescale.Conformance;

/// <summary>
/// The <c>diffjpeg_small</c> vector: <c>io.input</c> through <see cref="DiffJpeg"/> at every quality the file holds,
/// <c>io.out_q{Q}_d</c> with differentiable rounding and <c>io.out_q{Q}_r</c> with hard rounding.
/// </summary>
public static partial class DiffJpegConformance
{
    /// <summary>Metadata <c>op</c> of the vector.</summary>
    public const string OpPrefix = "DiffJPEG";

    /// <summary>Compares every <c>io.out_q*</c> output of the file.</summary>
    public static IReadOnlyList<ConformanceResult> Run(SafetensorsFile file)
    {
        using var scope = NewDisposeScope();
        var input = file.Load("io.input");
        var results = new List<ConformanceResult>();
        foreach (var entry in file.Entries)
        {
            var m = OutputName().Match(entry.Name);
            if (!m.Success) continue;
            int quality = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            var rounding = m.Groups[2].Value == "d" ? JpegRounding.Differentiable : JpegRounding.Hard;
            using var inner = NewDisposeScope();
            results.Add(ConformanceRunner.Compare(entry.Name, new DiffJpeg(quality, rounding).forward(input), file));
        }
        if (results.Count == 0) throw new InvalidDataException($"{file.Name}: no io.out_q{{Q}}_d or _r outputs to check");
        return results;
    }

    [GeneratedRegex(@"^io\.out_q([0-9]{1,3})_([dr])$")]
    private static partial Regex OutputName();
}
