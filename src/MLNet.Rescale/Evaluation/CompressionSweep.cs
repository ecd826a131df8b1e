using System.Globalization;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;

namespace MLNet.Rescale.Evaluation;

/// <summary>One method's mean scores at every quality of a sweep (index-aligned with <see cref="SweepResult.Qualities"/>).</summary>
public sealed record SweepSeries(string Method, double[] PsnrY, double[] SsimY);

/// <summary>Round-trip quality of several methods when a real codec compresses the LR, across qualities.</summary>
public sealed record SweepResult(ImageFormat Codec, int Scale, int ImageCount, IReadOnlyList<int> Qualities, IReadOnlyList<SweepSeries> Series)
{
    /// <summary>The codec's name as the CLI spells it.</summary>
    public string CodecName => Codec == ImageFormat.Jpeg ? "jpeg" : "webp";
}

/// <summary>
/// Evaluates rescaling under compression: every HR image is modcropped and downscaled once per method, then for
/// each quality the LR goes through the real codec (libjpeg-turbo / libwebp) and is upscaled; Y-PSNR and SSIM with
/// a border of <c>scale</c>, like <see cref="Evaluator"/>. The bicubic baseline compresses the MATLAB-bicubic LR.
/// </summary>
public static class CompressionSweep
{
    /// <summary>Name of the bicubic baseline's series.</summary>
    public const string Bicubic = "bicubic";

    /// <summary>
    /// Runs the sweep over a folder. All methods must share one scale; <paramref name="progress"/> gets (done, total)
    /// after each (image, method) pair.
    /// </summary>
    public static SweepResult Run(IReadOnlyList<(string Name, Rescaler Rescaler)> methods, string folder, ImageFormat codec,
        IReadOnlyList<int> qualities, Action<int, int>? progress = null)
    {
        if (methods.Count == 0) throw new ArgumentException("no method to evaluate", nameof(methods));
        int s = methods[0].Rescaler.Scale;
        if (methods.Any(m => m.Rescaler.Scale != s))
            throw new ArgumentException("the models of a sweep must share one scale: " + string.Join(", ", methods.Select(m => $"{m.Name} ×{m.Rescaler.Scale}")));
        if (qualities.Count == 0) throw new ArgumentException("no quality to sweep", nameof(qualities));
        var codecs = qualities.Select(q => new LossyCodec(codec, q).Validated()).ToList();
        var files = Evaluator.ImageFiles(folder);
        int m = methods.Count + 1, done = 0, total = files.Count * m;
        var psnr = new double[m, codecs.Count];
        var ssim = new double[m, codecs.Count];
        foreach (var file in files)
        {
            var hr = ImageFile.Read(file).SplitAlpha(out _).ToRgb().ModCrop(s);
            for (int i = 0; i < m; i++)
            {
                bool bicubic = i == methods.Count;
                var lr = bicubic ? Resize.BicubicScaleUint8(hr, 1.0 / s) : methods[i].Rescaler.Downscale(hr);
                for (int k = 0; k < codecs.Count; k++)
                {
                    var received = codecs[k].Apply(lr);
                    var sr = bicubic ? Resize.BicubicScaleUint8(received, s) : methods[i].Rescaler.Upscale(received, hr.Width, hr.Height);
                    psnr[i, k] += Metrics.Psnr(sr, hr, s, yOnly: true) / files.Count;
                    ssim[i, k] += Metrics.Ssim(sr, hr, s, yOnly: true) / files.Count;
                }
                progress?.Invoke(++done, total);
            }
        }
        var series = Enumerable.Range(0, m).Select(i => new SweepSeries(i == methods.Count ? Bicubic : methods[i].Name,
            Enumerable.Range(0, codecs.Count).Select(k => psnr[i, k]).ToArray(),
            Enumerable.Range(0, codecs.Count).Select(k => ssim[i, k]).ToArray())).ToList();
        return new SweepResult(codec, s, files.Count, qualities.ToList(), series);
    }

    /// <summary>Parses a quality list such as <c>30,50,70,80,90</c>.</summary>
    public static IReadOnlyList<int> ParseQualities(string text)
    {
        var list = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int q) || q is < 1 or > 100)
                throw new FormatException($"'{part}' in '{text}' is not a quality 1–100");
            list.Add(q);
        }
        return list.Count > 0 ? list : throw new FormatException($"'{text}': no quality given");
    }
}
