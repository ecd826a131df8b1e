using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Rescale.IO;

/// <summary>One tensor's record in a safetensors header.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// The safetensors format (8-byte little-endian header length, JSON header, raw little-endian data), the way
/// PyTorch users exchange weights. Parsing validates everything before any tensor is created: a malformed
/// file is an <see cref="InvalidDataException"/> naming the file and the problem, never an out-of-range read.
/// </summary>
public sealed class SafetensorsFile
{
    private const long MaxHeaderBytes = 100L << 20;
    private readonly byte[] bytes;
    private readonly int dataStart;

    private SafetensorsFile(string name, byte[] bytes, int dataStart, List<SafetensorsEntry> entries, List<KeyValuePair<string, string>> metadata)
    {
        Name = name;
        this.bytes = bytes;
        this.dataStart = dataStart;
        Entries = entries;
        MetadataPairs = metadata;
        Metadata = metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    /// <summary>The file name used in error messages.</summary>
    public string Name { get; }
    /// <summary>Tensor records in header order.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }
    /// <summary>The <c>__metadata__</c> map.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>The <c>__metadata__</c> map in header order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> MetadataPairs { get; }

    /// <summary>Reads and validates a file.</summary>
    public static SafetensorsFile Read(string path)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (IOException e) { throw new InvalidDataException($"{path}: cannot read ({e.Message})", e); }
        return Parse(data, path);
    }

