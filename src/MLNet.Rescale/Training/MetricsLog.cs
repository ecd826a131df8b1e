using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLNet.Rescale.Training;

/// <summary>The run's metrics as JSON lines (one object per logged iteration).</summary>
internal sealed class MetricsLog(string path)
{
    public void Append(long iteration, double seconds, Trainer.StepTerms t, double lr, double? valPsnr,
        IEnumerable<KeyValuePair<string, double>>? extraValidation = null)
    {
        var o = new JsonObject
        {
            ["iteration"] = iteration, ["seconds"] = Math.Round(seconds, 2), ["loss"] = t.Total,
        };
        foreach (var (key, value) in t.Terms) o[key] = value;
        o["lr"] = lr;
        if (valPsnr is { } v) o["val_psnr_y"] = v;
        foreach (var (key, value) in extraValidation ?? []) o[key] = value;
        File.AppendAllText(path, o.ToJsonString() + "\n");
        LoggedSeconds = seconds;
    }

    /// <summary>Training seconds of the last row appended or kept by <see cref="TruncateAfter"/>: where the next run's clock continues.</summary>
    public double LoggedSeconds { get; private set; }

    /// <summary>Drops lines logged after the checkpoint a resumed run starts from, so the log has no duplicates.</summary>
    public void TruncateAfter(long iteration)
    {
        if (!File.Exists(path)) return;
        var kept = Rows().Where(r => r["iteration"]!.GetValue<long>() <= iteration).ToList();
        LoggedSeconds = kept.Count > 0 && kept[^1]["seconds"] is { } s ? s.GetValue<double>() : 0;
        IO.AtomicFile.WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(string.Concat(kept.Select(r => r.ToJsonString() + "\n"))));
    }

    // A run killed while appending leaves a torn last line; it is skipped (and dropped by the next TruncateAfter).
    internal List<JsonNode> Rows() => File.Exists(path)
        ? File.ReadLines(path).Where(l => l.Trim().Length > 0).Select(Parse).OfType<JsonNode>()
            .Where(r => r["iteration"] is JsonValue).ToList()
        : [];

    private static JsonNode? Parse(string line)
    {
        try { return JsonNode.Parse(line); }
        catch (JsonException) { return null; }
    }
}
