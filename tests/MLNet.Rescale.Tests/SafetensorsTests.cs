using System.Buffers.Binary;
using System.Text;
using MLNet.Rescale.IO;
using MLNet.Rescale.Tests.Shared;
using TorchSharp;
using Xunit;
using static MLNet.Rescale.Tests.TorchTestUtil;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

/// <summary>The safetensors reader and writer (moved from the binding's tests with the format code).</summary>
public class SafetensorsTests
{
    public static TheoryData<string> ConformanceFiles()
    {
        var d = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(TestPaths.Fixtures, "conformance"), "*.safetensors").OrderBy(f => f))
            d.Add(Path.GetFileName(f));
        return d;
    }

    [Fact]
    public void ThereAreConformanceFiles() => Assert.True(ConformanceFiles().Count >= 5);

    [Theory]
    [MemberData(nameof(ConformanceFiles))]
    public void ConformanceFilesRoundTripByteForByte(string name)
    {
        using var s = NewDisposeScope();
        var path = TestPaths.Conformance(name);
        var original = File.ReadAllBytes(path);
        var file = SafetensorsFile.Read(path);
        Assert.NotEmpty(file.Entries);
        Assert.NotEmpty(file.MetadataPairs);
        var tensors = file.LoadAll();
        Assert.Equal(file.Entries.Select(e => e.Name), tensors.Select(kv => kv.Key));
        var bytes = SafetensorsFile.Serialize(tensors, file.MetadataPairs);
        Assert.Equal(original.Length, bytes.Length);
        Assert.True(original.AsSpan().SequenceEqual(bytes), "bytes differ");
    }

    [Fact]
    public void LoadWithPrefixAndConversion()
    {
        using var s = NewDisposeScope();
        var file = SafetensorsFile.Read(TestPaths.Conformance("bicubic_small.safetensors"));
        var io = file.LoadAll("io.", ScalarType.Float64);
        Assert.All(io, kv => Assert.False(kv.Key.StartsWith("io.")));
        Assert.All(io, kv => Assert.Equal(ScalarType.Float64, kv.Value.dtype));
        Assert.True(file.Contains("io.input_hwc"));
        Assert.Equal(new long[] { 37, 50, 3 }, file.Load("io.input_hwc").shape);
        Assert.Throws<KeyNotFoundException>(() => file.Load("nope"));
    }

    [Fact]
    public void HalfBFloat16AndOtherTypesWriteAndRead()
    {
        using var s = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("st-");
        try
        {
            var path = Path.Combine(dir.FullName, "types.safetensors");
            var f32 = tensor(new[] { 1.5f, -2.25f, 3, 65504, 1e-3f, 0.1f }, [2, 3]);
            var tensors = new List<KeyValuePair<string, Tensor>>
            {
                new("h", f32.to(ScalarType.Float16)),
                new("b", f32.to(ScalarType.BFloat16)),
                new("f", f32),
                new("d", f32.to(ScalarType.Float64)),
                new("i", tensor(new long[] { 1, -2, long.MaxValue }, [3])),
                new("i32", tensor(new[] { 7 }, [1])),
                new("u", tensor(new byte[] { 0, 255 }, [2])),
                new("m", f32.gt(0)),
                new("scalar", tensor(2.5f)),
                new("empty", zeros([0, 4])),
            };
            SafetensorsFile.Write(path, tensors, [new("format", "pt"), new("note", "ünïcode \"quoted\"\n")]);
            var file = SafetensorsFile.Read(path);
            Assert.Equal(["F16", "BF16", "F32", "F64", "I64", "I32", "U8", "BOOL", "F32", "F32"], file.Entries.Select(e => e.DType));
            Assert.Equal("ünïcode \"quoted\"\n", file.Metadata["note"]);
            var back = file.LoadAll();
            for (int i = 0; i < tensors.Count; i++)
            {
                Assert.Equal(tensors[i].Key, back[i].Key);
                Assert.Equal(tensors[i].Value.dtype, back[i].Value.dtype);
                Assert.Equal(tensors[i].Value.shape, back[i].Value.shape);
                Assert.Equal(Bytes(tensors[i].Value), Bytes(back[i].Value));
            }
            Assert.Equal(new[] { (Half)1.5, (Half)(-2.25), (Half)3, (Half)65504, (Half)1e-3f, (Half)0.1f }, back[0].Value.data<Half>().ToArray());
            // bfloat16 keeps 8 significant bits (round to nearest even): 0.1 → 0.10009765625, 1e-3 → 0.00099945068359375, 65504 → 65536
            Close([1.5, -2.25, 3, 65536, 0.00099945068359375, 0.10009765625], Doubles(file.Load("b", ScalarType.Float32)), 0);
            Assert.Equal(new ushort[] { 0x3FC0, 0xC010 }, BytesAsUInt16(Bytes(back[1].Value)).Take(2));
            // a rewrite is byte-identical
            Assert.Equal(File.ReadAllBytes(path), SafetensorsFile.Serialize(back, file.MetadataPairs));
            // The atomic write left nothing beside the file (no temporary file).
            Assert.Equal([path], Directory.GetFiles(dir.FullName));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    private static byte[] Bytes(Tensor t) => t.contiguous().bytes.ToArray();

    private static IEnumerable<ushort> BytesAsUInt16(byte[] b)
    {
        for (int i = 0; i + 1 < b.Length; i += 2) yield return BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(i));
    }

    [Fact]
    public void HeaderIsPaddedToEightBytes()
    {
        using var s = NewDisposeScope();
        for (int n = 1; n < 12; n++)
        {
            var bytes = SafetensorsFile.Serialize([new(new string('x', n), zeros([1]))]);
            Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes) % 8);
            Assert.Single(SafetensorsFile.Parse(bytes, "p").Entries);
        }
    }

    // ---- malformed files ----------------------------------------------------------------------

    private const string Name = "case.safetensors";

    private static byte[] Make(string header, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var b = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)h.Length);
        h.CopyTo(b, 8);
        return b;
    }

    private const string A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}";
    private const string B = "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]}";
    private const string Meta = "\"__metadata__\":{\"k\":\"v\"}";

    private static byte[] Valid() => Make("{" + A + "," + B + "," + Meta + "}", 40);

    private static InvalidDataException Rejects(byte[] bytes, string? fragment = null)
    {
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Parse(bytes, Name));
        Assert.Contains(Name, e.Message);
        if (fragment is not null) Assert.Contains(fragment, e.Message);
        return e;
    }

    [Fact]
    public void TheHandMadeFileIsValid()
    {
        using var s = NewDisposeScope();
        var f = SafetensorsFile.Parse(Valid(), Name);
        Assert.Equal(["a", "b"], f.Entries.Select(e => e.Name));
        Assert.Equal("v", f.Metadata["k"]);
        Assert.Equal(new long[] { 2, 3 }, f.Load("a").shape);
        // the serializer writes exactly this layout (plus padding)
        var round = SafetensorsFile.Serialize(f.LoadAll(), f.MetadataPairs);
        Assert.Equal(Encoding.UTF8.GetString(Valid(), 8, Valid().Length - 48), Encoding.UTF8.GetString(round, 8, round.Length - 48).TrimEnd());
    }

    [Fact]
    public void RejectsATruncatedFile()
    {
        var v = Valid();
        Rejects(v[..^5], "out of the data range");
        Rejects(v[..^40], "out of the data range");
        Rejects(v[..20], "header length");
    }

    [Fact]
    public void RejectsAHeaderLengthBeyondTheFile()
    {
        var v = Valid();
        BinaryPrimitives.WriteUInt64LittleEndian(v, (ulong)v.Length);
        Rejects(v, "header length");
        BinaryPrimitives.WriteUInt64LittleEndian(v, ulong.MaxValue);
        Rejects(v, "header length");
        BinaryPrimitives.WriteUInt64LittleEndian(v, 1UL << 62);
        Rejects(v, "header length");
    }

    [Fact]
    public void RejectsEmptyAndShortFiles()
    {
        Rejects([], "0 bytes");
        Rejects(new byte[7], "7 bytes");
        Rejects(new byte[8]); // header length 0: not JSON
    }

    [Fact]
    public void RejectsOverlappingOffsets()
    {
        var b = "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}";
        Rejects(Make("{" + A + "," + b + "}", 40), "overlaps");
        // overlap regardless of header order
        Rejects(Make("{" + b + "," + A + "}", 40), "overlaps");
        var same = "\"c\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}";
        Rejects(Make("{" + A + "," + same + "}", 40), "overlaps");
    }

    [Fact]
    public void RejectsOutOfRangeOffsets()
    {
        Rejects(Make("{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[24,44]}}", 40), "out of the data range");
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[-4,0]}}", 40), "out of the data range");
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 40), "out of the data range");
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 40), "two numbers");
    }

    [Fact]
    public void RejectsAShapeThatDisagreesWithTheByteCount()
    {
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,24]}," + B + "}", 40), "needs 16 bytes");
        Rejects(Make("{\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,24]}," + B + "}", 40), "needs 12 bytes");
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,24]}}", 40), "negative");
    }

    [Fact]
    public void RejectsAnUnknownDType()
    {
        Rejects(Make("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24), "F8_E4M3");
        Rejects(Make("{\"a\":{\"dtype\":5,\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24));
    }

    [Fact]
    public void RejectsInvalidJson()
    {
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",", 24), "JSON");
        Rejects(Make("not json at all!", 0), "JSON");
        Rejects(Make("[1,2,3]", 0), "not a JSON object");
        Rejects(Make("{\"a\":5}", 0));
        var v = Valid();
        v[8 + 3] = 0xFF; // invalid UTF-8 inside a string
        Rejects(v);
    }

    [Fact]
    public void RejectsADuplicateKey()
    {
        var a2 = A.Replace("[0,24]", "[24,48]");
        Rejects(Make("{" + A + "," + a2 + "}", 48), "duplicate entry 'a'");
        Rejects(Make("{" + A + "," + Meta + "," + Meta + "}", 24), "duplicate entry '__metadata__'");
    }

    [Fact]
    public void RejectsMalformedEntriesAndMetadata()
    {
        // missing fields, non-integer or overflowing numbers, non-string metadata: all InvalidDataException
        Rejects(Make("{\"a\":{\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24));
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}}", 24));
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3]}}", 24));
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24.5]}}", 24));
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,24]}}", 24));
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,1e40]}}", 24));
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,24]}}", 24));
        Rejects(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2x3\",\"data_offsets\":[0,24]}}", 24));
        Rejects(Make("{\"__metadata__\":{\"k\":5}}", 0), "metadata 'k'");
        Rejects(Make("{\"__metadata__\":[1]}", 0));
    }

    [Fact]
    public void ReadNamesTheFileInErrors()
    {
        var dir = Directory.CreateTempSubdirectory("st-");
        try
        {
            var path = Path.Combine(dir.FullName, "broken.safetensors");
            File.WriteAllBytes(path, Valid()[..^1]);
            var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Read(path));
            Assert.Contains(path, e.Message);
            var missing = Path.Combine(dir.FullName, "missing.safetensors");
            e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Read(missing));
            Assert.Contains(missing, e.Message);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}

