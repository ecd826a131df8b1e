using System.Text;
using System.Text.Json;
using MLNet.Rescale.Imaging;

namespace MLNet.Rescale.Batch;

/// <summary>
/// The rescaling a batch runs: a downscaler, and the upscaler its outputs are meant for (used only to score round
/// trips). Calls may come from several threads at once when <see cref="BatchRunOptions.Workers"/> &gt; 1.
/// MLNet.Rescale.Hosting's <c>PooledImageRescaler</c> is one.
/// </summary>
public interface IBatchRescaler
{
    /// <summary>The scale factor s (an LR image is ⌈W/s⌉×⌈H/s⌉).</summary>
    int Scale { get; }

    /// <summary>The 8-bit LR image of an HR image.</summary>
    Task<Image> DownscaleAsync(Image hr, CancellationToken cancellationToken = default);

    /// <summary>Upscales an LR image to <paramref name="width"/>×<paramref name="height"/>, the HR size whose LR it is.</summary>
    Task<Image> UpscaleAsync(Image lr, int width, int height, CancellationToken cancellationToken = default);
}

/// <summary>How <see cref="ImageBatch.RunAsync"/> runs: concurrency, encoding, scoring, and who hears of each image.</summary>
public sealed record BatchRunOptions
{
    /// <summary>Images processed at once (each call to the rescaler runs one). Default 1.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>How outputs are encoded (JPEG/WebP quality, PNG bit depth).</summary>
    public ImageWriteOptions Encoding { get; init; } = new();

    /// <summary>Score each written image's round trip: its output file decoded, upscaled, and compared with the input (Y-PSNR, border = scale).</summary>
    public bool Psnr { get; init; }

    /// <summary>Called once per image of the plan, when it is written, found up to date, or failed; from worker threads, one call at a time.</summary>
    public Action<BatchItemResult>? Completed { get; init; }
}

/// <summary>What became of one image.</summary>
public enum BatchStatus
{
    /// <summary>Downscaled and written.</summary>
    Written,
    /// <summary>Its output was already up to date: skipped.</summary>
    UpToDate,
    /// <summary>Not written: the input is unreadable or corrupt, or the network failed on it (see the error).</summary>
    Failed,
}

/// <summary>One image's outcome, one line of the manifest (<see cref="ToJson"/>).</summary>
public sealed record BatchItemResult
{
    /// <summary>The input's path relative to the input folder, '/' between folders.</summary>
    public required string RelativePath { get; init; }
    /// <summary>The input file.</summary>
    public required string Input { get; init; }
    /// <summary>The output file (written, or that would have been).</summary>
    public required string Output { get; init; }
    /// <summary>What became of it.</summary>
    public required BatchStatus Status { get; init; }
    /// <summary>Size of the input file in bytes.</summary>
    public long InputBytes { get; init; }
    /// <summary>Size of the output file in bytes (written or up to date).</summary>
    public long? OutputBytes { get; init; }
    /// <summary>Input width in pixels, when it was decoded.</summary>
    public int? Width { get; init; }
    /// <summary>Input height in pixels, when it was decoded.</summary>
    public int? Height { get; init; }
    /// <summary>Output width in pixels, when it was written.</summary>
    public int? LrWidth { get; init; }
    /// <summary>Output height in pixels, when it was written.</summary>
    public int? LrHeight { get; init; }
    /// <summary>Y-PSNR (dB) of the round trip through the written file, when asked for.</summary>
    public double? Psnr { get; init; }
    /// <summary>Seconds spent on the image.</summary>
    public double Seconds { get; init; }
    /// <summary>Why it failed: one line naming the file and the problem.</summary>
    public string? Error { get; init; }

    /// <summary>One JSON object on one line: input, output, status (written, up-to-date, failed), sizes, psnr_y, seconds, error.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("input", Input);
            w.WriteString("output", Output);
            w.WriteString("status", Status switch { BatchStatus.Written => "written", BatchStatus.UpToDate => "up-to-date", _ => "failed" });
            w.WriteNumber("input_bytes", InputBytes);
            Number(w, "output_bytes", OutputBytes);
            Number(w, "width", Width);
            Number(w, "height", Height);
            Number(w, "lr_width", LrWidth);
            Number(w, "lr_height", LrHeight);
            if (Psnr is { } p && double.IsFinite(p)) w.WriteNumber("psnr_y", Math.Round(p, 4));
            else if (Psnr is not null) w.WriteString("psnr_y", "inf");
            else w.WriteNull("psnr_y");
            w.WriteNumber("seconds", Math.Round(Seconds, 4));
            if (Error is null) w.WriteNull("error");
            else w.WriteString("error", Error);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void Number(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}

/// <summary>The totals of a batch run.</summary>
/// <param name="Written">Images downscaled and written.</param>
/// <param name="UpToDate">Images skipped as up to date.</param>
/// <param name="Failures">Images not written, each with its error.</param>
/// <param name="Megapixels">HR megapixels downscaled (written images).</param>
/// <param name="Elapsed">Wall time of the run.</param>
public sealed record BatchSummary(int Written, int UpToDate, IReadOnlyList<BatchItemResult> Failures, double Megapixels, TimeSpan Elapsed)
{
    /// <summary>Images not written.</summary>
    public int Failed => Failures.Count;
}

/// <summary>
/// An output could not be written (full disk, no permission, a file where a folder must be): the run stops, since
/// every later write would fail alike. The message names the path and the problem.
/// </summary>
public sealed class BatchOutputException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The output that could not be written.</param>
    /// <param name="inner">The underlying error.</param>
    public BatchOutputException(string path, Exception inner)
        : base($"{path}: cannot write the output: {Problem(inner)}", inner) => Path = path;

    /// <summary>The output that could not be written.</summary>
    public string Path { get; }

    private static string Problem(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        _ when e.HResult == 28 || (e.HResult & 0xFFFF) == 0x70 => "no space left on the device",
        _ => e.Message.Split('\n')[0].Trim(),
    };
}
