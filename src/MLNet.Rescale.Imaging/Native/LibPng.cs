using System.Runtime.InteropServices;

namespace MLNet.Rescale.Imaging.Native;

/// <summary>
/// Mirror of libpng 1.6's <c>png_image</c> (png.h): the control block of the simplified API.
/// Field order and types must match the C struct exactly (LP64: 104 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PngImage
{
    public IntPtr Opaque;            // png_controlp, NULL before begin_read; freed by png_image_free
    public uint Version;             // PNG_IMAGE_VERSION
    public uint Width;
    public uint Height;
    public uint Format;              // PNG_FORMAT_*
    public uint Flags;               // PNG_IMAGE_FLAG_*
    public uint ColormapEntries;
    public uint WarningOrError;      // low two bits: 1 warning, 2 error, 3 both
    public fixed byte Message[64];   // NUL-terminated libpng message

    public const uint VersionValue = 1;  // PNG_IMAGE_VERSION

    public readonly bool Failed => (WarningOrError & 3) > 1;

    public string GetMessage()
    {
        fixed (byte* p = Message)
        {
            int len = 0;
            while (len < 64 && p[len] != 0) len++;
            return System.Text.Encoding.ASCII.GetString(p, len);
        }
    }
}

/// <summary>P/Invoke surface of libpng16's simplified API.</summary>
internal static unsafe partial class LibPng
{
    private const string Lib = "libpng16.so.16";

    public const uint FormatFlagAlpha = 0x01;     // PNG_FORMAT_FLAG_ALPHA
    public const uint FormatFlagColor = 0x02;     // PNG_FORMAT_FLAG_COLOR
    public const uint FormatFlagLinear = 0x04;    // PNG_FORMAT_FLAG_LINEAR (16-bit samples)
    public const uint FormatFlagColormap = 0x08;  // PNG_FORMAT_FLAG_COLORMAP
    public const uint FormatFlagBgr = 0x10;
    public const uint FormatFlagAFirst = 0x20;
    public const uint FormatFlagAssociatedAlpha = 0x40;

    [LibraryImport(Lib, EntryPoint = "png_image_begin_read_from_memory")]
    public static partial int BeginReadFromMemory(PngImage* image, void* memory, nuint size);

    [LibraryImport(Lib, EntryPoint = "png_image_finish_read")]
    public static partial int FinishRead(PngImage* image, void* background, void* buffer, int rowStride, void* colormap);

    [LibraryImport(Lib, EntryPoint = "png_image_free")]
    public static partial void Free(PngImage* image);

    [LibraryImport(Lib, EntryPoint = "png_image_write_to_memory")]
    public static partial int WriteToMemory(PngImage* image, void* memory, nuint* memoryBytes, int convertTo8Bit,
        void* buffer, int rowStride, void* colormap);
}
