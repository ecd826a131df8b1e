using System.CommandLine;
using System.Diagnostics;
using MLNet.Rescale.Inference;

namespace MLNet.Rescale.Cli.Commands;

/// <summary><c>rescale upscale LR -o OUT.png --model M</c>: the network's inverse with a drawn latent.</summary>
internal static class UpscaleCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("LR") { Description = "LR image made by 'rescale downscale'." };
        var output = CliContext.OutputOption("Upscaled image to write (format from the extension; written atomically).", "OUT.png");
        var model = CliContext.ModelOption();
        var seed = CliContext.SeedOption();
        var temperature = CliContext.GaussianScaleOption();
        var width = new Option<int?>("--width") { Description = "Output width (default s × LR width; the original width of an HR whose size was not divisible).", HelpName = "W" };
        var height = new Option<int?>("--height") { Description = "Output height (default s × LR height).", HelpName = "H" };
        var tile = CliContext.TileOption();
        var threads = CliContext.ThreadsOption();
        var command = new Command("upscale", "Upscale an LR image with a trained network.")
        {
            input, output, model, seed, temperature, width, height, tile, threads,
        };
        command.SetCliAction((r, cli) =>
        {
            string inPath = r.GetValue(input)!, outPath = r.GetValue(output)!, modelPath = r.GetValue(model)!;
            double t = CliContext.GaussianScale(r.GetValue(temperature));
            CliContext.ApplyThreads(r.GetValue(threads));
            var lr = CliContext.ReadImage(inPath);
            using var net = CliContext.LoadModel(modelPath, cli.Device);
            var rescaler = new Rescaler(net, new RescalerOptions { Device = cli.Device, TileSize = r.GetValue(tile), Seed = r.GetValue(seed), Temperature = t });
            var sw = Stopwatch.StartNew();
            var hr = CliContext.At(inPath, () => rescaler.Upscale(lr, r.GetValue(width), r.GetValue(height)));
            var elapsed = sw.Elapsed;
            CliContext.WriteImage(hr, outPath);
            cli.Out.WriteLine($"{inPath} ({CliContext.Size(lr)}) → {outPath} ({CliContext.Size(hr)}), ×{rescaler.Scale} {net.Architecture}, {CliContext.Seconds(elapsed)}");
            return CliContext.Success;
        });
        return command;
    }
}
