using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Data;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors.IO;

namespace MLNet.Rescale.ML.Model;

/// <summary>
/// The model file: a zip holding <c>manifest.json</c> (format name and version, the input schema, the transformer tree
/// with each transformer's kind and options, and the list of networks) and each network as a safetensors entry under
/// <c>networks/</c> — a complete model file in itself, the way ML.NET's TorchSharp components keep the torch state dict
/// inside their model zip.
/// </summary>
public static class ModelFormat
{
    /// <summary>The format name in the manifest.</summary>
    public const string FormatName = "mlnet-rescale-pipeline";
    /// <summary>The version written; files of a higher version are refused.</summary>
    public const int Version = 1;
    /// <summary>The manifest's entry name.</summary>
    public const string ManifestEntry = "manifest.json";

    internal static JsonSerializerOptions Json { get; } = new() { WriteIndented = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    /// <summary>Writes <paramref name="model"/> (and the schema it expects) to <paramref name="path"/> atomically.</summary>
    public static void Save(ITransformer model, DataViewSchema? inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        // Built in memory first: a transformer that cannot save leaves no file (and no temporary) behind.
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            var ctx = new ModelSaveContext(zip);
            var root = ctx.SaveTransformer(model);
            var manifest = new JsonObject
            {
                ["format"] = FormatName,
                ["version"] = Version,
                ["input_schema"] = new JsonArray((inputSchema ?? DataViewSchema.Create([]))
                    .Select(c => (JsonNode)new JsonObject { ["name"] = c.Name, ["type"] = c.Type.Name }).ToArray()),
                ["networks"] = ctx.NetworkEntries,
                ["transformer"] = root,
            };
            using var s = zip.CreateEntry(ManifestEntry).Open();
            s.Write(JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
        }
        var bytes = buffer.ToArray();
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>Reads a model file; <paramref name="inputSchema"/> is the schema it was saved with.</summary>
    public static ITransformer Load(string path, out DataViewSchema inputSchema)
    {
        using var zip = Open(path);
        var manifest = ReadManifest(zip, path);
        inputSchema = ReadSchema(manifest, path);
        var networks = manifest["networks"] as JsonObject ?? new JsonObject();
        var root = manifest["transformer"] as JsonObject ?? throw new InvalidDataException($"{path}: the manifest has no transformer");
        return ModelLoadContext.LoadRoot(path, zip, networks, root);
    }

    /// <summary>
    /// The network of a model: a <c>.safetensors</c> model file, or the first network stored in a model zip (a client
    /// that only upscales loads just this).
    /// </summary>
    public static RescaleNetwork LoadNetwork(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: model file not found", path);
        using (var probe = File.OpenRead(path))
        {
            Span<byte> head = stackalloc byte[4];
            if (probe.Read(head) < 4 || head[0] != (byte)'P' || head[1] != (byte)'K') return ModelFile.Load(path);
        }
        using var zip = Open(path);
        var manifest = ReadManifest(zip, path);
        var networks = manifest["networks"] as JsonObject;
        var first = networks?.FirstOrDefault() ?? throw new InvalidDataException($"{path}: the model holds no network");
        var root = manifest["transformer"] as JsonObject ?? throw new InvalidDataException($"{path}: the manifest has no transformer");
        return new ModelLoadContext(path, zip, networks!, root).LoadNetwork(first.Key);
    }

    private static ZipArchive Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: model file not found", path);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(new MemoryStream(File.ReadAllBytes(path)), ZipArchiveMode.Read);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a MLNet.Rescale model (not a zip archive: {e.Message})", e);
        }
        foreach (var entry in zip.Entries)
        {
            if (!IsSafeEntryName(entry.FullName))
            {
                zip.Dispose();
                throw new InvalidDataException($"{path}: refusing entry '{entry.FullName}' (absolute path or '..' component)");
            }
        }
        return zip;
    }

    /// <summary>Entry names are relative, forward-slashed and free of <c>..</c>, so no entry can name a place outside the archive.</summary>
    internal static bool IsSafeEntryName(string name) =>
        name.Length > 0 && !name.StartsWith('/') && !name.Contains('\\') && !name.Contains(':')
        && name.Split('/').All(part => part != "..");

    private static JsonObject ReadManifest(ZipArchive zip, string path)
    {
        var entry = zip.GetEntry(ManifestEntry)
            ?? throw new InvalidDataException($"{path}: not a MLNet.Rescale model (the zip has no {ManifestEntry})");
        JsonObject manifest;
        try
        {
            using var s = entry.Open();
            manifest = JsonNode.Parse(s) as JsonObject ?? throw new InvalidDataException($"{path}: {ManifestEntry} is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {ManifestEntry} is not valid JSON ({e.Message})", e);
        }
        string? format = manifest["format"] is JsonValue f && f.TryGetValue(out string? name) ? name : null;
        if (format != FormatName)
            throw new InvalidDataException($"{path}: not a MLNet.Rescale model (format '{format ?? "(none)"}', expected '{FormatName}')");
        int version = manifest["version"] is JsonValue v && v.TryGetValue(out int n) ? n
            : throw new InvalidDataException($"{path}: the manifest has no integer 'version'");
        if (version > Version)
            throw new InvalidDataException($"{path}: model format version {version} was written by a newer MLNet.Rescale; this version reads up to {Version}");
        if (version < 1) throw new InvalidDataException($"{path}: invalid model format version {version}");
        return manifest;
    }

    private static DataViewSchema ReadSchema(JsonObject manifest, string path)
    {
        var columns = new List<(string, DataViewType)>();
        foreach (var node in manifest["input_schema"] as JsonArray ?? [])
        {
            string? name = node?["name"]?.GetValue<string>();
            string? type = node?["type"]?.GetValue<string>();
            if (name is null || type is null) throw new InvalidDataException($"{path}: an input-schema column lacks its name or type");
            columns.Add((name, DataViewType.Parse(type, path)));
        }
        return DataViewSchema.Create(columns);
    }
}