    /// <summary>Validates bytes in memory; <paramref name="name"/> names them in errors.</summary>
    public static SafetensorsFile Parse(byte[] data, string name)
    {
        InvalidDataException Bad(string problem) => new($"{name}: not a valid safetensors file: {problem}");
        if (data.Length < 8) throw Bad($"{data.Length} bytes, shorter than the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(data);
        if (n > (ulong)(data.Length - 8)) throw Bad($"header length {n} goes past the end of the {data.Length}-byte file (truncated?)");
        if (n > MaxHeaderBytes) throw Bad($"header length {n} above the {MaxHeaderBytes}-byte limit");
        int start = 8 + (int)n;
        long dataSize = data.Length - start;
        var entries = new List<SafetensorsEntry>();
        var metadata = new List<KeyValuePair<string, string>>();
        try
        {
            using var doc = JsonDocument.Parse(data.AsMemory(8, (int)n));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("header is not a JSON object");
            var seen = new HashSet<string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw Bad($"duplicate entry '{prop.Name}'");
                if (prop.Name == "__metadata__")
                {
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata.Add(new(m.Name, m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw Bad($"metadata '{m.Name}' is not a string")));
                    continue;
                }
                entries.Add(ParseEntry(prop, dataSize, Bad));
            }
        }
        catch (JsonException e) { throw Bad($"header is not valid JSON ({e.Message})"); }
        catch (InvalidOperationException e) { throw Bad($"header has an unexpected layout ({e.Message})"); }
        catch (KeyNotFoundException e) { throw Bad($"header entry lacks a field ({e.Message})"); }
        catch (FormatException e) { throw Bad($"header has a number that is not a 64-bit integer ({e.Message})"); }
        catch (OverflowException e) { throw Bad($"header has a size that overflows ({e.Message})"); }
        long end = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < end) throw Bad($"'{e.Name}' at [{e.Begin}, {e.End}) overlaps the previous tensor ending at {end}");
            end = e.End;
        }
        return new SafetensorsFile(name, data, start, entries, metadata);
    }

    private static SafetensorsEntry ParseEntry(JsonProperty prop, long dataSize, Func<string, InvalidDataException> bad)
    {
        var v = prop.Value;
        string dtype = v.GetProperty("dtype").GetString() ?? "";
        int size = ElementSize(dtype) ?? throw bad($"'{prop.Name}' has unsupported dtype '{dtype}'");
        var shape = v.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        var offs = v.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        if (offs.Length != 2) throw bad($"'{prop.Name}' data_offsets must have two numbers");
        long numel = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw bad($"'{prop.Name}' has a negative dimension");
            numel = checked(numel * d);
        }
        if (offs[0] >= 0 && offs[1] >= offs[0] && offs[1] > dataSize)
            throw bad($"'{prop.Name}' data_offsets [{offs[0]}, {offs[1]}] out of the data range [0, {dataSize}]: the file ends {offs[1] - dataSize} bytes early (truncated?)");
        if (offs[0] < 0 || offs[1] < offs[0])
            throw bad($"'{prop.Name}' data_offsets [{offs[0]}, {offs[1]}] out of the data range [0, {dataSize}]");
        if (offs[1] - offs[0] != checked(numel * size))
            throw bad($"'{prop.Name}' shape [{string.Join(", ", shape)}] of {dtype} needs {numel * size} bytes, offsets give {offs[1] - offs[0]}");
        return new SafetensorsEntry(prop.Name, dtype, shape, offs[0], offs[1]);
    }

    private static int? ElementSize(string dtype) => dtype switch
    {
        "F32" or "I32" => 4,
        "F16" or "BF16" => 2,
        "F64" or "I64" => 8,
        "U8" or "BOOL" => 1,
        _ => null,
    };

    private static ScalarType ToDType(string dtype) => dtype switch
    {
        "F32" => ScalarType.Float32, "F16" => ScalarType.Float16, "BF16" => ScalarType.BFloat16, "F64" => ScalarType.Float64,
        "I64" => ScalarType.Int64, "I32" => ScalarType.Int32, "U8" => ScalarType.Byte, "BOOL" => ScalarType.Bool,
        _ => throw new NotSupportedException(dtype),
    };

    private static string FromDType(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "F32", ScalarType.Float16 => "F16", ScalarType.BFloat16 => "BF16", ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64", ScalarType.Int32 => "I32", ScalarType.Byte => "U8", ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException(dtype.ToString()),
    };

    /// <summary>Whether an entry of that name exists.</summary>
    public bool Contains(string name) => Entries.Any(e => e.Name == name);

    /// <summary>Creates the named tensor (in its stored dtype unless <paramref name="as"/> is given).</summary>
    public Tensor Load(string name, ScalarType? @as = null, Device? device = null)
    {
        var e = Entries.FirstOrDefault(x => x.Name == name)
            ?? throw new KeyNotFoundException($"{Name}: no tensor named '{name}'");
        var t = empty(e.Shape, ToDType(e.DType));
        if (e.End > e.Begin) t.bytes = bytes.AsSpan(dataStart + (int)e.Begin, (int)(e.End - e.Begin));
        if (@as is { } d && d != t.dtype) t = t.to(d, disposeAfter: true);
        if (device is { } dev && dev.type != DeviceType.CPU) t = t.to(dev, disposeAfter: true);
        return t;
    }

    /// <summary>Every tensor whose name starts with <paramref name="prefix"/>, keyed without the prefix, in header order.</summary>
    public List<KeyValuePair<string, Tensor>> LoadAll(string prefix = "", ScalarType? @as = null, Device? device = null) =>
        Entries.Where(e => e.Name.StartsWith(prefix, StringComparison.Ordinal))
            .Select(e => new KeyValuePair<string, Tensor>(e.Name[prefix.Length..], Load(e.Name, @as, device))).ToList();

    /// <summary>Writes tensors (in the given order) and metadata atomically.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        var bytes = Serialize(tensors, metadata);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>The file's bytes: compact JSON header (tensors in order, then <c>__metadata__</c>), space-padded to 8 bytes.</summary>
    public static byte[] Serialize(IEnumerable<KeyValuePair<string, Tensor>> tensors, IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        var list = tensors.ToList();
        var blobs = list.Select(kv => Bytes(kv.Value)).ToList();
        var h = new StringBuilder("{");
        long off = 0;
        for (int i = 0; i < list.Count; i++)
        {
            var (name, t) = list[i];
            if (i > 0) h.Append(',');
            h.Append(Quote(name)).Append(":{\"dtype\":\"").Append(FromDType(t.dtype)).Append("\",\"shape\":[")
             .Append(string.Join(',', t.shape.Select(d => d.ToString(CultureInfo.InvariantCulture))))
             .Append("],\"data_offsets\":[").Append(off.ToString(CultureInfo.InvariantCulture)).Append(',')
             .Append((off + blobs[i].Length).ToString(CultureInfo.InvariantCulture)).Append("]}");
            off += blobs[i].Length;
        }
        var meta = metadata?.ToList();
        if (meta is { Count: > 0 })
        {
            if (list.Count > 0) h.Append(',');
            h.Append("\"__metadata__\":{")
             .Append(string.Join(',', meta.Select(kv => Quote(kv.Key) + ":" + Quote(kv.Value)))).Append('}');
        }
        h.Append('}');
        while (Encoding.UTF8.GetByteCount(h.ToString()) % 8 != 0) h.Append(' ');
        var header = Encoding.UTF8.GetBytes(h.ToString());
        var result = new byte[8 + header.Length + off];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)header.Length);
        header.CopyTo(result, 8);
        long pos = 8 + header.Length;
        foreach (var b in blobs)
        {
            b.CopyTo(result, pos);
            pos += b.Length;
        }
        return result;
    }

    /// <summary>The tensor's elements, row-major, as little-endian bytes (copied to the CPU first if needed).</summary>
    private static byte[] Bytes(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().cpu().contiguous().bytes.ToArray();
    }

    // JSON string escaping as Python's json.dumps (ensure_ascii), so files written by the
    // reference tools round-trip byte for byte.
    private static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || c > 0x7e) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
