using System.Runtime.InteropServices;

namespace MLNet.Rescale.Imaging.Native;

/// <summary>
/// P/Invoke surface of libjpeg-turbo's TurboJPEG 2.x API. <c>unsigned long</c> is 64-bit on LP64
/// Linux, which is the only platform whose system library we bind, so it maps to <see cref="nuint"/>.
/// </summary>
internal static unsafe partial class TurboJpeg
{
    private const string Lib = "libturbojpeg.so.0";

    // enum TJPF
    public const int PixelRgb = 0;
    public const int PixelGray = 6;
    public const int PixelCmyk = 11;

    // enum TJSAMP
    public const int Samp444 = 0;
    public const int Samp422 = 1;
    public const int Samp420 = 2;
    public const int SampGray = 3;

    // enum TJCS
    public const int ColorspaceRgb = 0;
    public const int ColorspaceYCbCr = 1;
    public const int ColorspaceGray = 2;
    public const int ColorspaceCmyk = 3;
    public const int ColorspaceYcck = 4;

    public const int FlagAccurateDct = 4096;   // TJFLAG_ACCURATEDCT
    public const int ErrorWarning = 0;         // TJERR_WARNING

    [LibraryImport(Lib, EntryPoint = "tjInitCompress")]
    public static partial IntPtr InitCompress();

    [LibraryImport(Lib, EntryPoint = "tjInitDecompress")]
    public static partial IntPtr InitDecompress();

    [LibraryImport(Lib, EntryPoint = "tjDestroy")]
    public static partial int Destroy(IntPtr handle);

    [LibraryImport(Lib, EntryPoint = "tjCompress2")]
    public static partial int Compress2(IntPtr handle, byte* srcBuf, int width, int pitch, int height, int pixelFormat,
        byte** jpegBuf, nuint* jpegSize, int jpegSubsamp, int jpegQual, int flags);

    [LibraryImport(Lib, EntryPoint = "tjDecompressHeader3")]
    public static partial int DecompressHeader3(IntPtr handle, byte* jpegBuf, nuint jpegSize,
        int* width, int* height, int* jpegSubsamp, int* jpegColorspace);

    [LibraryImport(Lib, EntryPoint = "tjDecompress2")]
    public static partial int Decompress2(IntPtr handle, byte* jpegBuf, nuint jpegSize, byte* dstBuf,
        int width, int pitch, int height, int pixelFormat, int flags);

    [LibraryImport(Lib, EntryPoint = "tjGetErrorStr2")]
    public static partial byte* GetErrorStr2(IntPtr handle);

    [LibraryImport(Lib, EntryPoint = "tjGetErrorCode")]
    public static partial int GetErrorCode(IntPtr handle);

    [LibraryImport(Lib, EntryPoint = "tjFree")]
    public static partial void Free(byte* buffer);

    public static string ErrorMessage(IntPtr handle)
    {
        byte* s = GetErrorStr2(handle);
        return s == null ? "unknown TurboJPEG error" : Marshal.PtrToStringUTF8((IntPtr)s) ?? "unknown TurboJPEG error";
    }
}
