namespace MLNet.Rescale.Tensors;

/// <summary>Element types; the codes match the native library's.</summary>
public enum DType
{
    /// <summary>32-bit float, the working type of every network.</summary>
    Float32 = 0,
    /// <summary>64-bit float, for gradient checks.</summary>
    Float64 = 1,
    /// <summary>IEEE half precision, for storage.</summary>
    Float16 = 2,
    /// <summary>bfloat16, for storage.</summary>
    BFloat16 = 3,
    /// <summary>Unsigned byte, for 8-bit images.</summary>
    UInt8 = 4,
    /// <summary>64-bit integer (indices).</summary>
    Int64 = 5,
    /// <summary>32-bit integer.</summary>
    Int32 = 6,
    /// <summary>Boolean masks.</summary>
    Bool = 7,
}

/// <summary>Where a tensor lives. CPU on these machines; nothing but the default assumes it.</summary>
public readonly record struct Device(DeviceType Type)
{
    /// <summary>The CPU.</summary>
    public static readonly Device Cpu = new(DeviceType.Cpu);
    /// <summary>The first CUDA device (needs a CUDA build of libtorch).</summary>
    public static readonly Device Cuda = new(DeviceType.Cuda);
    /// <inheritdoc/>
    public override string ToString() => Type == DeviceType.Cpu ? "cpu" : "cuda";
}

/// <summary>Device kinds; the codes match the native library's.</summary>
public enum DeviceType
{
    /// <summary>Host memory.</summary>
    Cpu = 0,
    /// <summary>A CUDA GPU.</summary>
    Cuda = 1,
}

internal static class DTypes
{
    public static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.Float32 :
        typeof(T) == typeof(double) ? DType.Float64 :
        typeof(T) == typeof(Half) ? DType.Float16 :
        typeof(T) == typeof(byte) ? DType.UInt8 :
        typeof(T) == typeof(long) ? DType.Int64 :
        typeof(T) == typeof(int) ? DType.Int32 :
        typeof(T) == typeof(bool) ? DType.Bool :
        throw new NotSupportedException($"no tensor dtype for {typeof(T).Name}");

    public static int Size(DType t) => t switch
    {
        DType.Float32 or DType.Int32 => 4,
        DType.Float64 or DType.Int64 => 8,
        DType.Float16 or DType.BFloat16 => 2,
        _ => 1,
    };
}

/// <summary>The order of a 4-D tensor's elements in memory; the codes match the native library's.</summary>
public enum MemoryFormat
{
    /// <summary>Row-major in the shape's order: N, C, H, W.</summary>
    Contiguous = 0,
    /// <summary>N, H, W, C: each pixel's channels side by side, the layout oneDNN convolves without reordering.</summary>
    ChannelsLast = 1,
}
