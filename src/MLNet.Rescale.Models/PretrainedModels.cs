namespace MLNet.Rescale;

/// <summary>
/// Full paths of the trained models the MLNet.Rescale.Models package puts beside the application (in a
/// <c>models</c> folder), for <c>InvertibleDownscaler</c>, <c>ModelFile.Load</c>, <c>AddImageRescaling</c> or
/// <c>rescale --model</c>. Each model's training, figures and intended channel are in the package's
/// <c>models/README.md</c>.
/// </summary>
public static class PretrainedModels
{
    /// <summary>IRN ×2: the default when the LR stays lossless (PNG).</summary>
    public static string IrnX2 => Find("irn-x2");
    /// <summary>IRN ×4.</summary>
    public static string IrnX4 => Find("irn-x4");
    /// <summary>SAIN ×2 trained with JPEG 75 in the loop: for LR images stored or sent as JPEG.</summary>
    public static string SainX2Jpeg => Find("sain-x2-jpeg");
    /// <summary>SAIN ×4 trained with JPEG 75 in the loop.</summary>
    public static string SainX4Jpeg => Find("sain-x4-jpeg");
    /// <summary>SAIN ×2 fine-tuned with WebP 75 in the loop: for LR images sent as WebP.</summary>
    public static string SainX2Webp => Find("sain-x2-webp");

    /// <summary>The names of the models, as <c>rescale --model NAME</c> takes them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["irn-x2", "irn-x4", "sain-x2-jpeg", "sain-x4-jpeg", "sain-x2-webp"];

    /// <summary>The full path of the model named <paramref name="name"/> (one of <see cref="Names"/>), or null for another name.</summary>
    public static string? PathOf(string name) => Names.Contains(name, StringComparer.OrdinalIgnoreCase) ? Find(name.ToLowerInvariant()) : null;

    // Beside the application (what NuGet's content files and a project reference give), else beside this assembly (a
    // notebook or script loads it from the package folder, whose content files sit two levels up).
    private static string Find(string name)
    {
        string file = name + ".safetensors";
        string assemblyDir = Path.GetDirectoryName(typeof(PretrainedModels).Assembly.Location) ?? AppContext.BaseDirectory;
        string[] candidates =
        [
            Path.Combine(AppContext.BaseDirectory, "models", file),
            Path.Combine(assemblyDir, "models", file),
            Path.GetFullPath(Path.Combine(assemblyDir, "..", "..", "contentFiles", "any", "any", "models", file)),
        ];
        return candidates.FirstOrDefault(File.Exists) ?? candidates[0];
    }
}