public class AtomicFileTests
{
    [Fact]
    public void WritingOverAnExistingFileReplacesItAndLeavesNoTemporaryFile()
    {
        var dir = Directory.CreateTempSubdirectory("atomic-");
        try
        {
            var path = Path.Combine(dir.FullName, "out.bin");
            File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6]);
            AtomicFile.WriteAllBytes(path, [9, 8]);
            Assert.Equal(new byte[] { 9, 8 }, File.ReadAllBytes(path));
            AtomicFile.Write(path, s => s.Write("hello"u8));
            Assert.Equal("hello"u8.ToArray(), File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(dir.FullName));

            var nested = Path.Combine(dir.FullName, "a", "b", "new.bin");
            AtomicFile.WriteAllBytes(nested, [1]);
            Assert.Equal(new byte[] { 1 }, File.ReadAllBytes(nested));
            Assert.Equal([nested], Directory.GetFiles(Path.GetDirectoryName(nested)!));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void AFailingWriterLeavesTheOldFileUntouchedAndNoTemporaryFile()
    {
        var dir = Directory.CreateTempSubdirectory("atomic-");
        try
        {
            var path = Path.Combine(dir.FullName, "out.bin");
            File.WriteAllBytes(path, [1, 2, 3]);
            var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
            {
                s.Write(new byte[100_000]);
                throw new InvalidOperationException("writer failed");
            }));
            Assert.Equal("writer failed", e.Message);
            Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(dir.FullName));

            // a failing writer for a file that did not exist leaves nothing
            var fresh = Path.Combine(dir.FullName, "fresh.bin");
            Assert.Throws<IOException>(() => AtomicFile.Write(fresh, _ => throw new IOException("disk full")));
            Assert.False(File.Exists(fresh));
            Assert.Equal([path], Directory.GetFiles(dir.FullName));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void SafetensorsWriteIsAtomic()
    {
        using var s = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("atomic-");
        try
        {
            var path = Path.Combine(dir.FullName, "w.safetensors");
            SafetensorsFile.Write(path, [new("x", ones([2]))]);
            var before = File.ReadAllBytes(path);
            var disposed = ones([2]);
            disposed.Dispose();
            // TorchSharp refuses a disposed tensor with an InvalidOperationException ("Tensor invalid -- empty handle").
            Assert.Throws<InvalidOperationException>(() => SafetensorsFile.Write(path, [new("x", disposed)]));
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(dir.FullName));
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
