using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale downscale IN -o LR.png --model M [--collaborative ...]</c>: the network's 8-bit LR image of an HR image;
/// with <c>--collaborative</c> the LR is optimized for the frozen network (HCD), with a progress bar and the round-trip
/// Y-PSNR before and after.
/// </summary>
internal static class DownscaleCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("IN") { Description = "HR image (PNG, JPEG, WebP or BMP)." };
        var output = CliContext.OutputOption("LR image to write (format from the extension; written atomically).", "LR.png");
        var model = CliContext.ModelOption();
        var tile = CliContext.TileOption();
        var threads = CliContext.ThreadsOption();
        var seed = CliContext.SeedOption();
        var hcd = new CollaborativeArguments();
        var command = new Command("downscale", "Downscale an image with a trained network (LR is ⌈W/s⌉×⌈H/s⌉).")
        {
            input, output, model, tile, threads, seed,
        };
        foreach (var o in hcd.All) command.Options.Add(o);
        command.SetCliAction((r, cli) =>
        {
            string inPath = r.GetValue(input)!, outPath = r.GetValue(output)!, modelPath = r.GetValue(model)!;
            CliContext.ApplyThreads(r.GetValue(threads));
            var collaborativeFor = hcd.Read(r);
            var hr = CliContext.ReadImage(inPath);
            using var net = CliContext.LoadModel(modelPath, cli.Device);
            var collaborative = collaborativeFor?.Invoke(net.Scale);
            var rescaler = new Rescaler(net, new RescalerOptions { Device = cli.Device, TileSize = r.GetValue(tile), Seed = r.GetValue(seed) });
            var sw = Stopwatch.StartNew();
            Image lr;
            if (collaborative is null)
                lr = CliContext.At(inPath, () => rescaler.Downscale(hr));
            else
            {
                var optimizer = new CollaborativeOptimizer(net, collaborative);
                lr = null!;
                cli.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"HCD ×{net.Scale}", maxValue: optimizer.TotalSteps(rescaler, hr.Width, hr.Height));
                        lr = CliContext.At(inPath, () => optimizer.Downscale(rescaler, hr, () => task.Increment(1)));
                    });
            }
            var elapsed = sw.Elapsed;
            CliContext.WriteImage(lr, outPath);
            cli.Out.WriteLine($"{inPath} ({CliContext.Size(hr)}) → {outPath} ({CliContext.Size(lr)}), ×{rescaler.Scale} {net.Architecture}, {CliContext.Seconds(elapsed)}");
            if (collaborative is not null)
            {
                // What the client will see: the same upscaler (same latent seed) on the plain and the optimized LR.
                var plain = CliContext.At(inPath, () => rescaler.Upscale(rescaler.Downscale(hr), hr.Width, hr.Height));
                var optimized = CliContext.At(inPath, () => rescaler.Upscale(lr, hr.Width, hr.Height));
                int s = rescaler.Scale;
                static Image Rgb(Image i) => i.SplitAlpha(out _).ToRgb();
                double before = Metrics.Psnr(Rgb(plain), Rgb(hr), s, yOnly: true), after = Metrics.Psnr(Rgb(optimized), Rgb(hr), s, yOnly: true);
                cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{CollaborativeArguments.Describe(collaborative)}: round-trip Y-PSNR {before:0.00} → {after:0.00} dB ({after - before:+0.00;-0.00} dB)"));
            }
            return CliContext.Success;
        });
        return command;
    }
}
