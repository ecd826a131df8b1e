using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using Spectre.Console;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale roundtrip IN -o DIR --model M</c>: downscale then upscale with the network, and the MATLAB-bicubic
/// baseline, scored against the input (Y-PSNR / SSIM on luma, border = scale, over the input modcropped to the scale).
/// </summary>
internal static class RoundtripCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("IN") { Description = "HR image." };
        var output = CliContext.OutputOption("Folder for <name>_lr.png, <name>_hr.png and <name>_bicubic.png (created if needed).", "DIR");
        var model = CliContext.ModelOption();
        var seed = CliContext.SeedOption();
        var temperature = CliContext.GaussianScaleOption();
        var tile = CliContext.TileOption();
        var threads = CliContext.ThreadsOption();
        var command = new Command("roundtrip", "Downscale and upscale an image with the network and with bicubic; compare both with the input.")
        {
            input, output, model, seed, temperature, tile, threads,
        };
        command.SetCliAction((r, cli) =>
        {
            string inPath = r.GetValue(input)!, dir = r.GetValue(output)!, modelPath = r.GetValue(model)!;
            CliContext.ApplyThreads(r.GetValue(threads));
            var hr = CliContext.ReadImage(inPath);
            using var net = CliContext.LoadModel(modelPath, cli.Device);
            var rescaler = new Rescaler(net, new RescalerOptions { Device = cli.Device, TileSize = r.GetValue(tile), Seed = r.GetValue(seed), Temperature = CliContext.GaussianScale(r.GetValue(temperature)) });
            int s = rescaler.Scale;

            var sw = Stopwatch.StartNew();
            var lr = CliContext.At(inPath, () => rescaler.Downscale(hr));
            var down = sw.Elapsed;
            sw.Restart();
            var rec = CliContext.At(inPath, () => rescaler.Upscale(lr, hr.Width, hr.Height));
            var up = sw.Elapsed;
            var bicubic = CliContext.At(inPath, () => BicubicRoundTrip(hr, s));

            CliContext.At(dir, () => Directory.CreateDirectory(dir));
            string name = Path.GetFileNameWithoutExtension(inPath);
            string lrPath = Path.Combine(dir, name + "_lr.png"), hrPath = Path.Combine(dir, name + "_hr.png"), bicPath = Path.Combine(dir, name + "_bicubic.png");
            CliContext.WriteImage(lr, lrPath);
            CliContext.WriteImage(rec, hrPath);
            CliContext.WriteImage(bicubic, bicPath);

            // Score on the input modcropped to the scale (the usual protocol), with the outputs cropped alike.
            var reference = CliContext.At(inPath, () => Colour(hr).ModCrop(s));
            int w = reference.Width, h = reference.Height;
            var (netPsnr, netSsim) = CliContext.At(inPath, () => Score(reference, Colour(rec).Crop(0, 0, w, h), s));
            var (bicPsnr, bicSsim) = CliContext.At(inPath, () => Score(reference, Colour(bicubic).Crop(0, 0, w, h), s));

            cli.Out.WriteLine($"{inPath}: {CliContext.Size(hr)} → LR {CliContext.Size(lr)} → {CliContext.Size(rec)} (×{s} {net.Architecture}; down {CliContext.Seconds(down)}, up {CliContext.Seconds(up)})");
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("Method")
                .AddColumn(new TableColumn("Y-PSNR (dB)").RightAligned())
                .AddColumn(new TableColumn("SSIM (Y)").RightAligned());
            table.AddRow($"{Markup.Escape(net.Architecture)} ×{s}", Db(netPsnr), Fixed(netSsim));
            table.AddRow($"Bicubic ×{s}", Db(bicPsnr), Fixed(bicSsim));
            cli.Console.Write(table);
            cli.Out.WriteLine($"scored against the input modcropped to {w}×{h}, border {s}, on BT.601 luma");
            cli.Out.WriteLine($"wrote {lrPath}, {hrPath}, {bicPath}");
            return CliContext.Success;
        });
        return command;
    }

    /// <summary>MATLAB bicubic down by 1/s and back up, cropped to the input size (8-bit sources as MATLAB's uint8 path).</summary>
    internal static Imaging.Image BicubicRoundTrip(Imaging.Image hr, int s)
    {
        Imaging.Image up;
        if (hr.BitDepth == 8)
        {
            up = Resize.BicubicScaleUint8(Resize.BicubicScaleUint8(hr, 1.0 / s), s);
        }
        else
        {
            up = Resize.BicubicScale(Resize.BicubicScale(hr, 1.0 / s), s);
            var d = up.Data;
            for (int i = 0; i < d.Length; i++) d[i] = Math.Clamp(d[i], 0f, 1f);
        }
        return up.Width == hr.Width && up.Height == hr.Height ? up : up.Crop(0, 0, hr.Width, hr.Height);
    }

    private static Imaging.Image Colour(Imaging.Image image) => image.HasAlpha ? image.SplitAlpha(out _) : image;

    private static (double Psnr, double Ssim) Score(Imaging.Image reference, Imaging.Image candidate, int s) =>
        (Metrics.Psnr(reference, candidate, cropBorder: s, yOnly: true), Metrics.Ssim(reference, candidate, cropBorder: s, yOnly: true));

    private static string Db(double v) => double.IsPositiveInfinity(v) ? "∞" : v.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Fixed(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);
}
