using System.Globalization;
using System.Text.RegularExpressions;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.Rescale.IO;

namespace MLNet.Rescale;

/// <summary>
/// A model file is one safetensors file: the network's weights under the reference parameter names and, in
/// the header's <c>__metadata__</c>, the architecture (<c>model</c> = IRN or SAIN, <c>scale</c>, <c>gc</c>, <c>clamp</c>;
/// IRN: <c>block_num</c>, <c>latent_scale</c> (absent: 1); SAIN: <c>e_blocks</c>, <c>v_blocks</c>, <c>gmm_components</c>) plus free-form training notes. Loading picks the architecture from the metadata.
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
        network.state_dict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value));

    private static List<KeyValuePair<string, string>> Metadata(RescaleNetwork network, IEnumerable<KeyValuePair<string, string>>? notes)
    {
        var meta = new List<KeyValuePair<string, string>> { new(FormatKey, FormatVersion) };
        meta.AddRange(network.ArchitectureMetadata());
        if (notes is not null) meta.AddRange(notes.Where(kv => meta.All(m => m.Key != kv.Key)));
        return meta;
    }

    /// <summary>
    /// Reads a model file (or a conformance vector holding <c>model.*</c> weights) into the network it describes; a
    /// PyTorch checkpoint (<c>.pth</c>, recognized by its content) is read by <see cref="LoadPyTorch"/>.
    /// </summary>
    public static RescaleNetwork Load(string path, Device? device = null) =>
        File.Exists(path) && PthFile.LooksLikeCheckpoint(path) ? LoadPyTorch(path, null, device) : Load(SafetensorsFile.Read(path), device);

    /// <summary>
    /// Reads a PyTorch checkpoint of IRN or SAIN (a state dict under the reference names, as the papers' released
    /// <c>IRN_x4.pth</c> or <c>SAINx2_JPEG.pth</c>, or a training checkpoint holding one) into the network it describes,
    /// as data only (see <see cref="PthFile"/>). The architecture is inferred from the tensors' names and shapes
    /// (<see cref="InferArchitecture"/>); <paramref name="architecture"/> overrides or adds metadata entries (for
    /// example <c>clamp</c>, which the weights cannot tell, or <c>latent_scale</c>).
    /// </summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, not data only, or not an IRN/SAIN state dict.</exception>
    public static RescaleNetwork LoadPyTorch(string path, IReadOnlyDictionary<string, string>? architecture = null, Device? device = null)
    {
        var state = PthFile.ReadStateDict(path);
        try
        {
            var meta = InferArchitecture(state.Select(kv => new KeyValuePair<string, long[]>(kv.Key, kv.Value.shape)), path);
            if (architecture is not null) foreach (var (k, v) in architecture) meta[k] = v;
            var nonFloat = state.Where(kv => !is_floating_point(kv.Value)).Select(kv => $"{kv.Key} ({kv.Value.dtype})").ToList();
            if (nonFloat.Count > 0) throw new InvalidDataException($"{path}: weights must be floating point; {Summarize(nonFloat)} {(nonFloat.Count == 1 ? "is" : "are")} not");
            var network = Create(meta, path);
            try
            {
                using var scope = NewDisposeScope();
                var tensors = state.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32));
                RequireFinite(tensors, path);
                StateDicts.LoadStrict(network, tensors, path);
                if (device is { } d) network.to(d);
                return network;
            }
            catch
            {
                network.Dispose();
                throw;
            }
        }
        finally
        {
            foreach (var (_, t) in state) t.Dispose();
        }
    }

    /// <summary>
    /// The model metadata a state dict's tensor names and shapes imply: IRN (<c>operations.{i}.haar_weights</c> and
    /// coupling blocks between them: scale 2^levels, <c>block_num</c> per level) or SAIN (<c>haar_operations</c>,
    /// <c>down_operations</c>, <c>comp_operations</c>, <c>gmm.gmm_para</c>), with the growth from the first
    /// convolution. The coupling clamp cannot be told from weights: 1.0 (both papers') unless overridden.
    /// </summary>
    public static Dictionary<string, string> InferArchitecture(IEnumerable<KeyValuePair<string, long[]>> shapes, string source)
    {
        var all = shapes.ToDictionary(kv => kv.Key, kv => kv.Value);
        static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        List<int> Indices(string pattern) => all.Keys.Select(k => Regex.Match(k, pattern)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().Order().ToList();
        long Growth(string conv1) => all.TryGetValue(conv1, out var w) && w.Length == 4 ? w[0]
            : throw new InvalidDataException($"{source}: {conv1} is missing or not a convolution weight");
        var meta = new Dictionary<string, string> { [FormatKey] = FormatVersion, ["clamp"] = "1.0", ["converted_from"] = Path.GetFileName(source) };
        var sainHaar = Indices(@"^haar_operations\.(\d+)\.haar_weights$");
        if (sainHaar.Count > 0)
        {
            var down = Indices(@"^down_operations\.(\d+)\.E\.conv1\.weight$");
            var comp = Indices(@"^comp_operations\.(\d+)\.F\.conv1\.weight$");
            if (down.Count == 0) throw new InvalidDataException($"{source}: a SAIN state dict without down_operations.*.E");
            meta["model"] = "SAIN";
            meta["scale"] = I(1L << sainHaar.Count);
            meta["e_blocks"] = I(down.Count);
            meta["v_blocks"] = I(comp.Count);
            meta["gmm_components"] = all.TryGetValue("gmm.gmm_para", out var g) && g.Length == 2 ? I(g[1])
                : throw new InvalidDataException($"{source}: a SAIN state dict without gmm.gmm_para [3, K]");
            meta["gc"] = I(Growth($"down_operations.{down[0]}.E.conv1.weight"));
            return meta;
        }
        var haar = Indices(@"^operations\.(\d+)\.haar_weights$");
        var blocks = Indices(@"^operations\.(\d+)\.F\.conv1\.weight$");
        if (haar.Count == 0)
            throw new InvalidDataException($"{source}: neither an IRN state dict (operations.{{i}}.haar_weights) nor a SAIN one (haar_operations.{{i}}.haar_weights); its first keys: {string.Join(", ", all.Keys.Take(5))}");
        if (haar[0] != 0) throw new InvalidDataException($"{source}: operations.0 is not a Haar transform");
        var perLevel = haar.Select((h, level) => blocks.Count(b => b > h && (level + 1 == haar.Count || b < haar[level + 1]))).ToList();
        meta["model"] = "IRN";
        meta["scale"] = I(1L << haar.Count);
        meta["block_num"] = "[" + string.Join(", ", perLevel) + "]";
        meta["gc"] = blocks.Count > 0 ? I(Growth($"operations.{blocks[0]}.F.conv1.weight")) : "32";
        return meta;
    }

    /// <summary>Builds the network a parsed safetensors file describes and loads its weights.</summary>
    public static RescaleNetwork Load(SafetensorsFile file, Device? device = null)
    {
        var network = Create(file.Metadata, file.Name);
        try
        {
            LoadWeights(network, file);
            if (device is { } d) network.to(d);
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
        var integral = file.Entries.Where(e => e.Name.StartsWith(prefix, StringComparison.Ordinal)
                                               && !e.Name.StartsWith(prefix + "io.", StringComparison.Ordinal)
                                               && e.DType is not ("F32" or "F16" or "BF16" or "F64"))
            .Select(e => $"{e.Name} ({e.DType})").ToList();
        if (integral.Count > 0)
            throw new InvalidDataException($"{file.Name}: weights must be floating point (F32, F16, BF16 or F64); {Summarize(integral)} {(integral.Count == 1 ? "is" : "are")} not");
        using var scope = NewDisposeScope();
        var tensors = file.LoadAll(prefix, ScalarType.Float32).Where(kv => !kv.Key.StartsWith("io.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        RequireFinite(tensors, file.Name);
        try
        {
            StateDicts.LoadStrict(network, tensors, file.Name);
        }
        catch (InvalidDataException e) when (file.Metadata.ContainsKey("model"))
        {
            // Whatever the file says the architecture is, its tensors are of another one: say both.
            var arch = network.ArchitectureMetadata().Select(kv => $"{kv.Key}={kv.Value}");
            throw new InvalidDataException($"{e.Message} (the architecture in the metadata, {string.Join(", ", arch)}, disagrees with the tensors)", e);
        }
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming every tensor of <paramref name="weights"/> that holds a NaN or an
    /// infinity (with their counts): such weights turn every output into NaN, so a file holding them is refused.
    /// </summary>
    /// <param name="weights">Named float32 tensors.</param>
    /// <param name="source">The file, for the message.</param>
    public static void RequireFinite(IEnumerable<KeyValuePair<string, Tensor>> weights, string source)
    {
        var bad = new List<string>();
        foreach (var (name, t) in weights)
        {
            if (t.dtype != ScalarType.Float32) continue;
            int nan = 0, inf = 0;
            foreach (float v in t.data<float>().ToArray())
            {
                if (float.IsNaN(v)) nan++;
                else if (float.IsInfinity(v)) inf++;
            }
            if (nan + inf > 0) bad.Add($"{name} ({(nan > 0 ? $"{nan} NaN" : "")}{(nan > 0 && inf > 0 ? ", " : "")}{(inf > 0 ? $"{inf} infinite" : "")})");
        }
        if (bad.Count > 0)
            throw new InvalidDataException($"{source}: weights are not finite in {Summarize(bad)} (a diverged training run or a corrupt file)");
    }

    private static string Summarize(List<string> items) =>
        items.Count <= 5 ? string.Join(", ", items) : string.Join(", ", items.Take(5)) + $" and {items.Count - 5} more";

    /// <summary>
    /// The spread of the latent an IRN model was trained with and upscales with: its <c>latent_scale</c>, or 1 (the
    /// reference's N(0, 1)) when the metadata has none.
    /// </summary>
    public static double LatentScaleOf(IReadOnlyDictionary<string, string> meta, string source)
    {
        if (!meta.TryGetValue("latent_scale", out var text)) return 1.0;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double latentScale))
            throw new InvalidDataException($"{source}: metadata 'latent_scale' = '{text}' is not a number");
        if (!double.IsFinite(latentScale) || latentScale < 0 || latentScale > 100)
            throw new InvalidDataException($"{source}: metadata 'latent_scale' = {latentScale} is not in [0, 100]");
        return latentScale;
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
        // Bounds on every size the metadata sets, checked before anything is allocated: a hostile or corrupt file
        // must not make us build a network of a million blocks or channels.
        int Bounded(string key, int value, int min, int max) => value >= min && value <= max ? value
            : throw new InvalidDataException($"{source}: metadata '{key}' = {value} is outside [{min}, {max}]");
        string arch = Get("model");
        int growth = Bounded("gc", meta.ContainsKey("gc") ? Int("gc") : 32, 1, MaxGrowth);
        double clamp = Dbl("clamp", 1.0);
        if (!double.IsFinite(clamp) || clamp <= 0 || clamp > 100)
            throw new InvalidDataException($"{source}: metadata 'clamp' = {clamp} is not in (0, 100]");
        double latentScale = LatentScaleOf(meta, source);
        int scale = Int("scale");
        if (scale is not (2 or 4 or 8))
            throw new InvalidDataException($"{source}: metadata 'scale' = {scale} is not 2, 4 or 8");
        try
        {
            return arch switch
            {
                "IRN" => new InvRescaleNet(new IrnOptions
                {
                    Scale = scale, Growth = growth, Clamp = clamp, LatentScale = latentScale,
                    BlocksPerLevel = IntList(Get("block_num"), source).Select(b => Bounded("block_num", b, 0, MaxBlocks)).ToArray(),
                }),
                "SAIN" => new SainNetwork(new SainOptions
                {
                    Scale = scale, EnhancedBlocks = Bounded("e_blocks", Int("e_blocks"), 1, MaxBlocks),
                    VanillaBlocks = Bounded("v_blocks", Int("v_blocks"), 0, MaxBlocks),
                    MixtureComponents = Bounded("gmm_components", meta.ContainsKey("gmm_components") ? Int("gmm_components") : 5, 1, 64),
                    Growth = growth, Clamp = clamp,
                }),
                _ => throw new InvalidDataException($"{source}: unknown architecture '{arch}' (known: IRN, SAIN)"),
            };
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: the architecture metadata is inconsistent: {e.Message}", e);
        }
    }

    /// <summary>Most coupling blocks per level (or SAIN blocks) a model file may declare.</summary>
    public const int MaxBlocks = 64;

    /// <summary>Largest dense-block growth a model file may declare.</summary>
    public const int MaxGrowth = 1024;

    private static int[] IntList(string text, string source)
    {
        var m = IntListPattern().Match(text);
        if (!m.Success) throw new InvalidDataException($"{source}: '{text}' is not a list of integers like [8, 8]");
        return m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
                : throw new InvalidDataException($"{source}: '{s}' in '{text}' is not a 32-bit integer")).ToArray();
    }

    [GeneratedRegex(@"^\s*\[?\s*([0-9,\s]*)\]?\s*$")]
    private static partial Regex IntListPattern();
}
