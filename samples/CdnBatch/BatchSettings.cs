using System.Globalization;
using MLNet.Rescale.Imaging;

namespace CdnBatch;

/// <summary>What to downscale, where to, and how: the command line of the sample.</summary>
public sealed record BatchSettings(
    string Input, string Output, string Model, ImageFormat? Format, int Quality, int Workers, bool Collaborative, bool Force, bool Watch)
{
    public const string Usage =
        "usage: CdnBatch [--input DIR] [--output DIR] [--model FILE] [--format png|jpeg|webp] [--quality 1-100] [--workers N] [--collaborative] [--force] [--watch]";

    /// <summary>Parses the arguments; defaults come from the repository at <paramref name="repoRoot"/> and the temp folder.</summary>
    /// <exception cref="ArgumentException">An unknown option, a missing or bad value, or a missing input folder.</exception>
    public static BatchSettings Parse(string[] args, string repoRoot)
    {
        string input = Path.Combine(repoRoot, "tests", "fixtures", "images");
        string output = Path.Combine(Path.GetTempPath(), "mlnet-rescale-cdnbatch");
        string model = Path.Combine(repoRoot, "models", "irn-x2.safetensors");
        ImageFormat? format = null;
        int quality = 90, workers = Environment.ProcessorCount;
        bool collaborative = false, force = false, watch = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int(int min, int max)
            {
                string option = args[i], text = Value();
                return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max ? v
                    : throw new ArgumentException($"{option} must be an integer in {min}..{max}, got '{text}'");
            }
            switch (args[i])
            {
                case "--input": input = Value(); break;
                case "--output": output = Value(); break;
                case "--model": model = Value(); break;
                case "--format":
                    string f = Value();
                    format = ImageFile.FormatFromExtension("." + f) ?? throw new ArgumentException($"--format must be png, jpeg, webp or bmp, got '{f}'");
                    break;
                case "--quality": quality = Int(1, 100); break;
                case "--workers": workers = Int(1, 64); break;
                case "--collaborative": collaborative = true; break;
                case "--force": force = true; break;
                case "--watch": watch = true; break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        input = Path.GetFullPath(input);
        output = Path.GetFullPath(output);
        if (!Directory.Exists(input)) throw new ArgumentException($"{input}: input folder does not exist");
        // Overlapping folders are refused by ImageBatch.Plan, with the same message as `rescale batch`.
        return new BatchSettings(input, output, Path.GetFullPath(model), format, quality, workers, collaborative, force, watch);
    }
}
