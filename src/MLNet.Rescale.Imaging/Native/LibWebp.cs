using System.Runtime.InteropServices;

namespace MLNet.Rescale.Imaging.Native;

/// <summary>Mirror of libwebp's <c>WebPBitstreamFeatures</c> (webp/decode.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct WebPBitstreamFeatures
{
    public int Width;
    public int Height;
    public int HasAlpha;
    public int HasAnimation;
    public int Format;          // 0 undefined/mixed, 1 lossy, 2 lossless
    public fixed uint Pad[5];
}

/// <summary>P/Invoke surface of libwebp 1.x (simple encoding and decoding API).</summary>
internal static unsafe partial class LibWebp
{
    private const string Lib = "libwebp.so.7";

    // WEBP_DECODER_ABI_VERSION of the headers this mirror was written against; the library
    // accepts callers with the same major version.
    public const int DecoderAbiVersion = 0x0209;

    public const int StatusOk = 0;
    public const int StatusNotEnoughData = 7;

    [LibraryImport(Lib, EntryPoint = "WebPGetInfo")]
    public static partial int GetInfo(byte* data, nuint dataSize, int* width, int* height);

    [LibraryImport(Lib, EntryPoint = "WebPGetFeaturesInternal")]
    public static partial int GetFeaturesInternal(byte* data, nuint dataSize, WebPBitstreamFeatures* features, int version);

    [LibraryImport(Lib, EntryPoint = "WebPDecodeRGBInto")]
    public static partial byte* DecodeRgbInto(byte* data, nuint dataSize, byte* output, nuint outputSize, int stride);

    [LibraryImport(Lib, EntryPoint = "WebPDecodeRGBAInto")]
    public static partial byte* DecodeRgbaInto(byte* data, nuint dataSize, byte* output, nuint outputSize, int stride);

    [LibraryImport(Lib, EntryPoint = "WebPEncodeRGB")]
    public static partial nuint EncodeRgb(byte* rgb, int width, int height, int stride, float qualityFactor, byte** output);

    [LibraryImport(Lib, EntryPoint = "WebPEncodeRGBA")]
    public static partial nuint EncodeRgba(byte* rgba, int width, int height, int stride, float qualityFactor, byte** output);

    [LibraryImport(Lib, EntryPoint = "WebPEncodeLosslessRGB")]
    public static partial nuint EncodeLosslessRgb(byte* rgb, int width, int height, int stride, byte** output);

    [LibraryImport(Lib, EntryPoint = "WebPEncodeLosslessRGBA")]
    public static partial nuint EncodeLosslessRgba(byte* rgba, int width, int height, int stride, byte** output);

    [LibraryImport(Lib, EntryPoint = "WebPFree")]
    public static partial void Free(void* ptr);
}
