using System.Buffers.Binary;
using System.Text.Json;

namespace MLNet.Rescale.Imaging.Tests;

/// Minimal test-side safetensors reader (F32 only): 8-byte LE header length, JSON header, raw data.
internal static class SafeTensors
{
    public static Dictionary<string, (int[] Shape, float[] Data)> Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        int dataStart = checked(8 + (int)n);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var result = new Dictionary<string, (int[], float[])>();
        foreach (var entry in doc.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            Assert.Equal("F32", entry.Value.GetProperty("dtype").GetString());
            int[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            long[] off = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var span = bytes.AsSpan(dataStart + (int)off[0], (int)(off[1] - off[0]));
            var data = new float[span.Length / 4];
            for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(span[(4 * i)..]);
            result[entry.Name] = (shape, data);
        }
        return result;
    }

    public static float[] HwcToChw(float[] hwc, int h, int w, int c)
    {
        var chw = new float[hwc.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++)
                    chw[(k * h + y) * w + x] = hwc[(y * w + x) * c + k];
        return chw;
    }
}
