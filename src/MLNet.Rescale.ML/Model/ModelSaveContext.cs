using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLNet.Rescale.ML.Core;
using MLNet.Rescale.Networks;

namespace MLNet.Rescale.ML.Model;

/// <summary>
/// What a transformer writes itself into when a model is saved: its kind (which loader reads it back), its options as
/// JSON, the networks it uses (stored once per network as safetensors entries of the zip, however many transformers
/// share them) and, for chains, its children.
/// </summary>
public sealed class ModelSaveContext
{
    private readonly Networks networks;

    internal ModelSaveContext(ZipArchive zip) : this(new Networks(zip)) { }

    private ModelSaveContext(Networks networks) => this.networks = networks;

    internal JsonObject Node { get; } = new();

    internal JsonObject NetworkEntries => networks.Entries;

    /// <summary>Names the loader of this component (unique per transformer type).</summary>
    public void SetKind(string kind) => Node["kind"] = kind;

    /// <summary>Stores the component's settings (a record serialized as JSON).</summary>
    public void SetOptions<T>(T options) => Node["options"] = JsonSerializer.SerializeToNode(options, ModelFormat.Json);

    /// <summary>
    /// Stores a network's weights and architecture (a model file, as <see cref="ModelFile.Save"/> writes it, under
    /// <c>networks/</c>) and returns its id; a network already stored returns the same id.
    /// </summary>
    public string SaveNetwork(RescaleNetwork network) => networks.Save(network);

    /// <summary>Saves nested transformers (a chain's members), in order.</summary>
    public void SaveChildren(IEnumerable<ITransformer> children) =>
        Node["children"] = new JsonArray(children.Select(c => (JsonNode)SaveTransformer(c)).ToArray());

    internal JsonObject SaveTransformer(ITransformer transformer)
    {
        var child = new ModelSaveContext(networks);
        transformer.Save(child);
        if (child.Node["kind"] is null) throw new InvalidOperationException($"{transformer.GetType().Name}.Save did not set its kind");
        return child.Node;
    }

    private sealed class Networks(ZipArchive zip)
    {
        private readonly Dictionary<RescaleNetwork, string> ids = new(ReferenceEqualityComparer.Instance);

        public JsonObject Entries { get; } = new();

        public string Save(RescaleNetwork network)
        {
            if (ids.TryGetValue(network, out var id)) return id;
            id = $"net{ids.Count}";
            string entry = $"networks/{id}.safetensors";
            var bytes = ModelFile.Serialize(network);
            using (var s = zip.CreateEntry(entry, CompressionLevel.NoCompression).Open()) s.Write(bytes);
            ids[network] = id;
            Entries[id] = entry;
            return id;
        }
    }
}
