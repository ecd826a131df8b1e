using System.CommandLine;
using MLNet.Rescale.Onnx;

namespace MLNet.Rescale.Cli.Commands;

/// <summary>
/// <c>rescale export MODEL --onnx DIR [--latent-input]</c>: the model as <c>DIR/downscale.onnx</c> and
/// <c>DIR/upscale.onnx</c> (see <see cref="OnnxExport"/>), for ONNX Runtime, ML.NET's <c>ApplyOnnxModel</c> and
/// onnxruntime-web.
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL")
        {
            Description = "Model file (.safetensors or .pth), or the name of a bundled model: irn-x2, irn-x4, sain-x2-jpeg, sain-x4-jpeg, sain-x2-webp.",
        };
        var onnx = new Option<string>("--onnx")
        {
            Description = "Folder to write downscale.onnx and upscale.onnx into (created if missing; each file written atomically).",
            Required = true,
            HelpName = "DIR",
        };
        var latentInput = new Option<bool>("--latent-input")
        {
            Description = "Give upscale.onnx the latent as a second input 'z' [N, 3·s²−3, h, w] instead of computing the deterministic serving latent (IRN: 0, SAIN: the mixture's expectation) inside.",
        };
        var command = new Command("export", "Export a model as ONNX graphs (downscale.onnx, upscale.onnx) for ONNX Runtime, ML.NET's ApplyOnnxModel and browsers.")
        {
            model, onnx, latentInput,
        };
        command.SetCliAction((r, cli) =>
        {
            string dir = r.GetValue(onnx)!;
            using var net = CliContext.LoadModel(r.GetValue(model)!);
            var (down, up) = CliContext.At(dir, () => OnnxExport.Export(net, dir, r.GetValue(latentInput)));
            string latent = r.GetValue(latentInput) ? "the latent as input 'z'" : net is Networks.SainNetwork ? "the mixture's expectation as latent" : "latent 0";
            cli.Out.WriteLine($"{net.Architecture} ×{net.Scale} → {down} ({new FileInfo(down).Length / 1024.0:F0} KiB), {up} ({new FileInfo(up).Length / 1024.0:F0} KiB; {latent}), opset {OnnxExport.Opset}");
            return CliContext.Success;
        });
        return command;
    }
}
