using System.Text.Json;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.Conformance;

/// <summary>
/// The <c>metrics_small.json</c> vector: two 8-bit images (HWC, BGR order, nested lists) and the reference PSNR on
/// all channels, and PSNR/SSIM on BT.601 luma with and without a 2-pixel border, each within 1e-6 relative.
/// A result's error is absolute; its tolerance is 1e-6·|expected|.
/// </summary>
public static class MetricsConformance
{
    /// <summary>Relative tolerance of the metric values.</summary>
    public const double RelativeTolerance = 1e-6;

    /// <summary>Runs every metric of the JSON vector at <paramref name="path"/>.</summary>
    public static IReadOnlyList<ConformanceResult> Run(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException e) { throw new InvalidDataException($"{path}: cannot read ({e.Message})", e); }
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            var a = FromBgr(root.GetProperty("image_a_hwc_bgr_uint8"), path);
            var b = FromBgr(root.GetProperty("image_b_hwc_bgr_uint8"), path);
            var cases = new (string Key, Func<double> Compute)[]
            {
                ("psnr_bgr", () => Metrics.Psnr(a, b)),
                ("psnr_y", () => Metrics.Psnr(a, b, 0, yOnly: true)),
                ("ssim_y", () => Metrics.Ssim(a, b, 0, yOnly: true)),
                ("psnr_y_crop2", () => Metrics.Psnr(a, b, 2, yOnly: true)),
                ("ssim_y_crop2", () => Metrics.Ssim(a, b, 2, yOnly: true)),
            };
            var results = new List<ConformanceResult>();
            foreach (var (key, compute) in cases)
            {
                if (!root.TryGetProperty(key, out var value)) continue;
                double expected = value.GetDouble(), got = compute();
                results.Add(new ConformanceResult(key, Math.Abs(got - expected), RelativeTolerance * Math.Abs(expected)));
            }
            if (results.Count == 0) throw new InvalidDataException($"{path}: no reference metrics (psnr_bgr, psnr_y, …) in the file");
            return results;
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a valid metrics vector: {e.Message}", e); }
        catch (KeyNotFoundException e) { throw new InvalidDataException($"{path}: not a valid metrics vector: {e.Message}", e); }
        catch (InvalidOperationException e) { throw new InvalidDataException($"{path}: not a valid metrics vector: {e.Message}", e); }
        catch (FormatException e) { throw new InvalidDataException($"{path}: not a valid metrics vector: {e.Message}", e); }
    }

    // Nested H×W×3 lists of 0..255 in BGR order → RGB image.
    private static Image FromBgr(JsonElement rows, string path)
    {
        int h = rows.GetArrayLength();
        int w = h > 0 ? rows[0].GetArrayLength() : 0;
        if (h == 0 || w == 0) throw new InvalidDataException($"{path}: empty image");
        var hwc = new byte[h * w * 3];
        int y = 0;
        foreach (var row in rows.EnumerateArray())
        {
            if (row.GetArrayLength() != w) throw new InvalidDataException($"{path}: row {y} has {row.GetArrayLength()} pixels, expected {w}");
            int x = 0;
            foreach (var px in row.EnumerateArray())
            {
                if (px.GetArrayLength() != 3) throw new InvalidDataException($"{path}: pixel ({x}, {y}) does not have 3 channels");
                for (int c = 0; c < 3; c++) hwc[(y * w + x) * 3 + (2 - c)] = px[c].GetByte();
                x++;
            }
            y++;
        }
        return Image.FromInterleaved8(hwc, w, h, 3);
    }
}
