using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Cli.Benchmarking;

/// <summary>
/// The same network in the TorchSharp engine and, exported by <see cref="OnnxExport"/>, in ONNX Runtime: downscaling an
/// N×N image and upscaling its (N/s)×(N/s) LR back (serving latent), whole images, on the same threads; in rounds that
/// alternate which engine goes first, each round the median of <c>repeat</c> runs per engine after one warm-up.
/// </summary>
internal static class OnnxBenchmark
{
    public static JsonObject Run(RescaleNetwork net, BenchSettings s, int rounds, Action<string>? progress = null)
    {
        set_num_threads(s.Threads);
        net.eval();
        int lrSize = s.Size / net.Scale;
        using var gen = new Generator(0);
        var hr = rand([1, 3, s.Size, s.Size], generator: gen);
        Tensor lr, z;
        using (inference_mode())
        {
            lr = ((net.Downscale(hr).clamp(S(0), S(1)) * S(255)).round() / S(255)).contiguous();
            z = net.SampleLatent(lr.shape, temperature: 0);
        }
        float[] hrValues = hr.data<float>().ToArray(), lrValues = lr.data<float>().ToArray();

        using var options = new SessionOptions
        {
            IntraOpNumThreads = s.Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var downSession = new InferenceSession(OnnxExport.Downscaler(net), options);
        using var upSession = new InferenceSession(OnnxExport.Upscaler(net), options);

        double TorchDown()
        {
            using var scope = NewDisposeScope();
            using var _ = inference_mode();
            var sw = Stopwatch.StartNew();
            net.Downscale(hr).cpu().data<float>();
            return sw.Elapsed.TotalSeconds;
        }
        double TorchUp()
        {
            using var scope = NewDisposeScope();
            using var _ = inference_mode();
            var sw = Stopwatch.StartNew();
            net.Upscale(lr, z).cpu().data<float>();
            return sw.Elapsed.TotalSeconds;
        }
        static double Ort(InferenceSession session, float[] input, long side, out float[] output)
        {
            var sw = Stopwatch.StartNew();
            using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, side, side]);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, ["input"], [value], ["output"]);
            output = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            return sw.Elapsed.TotalSeconds;
        }

        // Warm-up, and the check that both compute the same thing.
        progress?.Invoke("warm-up (both engines)");
        TorchDown();
        TorchUp();
        Ort(downSession, hrValues, s.Size, out var onnxLr);
        Ort(upSession, lrValues, lrSize, out var onnxHr);
        double lrError, hrError;
        using (inference_mode())
        {
            lrError = (net.Downscale(hr).flatten() - tensor(onnxLr)).abs().max().item<float>();
            hrError = (net.Upscale(lr, z).flatten() - tensor(onnxHr)).abs().max().item<float>();
        }

        var runs = new Dictionary<string, List<double>>
        {
            ["torch_down_s"] = [], ["torch_up_s"] = [], ["onnx_down_s"] = [], ["onnx_up_s"] = [],
        };
        double MedianOf(Func<double> run) => NetworkBenchmark.Median(Enumerable.Range(0, s.Repeat).Select(_ => run()).ToList());
        void TorchSide()
        {
            runs["torch_down_s"].Add(MedianOf(TorchDown));
            runs["torch_up_s"].Add(MedianOf(TorchUp));
        }
        void OnnxSide()
        {
            runs["onnx_down_s"].Add(MedianOf(() => Ort(downSession, hrValues, s.Size, out _)));
            runs["onnx_up_s"].Add(MedianOf(() => Ort(upSession, lrValues, lrSize, out _)));
        }
        for (int k = 1; k <= rounds; k++)
        {
            progress?.Invoke($"round {k}/{rounds}: {(k % 2 == 1 ? "TorchSharp, then ONNX Runtime" : "ONNX Runtime, then TorchSharp")}");
            if (k % 2 == 1) { TorchSide(); OnnxSide(); }
            else { OnnxSide(); TorchSide(); }
        }

        var result = new JsonObject
        {
            ["model"] = net.Architecture,
            ["scale"] = net.Scale,
            ["size"] = s.Size,
            ["lr_size"] = lrSize,
            ["threads"] = s.Threads,
            ["repeat"] = s.Repeat,
            ["rounds"] = rounds,
            ["onnxruntime"] = typeof(InferenceSession).Assembly.GetName().Version?.ToString(3),
            ["torch_vs_onnx_max_abs_lr"] = lrError,
            ["torch_vs_onnx_max_abs_hr"] = hrError,
        };
        foreach (var (key, values) in runs)
        {
            result[key] = NetworkBenchmark.Median(values);
            result[key + "_runs"] = new JsonArray(values.Select(v => (JsonNode)JsonValue.Create(Math.Round(v, 4))).ToArray());
        }
        return result;
    }
}
