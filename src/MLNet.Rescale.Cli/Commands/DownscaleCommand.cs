using System.CommandLine;
using System.Diagnostics;
using MLNet.Rescale.Inference;

namespace MLNet.Rescale.Cli.Commands;

/// <summary><c>rescale downscale IN -o LR.png --model M</c>: the network's 8-bit LR image of an HR image.</summary>
internal static class DownscaleCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("IN") { Description = "HR image (PNG, JPEG, WebP or BMP)." };
        var output = CliContext.OutputOption("LR image to write (format from the extension; written atomically).", "LR.png");
        var model = CliContext.ModelOption();
        var tile = CliContext.TileOption();
        var threads = CliContext.ThreadsOption();
        var command = new Command("downscale", "Downscale an image with a trained network (LR is ⌈W/s⌉×⌈H/s⌉).")
        {
            input, output, model, tile, threads,
        };
        command.SetCliAction((r, cli) =>
        {
            string inPath = r.GetValue(input)!, outPath = r.GetValue(output)!, modelPath = r.GetValue(model)!;
            CliContext.ApplyThreads(r.GetValue(threads));
            var hr = CliContext.ReadImage(inPath);
            using var net = CliContext.LoadModel(modelPath);
            var rescaler = new Rescaler(net, new RescalerOptions { TileSize = r.GetValue(tile) });
            var sw = Stopwatch.StartNew();
            var lr = CliContext.At(inPath, () => rescaler.Downscale(hr));
            var elapsed = sw.Elapsed;
            CliContext.WriteImage(lr, outPath);
            cli.Out.WriteLine($"{inPath} ({CliContext.Size(hr)}) → {outPath} ({CliContext.Size(lr)}), ×{rescaler.Scale} {net.Architecture}, {CliContext.Seconds(elapsed)}");
            return CliContext.Success;
        });
        return command;
    }
}
