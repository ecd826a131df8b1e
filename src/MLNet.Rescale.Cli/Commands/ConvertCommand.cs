using System.CommandLine;
using MLNet.Rescale.IO;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale convert IN.pth -o OUT.safetensors [--arch KEY=VALUE]…</c>: a PyTorch checkpoint of IRN or SAIN (the
/// papers' released files, or one's own) as one of our model files. The checkpoint is read as data only; the
/// architecture is inferred from its tensors, and <c>--arch</c> sets what the weights cannot tell (e.g. <c>clamp</c>).
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("IN") { Description = "PyTorch checkpoint (.pth, written by torch.save)." };
        var output = CliContext.OutputOption("Model file to write (.safetensors, written atomically).", "OUT.safetensors");
        var arch = new Option<string[]>("--arch")
        {
            Description = "Metadata to set or override, KEY=VALUE (e.g. clamp=1.0, latent_scale=1.0); repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("convert", "Convert a PyTorch checkpoint (.pth) of IRN or SAIN into a model file, reading it as data only.")
        {
            input, output, arch,
        };
        command.SetCliAction((r, cli) =>
        {
            string inPath = r.GetValue(input)!, outPath = r.GetValue(output)!;
            var overrides = new Dictionary<string, string>();
            foreach (var pair in r.GetValue(arch) ?? [])
            {
                int eq = pair.IndexOf('=');
                if (eq <= 0) throw new CliException($"--arch takes KEY=VALUE, got '{pair}'", CliContext.UsageError);
                overrides[pair[..eq]] = pair[(eq + 1)..];
            }
            if (!PthFile.LooksLikeCheckpoint(inPath))
                throw new CliException($"{inPath}: not a PyTorch checkpoint (neither a zip archive nor a pickle)", CliContext.Failure);
            using var net = CliContext.At(inPath, () => ModelFile.LoadPyTorch(inPath, overrides));
            CliContext.At(outPath, () => ModelFile.Save(net, outPath, [new("converted_from", Path.GetFileName(inPath))]));
            var meta = net.ArchitectureMetadata().Select(kv => $"{kv.Key}={kv.Value}");
            cli.Out.WriteLine($"{inPath} → {outPath}: {net.state_dict().Count} tensors, {string.Join(", ", meta)}");
            return CliContext.Success;
        });
        return command;
    }
}
