using System.Globalization;
using System.Text.RegularExpressions;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Tensors;
using MLNet.Rescale.Tensors.IO;

namespace MLNet.Rescale;

/// <summary>
/// A model file is one safetensors file: the network's weights under the reference parameter names and, in
/// the header's <c>__metadata__</c>, the architecture (<c>model</c> = IRN or SAIN, <c>scale</c>, <c>gc</c>, <c>clamp</c>;
/// IRN: <c>block_num</c>; SAIN: <c>e_blocks</c>, <c>v_blocks</c>, <c>gmm_components</c>) plus free-form training notes. Loading picks the architecture from the metadata.
/// </summary>
public static partial class ModelFile
{
    /// <summary>Metadata key of this library's format version.</summary>
    public const string FormatKey = "format";
    /// <summary>The format version written.</summary>
    public const string FormatVersion = "mlnet-rescale/1";

    /// <summary>Writes the network and metadata atomically.</summary>
    public static void Save(RescaleNetwork network, string path, IEnumerable<KeyValuePair<string, string>>? notes = null)
        => SafetensorsFile.Write(path, Weights(network), Metadata(network, notes));

    /// <summary>The bytes <see cref="Save"/> writes, for containers that hold a model file as one of their entries.</summary>
    public static byte[] Serialize(RescaleNetwork network, IEnumerable<KeyValuePair<string, string>>? notes = null)
        => SafetensorsFile.Serialize(Weights(network), Metadata(network, notes));

    private static IEnumerable<KeyValuePair<string, Tensor>> Weights(RescaleNetwork network) =>
        network.NamedParameters().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Value));

    private static List<KeyValuePair<string, string>> Metadata(RescaleNetwork network, IEnumerable<KeyValuePair<string, string>>? notes)
    {
        var meta = new List<KeyValuePair<string, string>> { new(FormatKey, FormatVersion) };
        meta.AddRange(network.ArchitectureMetadata());
        if (notes is not null) meta.AddRange(notes.Where(kv => meta.All(m => m.Key != kv.Key)));
        return meta;
    }

    /// <summary>Reads a model file (or a conformance vector holding <c>model.*</c> weights) into the network it describes.</summary>
    public static RescaleNetwork Load(string path, Device? device = null) => Load(SafetensorsFile.Read(path), device);

    /// <summary>Builds the network a parsed safetensors file describes and loads its weights.</summary>
    public static RescaleNetwork Load(SafetensorsFile file, Device? device = null)
    {
        var network = Create(file.Metadata, file.Name);
        try
        {
            LoadWeights(network, file);
            if (device is { } d) network.To(d);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the weights of a safetensors file into <paramref name="network"/> by parameter name: a model file, a
    /// PyTorch state dict exported as safetensors, or a conformance vector (weights under <c>model.*</c> beside
    /// its <c>io.*</c> tensors). Missing, extra or wrongly shaped tensors are one error listing the names.
    /// </summary>
    public static void LoadWeights(RescaleNetwork network, SafetensorsFile file)
    {
        string prefix = file.Entries.Any(e => e.Name.StartsWith("model.", StringComparison.Ordinal)) ? "model." : "";
        using var scope = Torch.NewScope();
        var tensors = file.LoadAll(prefix, DType.Float32).Where(kv => !kv.Key.StartsWith("io.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        network.LoadStateDict(tensors, file.Name);
    }

    /// <summary>A fresh network of the architecture the metadata describes.</summary>
    public static RescaleNetwork Create(IReadOnlyDictionary<string, string> meta, string source)
    {
        string Get(string key) => meta.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"{source}: model metadata lacks '{key}' (is this a MLNet.Rescale model file?)");
        int Int(string key) => int.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new InvalidDataException($"{source}: metadata '{key}' = '{Get(key)}' is not an integer");
        double Dbl(string key, double fallback) => !meta.ContainsKey(key) ? fallback
            : double.TryParse(Get(key), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
            : throw new InvalidDataException($"{source}: metadata '{key}' = '{Get(key)}' is not a number");
        if (meta.TryGetValue(FormatKey, out var fmt) && fmt != FormatVersion)
            throw new InvalidDataException($"{source}: model format '{fmt}' is not supported by this version (expects '{FormatVersion}')");
        string arch = Get("model");
        int growth = meta.ContainsKey("gc") ? Int("gc") : 32;
        double clamp = Dbl("clamp", 1.0);
        return arch switch
        {
            "IRN" => new InvRescaleNet(new IrnOptions { Scale = Int("scale"), BlocksPerLevel = IntList(Get("block_num"), source), Growth = growth, Clamp = clamp }),
            "SAIN" => new SainNetwork(new SainOptions
            {
                Scale = Int("scale"), EnhancedBlocks = Int("e_blocks"), VanillaBlocks = Int("v_blocks"),
                MixtureComponents = meta.ContainsKey("gmm_components") ? Int("gmm_components") : 5, Growth = growth, Clamp = clamp,
            }),
            _ => throw new InvalidDataException($"{source}: unknown architecture '{arch}' (known: IRN, SAIN)"),
        };
    }

    private static int[] IntList(string text, string source)
    {
        var m = IntListPattern().Match(text);
        if (!m.Success) throw new InvalidDataException($"{source}: '{text}' is not a list of integers like [8, 8]");
        return m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    }

    [GeneratedRegex(@"^\s*\[?\s*([0-9,\s]*)\]?\s*$")]
    private static partial Regex IntListPattern();
}
