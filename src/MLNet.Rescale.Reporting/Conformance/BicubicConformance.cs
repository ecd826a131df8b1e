using System.Globalization;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.Rescale.IO;

namespace MLNet.Rescale.Conformance;

/// <summary>
/// The <c>bicubic_small</c> vector: MATLAB <c>imresize</c> bicubic of <c>io.input_hwc</c> by 1/2, 1/3, 1/4
/// (<c>io.down_x{2,3,4}_hwc</c>) and by 2 (<c>io.up_x2_hwc</c>), HWC float32, each within 1e-5 absolute.
/// </summary>
public static class BicubicConformance
{
    /// <summary>Metadata <c>op</c> prefix of the vector.</summary>
    public const string OpPrefix = "MATLAB imresize bicubic";

    /// <summary>Absolute tolerance of the resize outputs.</summary>
    public const double Tolerance = 1e-5;

    /// <summary>Runs every output of a parsed bicubic vector.</summary>
    public static IReadOnlyList<ConformanceResult> Run(SafetensorsFile file)
    {
        using var scope = NewDisposeScope();
        var input = file.Load("io.input_hwc", ScalarType.Float32);
        var shape = input.shape;
        if (shape.Length != 3)
            throw new InvalidDataException($"{file.Name}: io.input_hwc must be HWC, has shape [{string.Join(", ", shape)}]");
        int h = (int)shape[0], w = (int)shape[1], c = (int)shape[2];
        var chw = HwcToChw(input.data<float>().ToArray(), h, w, c);
        var results = new List<ConformanceResult>();
        foreach (var (name, scale) in Cases(file))
        {
            var output = Resize.BicubicScale(chw, c, h, w, scale, out int oh, out int ow);
            var actual = tensor(ChwToHwc(output, oh, ow, c), [oh, ow, c]);
            results.Add(ConformanceRunner.Compare(name, actual, file, Tolerance, absolute: true));
        }
        if (results.Count == 0) throw new InvalidDataException($"{file.Name}: no io.down_x*_hwc / io.up_x*_hwc outputs");
        return results;
    }

    // io.down_xK_hwc is a resize by 1/K, io.up_xK_hwc by K.
    private static IEnumerable<(string Name, double Scale)> Cases(SafetensorsFile file)
    {
        foreach (var e in file.Entries)
        {
            foreach (var (prefix, down) in new[] { ("io.down_x", true), ("io.up_x", false) })
            {
                if (!e.Name.StartsWith(prefix, StringComparison.Ordinal) || !e.Name.EndsWith("_hwc", StringComparison.Ordinal)) continue;
                var digits = e.Name[prefix.Length..^"_hwc".Length];
                if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int k) || k < 1)
                    throw new InvalidDataException($"{file.Name}: cannot read the factor of '{e.Name}'");
                yield return (e.Name, down ? 1.0 / k : k);
            }
        }
    }

    private static float[] HwcToChw(float[] hwc, int h, int w, int c)
    {
        var chw = new float[hwc.Length];
        for (int p = 0; p < h * w; p++)
            for (int ch = 0; ch < c; ch++)
                chw[ch * h * w + p] = hwc[p * c + ch];
        return chw;
    }

    private static float[] ChwToHwc(float[] chw, int h, int w, int c)
    {
        var hwc = new float[chw.Length];
        for (int p = 0; p < h * w; p++)
            for (int ch = 0; ch < c; ch++)
                hwc[p * c + ch] = chw[ch * h * w + p];
        return hwc;
    }
}
