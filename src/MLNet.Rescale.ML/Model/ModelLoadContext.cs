using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.ML.Rescaling;
using MLNet.Rescale.ML.Transforms;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors.IO;

namespace MLNet.Rescale.ML.Model;

/// <summary>What a transformer reads itself back from: its options, its networks and its children. Errors name the file.</summary>
public sealed class ModelLoadContext
{
    private static readonly Dictionary<string, Func<ModelLoadContext, ITransformer>> Loaders = new()
    {
        [TransformerChain<ITransformer>.Kind] = TransformerChain<ITransformer>.Load,
        [ImageLoadingTransformer.Kind] = ImageLoadingTransformer.Load,
        [ImageResizingTransformer.Kind] = ImageResizingTransformer.Load,
        [ImageCroppingTransformer.Kind] = ImageCroppingTransformer.Load,
        [ImageModCropTransformer.Kind] = ImageModCropTransformer.Load,
        [ImageGrayscaleTransformer.Kind] = ImageGrayscaleTransformer.Load,
        [ImageCompressingTransformer.Kind] = ImageCompressingTransformer.Load,
        [ImageSavingTransformer.Kind] = ImageSavingTransformer.Load,
        [InvertibleDownscalerTransformer.Kind] = InvertibleDownscalerTransformer.Load,
        [CompressionAwareUpscalerTransformer.Kind] = CompressionAwareUpscalerTransformer.Load,
        [CollaborativeLrOptimizerTransformer.Kind] = CollaborativeLrOptimizerTransformer.Load,
    };

    private readonly Networks networks;
    private readonly JsonObject node;

    internal ModelLoadContext(string source, ZipArchive zip, JsonObject networkEntries, JsonObject node)
        : this(source, new Networks(source, zip, networkEntries), node) { }

    private ModelLoadContext(string source, Networks networks, JsonObject node)
    {
        Source = source;
        this.networks = networks;
        this.node = node;
        Kind = node["kind"] is JsonValue v && v.TryGetValue(out string? kind) ? kind : throw Error("a transformer has no 'kind'");
    }

    /// <summary>The file being read (for error messages).</summary>
    public string Source { get; }

    /// <summary>The component's kind.</summary>
    public string Kind { get; }

    /// <summary>The component's settings.</summary>
    public T ReadOptions<T>()
    {
        var options = node["options"] ?? throw Error($"transformer '{Kind}' has no options");
        try
        {
            return options.Deserialize<T>(ModelFormat.Json) ?? throw Error($"transformer '{Kind}' has empty options");
        }
        catch (JsonException e)
        {
            throw Error($"the options of transformer '{Kind}' are invalid: {e.Message}");
        }
    }

    /// <summary>The network stored under <paramref name="id"/> (one instance per id, shared by every transformer that uses it).</summary>
    public RescaleNetwork LoadNetwork(string id) => networks.Load(id);

    /// <summary>The nested transformers, in order.</summary>
    public IReadOnlyList<ITransformer> LoadChildren()
    {
        if (node["children"] is not JsonArray children) throw Error($"transformer '{Kind}' has no children list");
        return children.Select(c => LoadTransformer(c as JsonObject ?? throw Error("a child transformer is not a JSON object"))).ToList();
    }

    internal ITransformer LoadTransformer(JsonObject child)
    {
        var ctx = new ModelLoadContext(Source, networks, child);
        if (!Loaders.TryGetValue(ctx.Kind, out var load))
            throw ctx.Error($"unknown transformer kind '{ctx.Kind}' (written by a newer version or another library?)");
        return load(ctx);
    }

    internal static ITransformer LoadRoot(string source, ZipArchive zip, JsonObject networkEntries, JsonObject root)
    {
        var ctx = new ModelLoadContext(source, zip, networkEntries, root);
        return ctx.LoadTransformer(root);
    }

    internal InvalidDataException Error(string message) => new($"{Source}: {message}");

    private sealed class Networks(string source, ZipArchive zip, JsonObject entries)
    {
        private readonly Dictionary<string, RescaleNetwork> loaded = new();

        public RescaleNetwork Load(string id)
        {
            if (loaded.TryGetValue(id, out var network)) return network;
            if (entries[id] is not JsonValue v || !v.TryGetValue(out string? entryName))
                throw new InvalidDataException($"{source}: network '{id}' is not listed in the manifest");
            var entry = zip.GetEntry(entryName) ?? throw new InvalidDataException($"{source}: entry '{entryName}' of network '{id}' is missing");
            using var stream = entry.Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            network = ModelFile.Load(SafetensorsFile.Parse(buffer.ToArray(), $"{source}!{entryName}"));
            loaded[id] = network;
            return network;
        }
    }
}
