using Google.Protobuf;
using MLNet.Rescale.IO;
using MLNet.Rescale.Networks;
using Onnx;
using static MLNet.Rescale.Onnx.OnnxGraph;

namespace MLNet.Rescale.Onnx;

/// <summary>
/// Writes a network as two ONNX graphs, so that ONNX Runtime (native, in the browser, or through ML.NET's
/// <c>ApplyOnnxModel</c>) can downscale and upscale without libtorch:
/// <list type="bullet">
/// <item><c>downscale.onnx</c>: input <c>input</c> float32 [N, 3, H, W] (RGB in [0, 1], H and W multiples of the
/// scale), output <c>output</c> [N, 3, H/s, W/s], the LR before 8-bit rounding.</item>
/// <item><c>upscale.onnx</c>: input <c>input</c> float32 [N, 3, h, w] (the 8-bit LR in [0, 1]), output <c>output</c>
/// [N, 3, s·h, s·w], the HR (not clamped). The latent is computed inside the graph, deterministically: zero for IRN,
/// the mixture's expectation for SAIN — what <c>rescale upscale --gaussian-scale 0</c> uses. With
/// <c>latentInput</c> it is a second input <c>z</c> [N, 3·s² − 3, h, w] instead.</item>
/// </list>
/// H, W and N are dynamic. The graphs use standard operators of opset <see cref="Opset"/> only (Conv, ConvTranspose,
/// LeakyRelu, Concat, Slice, Gather, Sigmoid, Exp and arithmetic); nodes are named after the modules that compute them
/// and initializers after the reference parameters (<c>operations.1.F.conv1.weight</c>), so a graph reads in Netron
/// like the network's code.
/// </summary>
public static class OnnxExport
{
    /// <summary>The operator set the graphs use.</summary>
    public const int Opset = 21;
    /// <summary>File name of the downscaler in an export folder.</summary>
    public const string DownscaleFileName = "downscale.onnx";
    /// <summary>File name of the upscaler in an export folder.</summary>
    public const string UpscaleFileName = "upscale.onnx";

    /// <summary>
    /// Writes <see cref="DownscaleFileName"/> and <see cref="UpscaleFileName"/> into <paramref name="directory"/>
    /// (created if missing; each file written to a temporary name, then renamed) and returns their paths.
    /// </summary>
    public static (string Downscale, string Upscale) Export(RescaleNetwork network, string directory, bool latentInput = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        Directory.CreateDirectory(directory);
        string down = Path.Combine(directory, DownscaleFileName), up = Path.Combine(directory, UpscaleFileName);
        AtomicFile.WriteAllBytes(down, Downscaler(network));
        AtomicFile.WriteAllBytes(up, Upscaler(network, latentInput));
        return (down, up);
    }

    /// <summary>The downscaler as an ONNX model (bytes of a <c>.onnx</c> file).</summary>
    public static byte[] Downscaler(RescaleNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        int s = network.Scale;
        var g = new OnnxGraph($"{network.Architecture} ×{s} downscale",
            "HR [N, 3, H, W] RGB in [0, 1] (H, W multiples of the scale) → LR [N, 3, H/s, W/s] before 8-bit rounding.");
        string x = g.Input("input", "N", 3, "H", "W");
        string lr = network switch
        {
            InvRescaleNet irn => IrnDownscale(g, irn, x),
            SainNetwork sain => SainDownscale(g, sain, x),
            _ => throw new NotSupportedException($"no ONNX export for {network.GetType().Name}"),
        };
        g.Output(lr, "output", "N", 3, "h", "w");
        return Model(network, g, "downscale", "none").ToByteArray();
    }

    /// <summary>
    /// The upscaler as an ONNX model (bytes of a <c>.onnx</c> file): with <paramref name="latentInput"/> false the
    /// deterministic serving latent is computed inside, otherwise it is the second input <c>z</c>.
    /// </summary>
    public static byte[] Upscaler(RescaleNetwork network, bool latentInput = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        int s = network.Scale, zc = network.OutputChannelCount - 3;
        var g = new OnnxGraph($"{network.Architecture} ×{s} upscale",
            "LR [N, 3, h, w] RGB in [0, 1] → HR [N, 3, s·h, s·w] (not clamped)"
            + (latentInput ? $", with the latent z [N, {zc}, h, w] as the second input." : ", with the deterministic serving latent."));
        string lr = g.Input("input", "N", 3, "h", "w");
        string z, latent;
        if (latentInput)
        {
            z = g.Input("z", "N", zc, "h", "w");
            latent = "input";
        }
        else
        {
            (z, latent) = ServingLatent(g, network, lr, zc);
        }
        string y = g.Node("Concat", [lr, z], "latent/concat", Int("axis", 1));
        string hr = network switch
        {
            InvRescaleNet irn => IrnUpscale(g, irn, y),
            SainNetwork sain => SainUpscale(g, sain, y),
            _ => throw new NotSupportedException($"no ONNX export for {network.GetType().Name}"),
        };
        g.Output(hr, "output", "N", 3, "H", "W");
        return Model(network, g, "upscale", latent).ToByteArray();
    }

    private static ModelProto Model(RescaleNetwork network, OnnxGraph g, string role, string latent)
    {
        var model = new ModelProto
        {
            IrVersion = 10,
            ProducerName = "MLNet.Rescale",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString(3) ?? "",
            Domain = "mlnet.rescale",
            ModelVersion = 1,
            DocString = g.Proto.DocString,
            Graph = g.Proto,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        void Meta(string key, string value) => model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        Meta("role", role);
        Meta("latent", latent);
        foreach (var (key, value) in network.ArchitectureMetadata()) Meta(key, value);
        return model;
    }

    /// <summary>
    /// z [N, C−3, h, w] filled with IRN's zero or SAIN's mixture expectation Σ softmax(logits)ₖ·μₖ (computed in the
    /// graph from <c>gmm.gmm_para</c>), shaped after the LR input.
    /// </summary>
    private static (string Z, string Description) ServingLatent(OnnxGraph g, RescaleNetwork network, string lr, int zc)
    {
        string value, description;
        if (network is SainNetwork sain)
        {
            string para = g.Weight("gmm.gmm_para", sain.Mixture.GmmPara);
            string logits = g.Node("Gather", [para, g.Int64s("row0", 0)], "gmm/logits", Int("axis", 0));
            string means = g.Node("Gather", [para, g.Int64s("row1", 1)], "gmm/means", Int("axis", 0));
            string weights = g.Node("Softmax", [logits], "gmm/weights", Int("axis", 1));
            string product = g.Node("Mul", [weights, means], "gmm/weighted_means");
            value = g.Node("ReduceSum", [product, g.Int64s("axis1", 1)], "gmm/expectation", Int("keepdims", 1));
            description = "mixture-expectation";
        }
        else
        {
            value = g.Scalar(0f);
            description = "zero";
        }
        // [1, 1, 1, 1] value expanded to [N, C−3, h, w]: N, h, w from the LR's shape.
        string one = g.Node("Reshape", [value, g.Int64s("ones4", 1, 1, 1, 1)], "latent/value");
        string shape = g.Node("Shape", [lr], "latent/lr_shape");
        string n = g.Node("Slice", [shape, g.Int64s("c0", 0), g.Int64s("c1", 1)], "latent/n");
        string hw = g.Node("Slice", [shape, g.Int64s("c2", 2), g.Int64s("c4", 4)], "latent/hw");
        string target = g.Node("Concat", [n, g.Int64s($"latent_channels", zc), hw], "latent/shape", Int("axis", 0));
        return (g.Node("Expand", [one, target], "latent/z"), description);
    }

    // ---- IRN ----------------------------------------------------------------------------------------------

    private static string IrnDownscale(OnnxGraph g, InvRescaleNet irn, string x)
    {
        var ops = irn.OperationList;
        string h = x;
        for (int i = 0; i < ops.Count; i++)
        {
            string path = $"operations.{i}";
            bool last = i == ops.Count - 1;
            h = ops[i] switch
            {
                HaarDownsampling haar => HaarForward(g, haar, path, h),
                // The last block's y1 is the LR: its y2 (the latent) is not computed.
                InvBlockExp block => last ? VanillaLow(g, block, path, h).Y1 : VanillaForward(g, block, path, h),
                var other => throw new NotSupportedException($"no ONNX export for {other.GetType().Name}"),
            };
        }
        return ops[^1] is InvBlockExp ? h : g.Channels(h, 0, 3, "lr");
    }

    private static string IrnUpscale(OnnxGraph g, InvRescaleNet irn, string y)
    {
        var ops = irn.OperationList;
        string h = y;
        for (int i = ops.Count - 1; i >= 0; i--)
        {
            string path = $"operations.{i}";
            h = ops[i] switch
            {
                HaarDownsampling haar => HaarInverse(g, haar, path, h),
                InvBlockExp block => VanillaInverse(g, block, path, h),
                var other => throw new NotSupportedException($"no ONNX export for {other.GetType().Name}"),
            };
        }
        return h;
    }

    // ---- SAIN ---------------------------------------------------------------------------------------------

    private static string SainDownscale(OnnxGraph g, SainNetwork sain, string x)
    {
        string h = x;
        for (int i = 0; i < sain.HaarBlocks.Count; i++) h = HaarForward(g, sain.HaarBlocks[i], $"haar_operations.{i}", h);
        int last = sain.DownBlocks.Count - 1;
        for (int i = 0; i < last; i++) h = EnhancedForward(g, sain.DownBlocks[i], $"down_operations.{i}", h);
        // The high-quality LR of the last enhanced block, x1 + E(x2); the compression simulator is not run.
        var block = sain.DownBlocks[last];
        string path = $"down_operations.{last}";
        string x1 = g.Channels(h, 0, block.Split, $"{path}/x1");
        string x2 = g.Channels(h, block.Split, block.Channels, $"{path}/x2");
        return g.Node("Add", [x1, Dense(g, block.E, $"{path}.E", x2)], $"{path}/lr");
    }

    private static string SainUpscale(OnnxGraph g, SainNetwork sain, string y)
    {
        string h = y;
        for (int i = sain.CompBlocks.Count - 1; i >= 0; i--) h = VanillaInverse(g, sain.CompBlocks[i], $"comp_operations.{i}", h);
        for (int i = sain.DownBlocks.Count - 1; i >= 0; i--) h = EnhancedInverse(g, sain.DownBlocks[i], $"down_operations.{i}", h);
        for (int i = sain.HaarBlocks.Count - 1; i >= 0; i--) h = HaarInverse(g, sain.HaarBlocks[i], $"haar_operations.{i}", h);
        return h;
    }

    // ---- blocks -------------------------------------------------------------------------------------------

    /// <summary>
    /// The reference's grouped 2×2 stride-2 convolution ÷ 4, then its channel-major → subband-major reordering as a
    /// Gather of the channels (output channel k·C + c takes convolution channel 4c + k).
    /// </summary>
    private static string HaarForward(OnnxGraph g, HaarDownsampling haar, string path, string x)
    {
        int c = haar.InputChannels;
        string w = g.Weight($"{path}.haar_weights", haar.Weights);
        string conv = g.Node("Conv", [x, w], $"{path}/conv", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2), Int("group", c));
        string scaled = g.Node("Div", [conv, g.Scalar(4f)], $"{path}/div4");
        long[] perm = new long[4 * c];
        for (int k = 0; k < 4; k++)
        for (int ch = 0; ch < c; ch++) perm[k * c + ch] = 4 * ch + k;
        return g.Node("Gather", [scaled, g.Int64s($"haar{c}_subband_major", perm)], $"{path}/subbands", Int("axis", 1));
    }

    /// <summary>The inverse: subband-major → channel-major, then the transposed grouped convolution.</summary>
    private static string HaarInverse(OnnxGraph g, HaarDownsampling haar, string path, string y)
    {
        int c = haar.InputChannels;
        string w = g.Weight($"{path}.haar_weights", haar.Weights);
        long[] perm = new long[4 * c];
        for (int k = 0; k < 4; k++)
        for (int ch = 0; ch < c; ch++) perm[4 * ch + k] = k * c + ch;
        string grouped = g.Node("Gather", [y, g.Int64s($"haar{c}_channel_major", perm)], $"{path}/channel_major", Int("axis", 1));
        return g.Node("ConvTranspose", [grouped, w], $"{path}/conv_transpose", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2), Int("group", c));
    }

    /// <summary>Five 3×3 convolutions with dense connections and LeakyReLU(0.2) after the first four.</summary>
    private static string Dense(OnnxGraph g, DenseBlock block, string path, string x)
    {
        var features = new List<string> { x };
        for (int i = 0; i < 5; i++)
        {
            var conv = block.Convolutions[i];
            string name = $"{path}.conv{i + 1}";
            string input = i == 0 ? x : g.Node("Concat", [.. features], $"{name}/input", Int("axis", 1));
            string y = g.Node("Conv", [input, g.Weight($"{name}.weight", conv.weight!), g.Weight($"{name}.bias", conv.bias!)], name,
                Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1));
            if (i == 4) return y;
            features.Add(g.Node("LeakyRelu", [y], $"{name}/lrelu", Float("alpha", 0.2f)));
        }
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>e^s with s = clamp·(2σ(H(y1)) − 1).</summary>
    private static string Scale(OnnxGraph g, CouplingBlock block, string path, string y1)
    {
        string sig = g.Node("Sigmoid", [Dense(g, block.H, $"{path}.H", y1)], $"{path}/sigmoid");
        string twice = g.Node("Mul", [sig, g.Scalar(2f)], $"{path}/x2");
        string centred = g.Node("Sub", [twice, g.Scalar(1f)], $"{path}/minus1");
        string s = g.Node("Mul", [centred, g.Scalar((float)block.Clamp)], $"{path}/s");
        return g.Node("Exp", [s], $"{path}/exp_s");
    }

    private static string AffineForward(OnnxGraph g, CouplingBlock block, string path, string x2, string y1)
    {
        string scaled = g.Node("Mul", [x2, Scale(g, block, path, y1)], $"{path}/x2_scaled");
        return g.Node("Add", [scaled, Dense(g, block.G, $"{path}.G", y1)], $"{path}/y2");
    }

    private static string AffineInverse(OnnxGraph g, CouplingBlock block, string path, string y2, string y1)
    {
        string shifted = g.Node("Sub", [y2, Dense(g, block.G, $"{path}.G", y1)], $"{path}/y2_minus_g");
        return g.Node("Div", [shifted, Scale(g, block, path, y1)], $"{path}/x2");
    }

    /// <summary>IRN's coupling: y1 = x1 + F(x2); y2 = x2·eˢ + G(y1).</summary>
    private static string VanillaForward(OnnxGraph g, InvBlockExp block, string path, string x)
    {
        var (x2, y1) = VanillaLow(g, block, path, x);
        return g.Node("Concat", [y1, AffineForward(g, block, path, x2, y1)], $"{path}/out", Int("axis", 1));
    }

    /// <summary>x2 and y1 = x1 + F(x2).</summary>
    private static (string X2, string Y1) VanillaLow(OnnxGraph g, InvBlockExp block, string path, string x)
    {
        string x1 = g.Channels(x, 0, block.Split, $"{path}/x1");
        string x2 = g.Channels(x, block.Split, block.Channels, $"{path}/x2_in");
        return (x2, g.Node("Add", [x1, Dense(g, block.F, $"{path}.F", x2)], $"{path}/y1"));
    }

    /// <summary>x2 = (y2 − G(y1))·e⁻ˢ; x1 = y1 − F(x2).</summary>
    private static string VanillaInverse(OnnxGraph g, InvBlockExp block, string path, string y)
    {
        string y1 = g.Channels(y, 0, block.Split, $"{path}/y1");
        string y2 = g.Channels(y, block.Split, block.Channels, $"{path}/y2");
        string x2 = AffineInverse(g, block, path, y2, y1);
        string x1 = g.Node("Sub", [y1, Dense(g, block.F, $"{path}.F", x2)], $"{path}/x1");
        return g.Node("Concat", [x1, x2], $"{path}/out", Int("axis", 1));
    }

    /// <summary>SAIN's enhanced coupling: LR = x1 + E(x2); y1 = LR − F(x2); y2 = x2·eˢ + G(y1).</summary>
    private static string EnhancedForward(OnnxGraph g, EnhancedInvBlock block, string path, string x)
    {
        string x1 = g.Channels(x, 0, block.Split, $"{path}/x1");
        string x2 = g.Channels(x, block.Split, block.Channels, $"{path}/x2_in");
        string lr = g.Node("Add", [x1, Dense(g, block.E, $"{path}.E", x2)], $"{path}/lr");
        string y1 = g.Node("Sub", [lr, Dense(g, block.F, $"{path}.F", x2)], $"{path}/y1");
        return g.Node("Concat", [y1, AffineForward(g, block, path, x2, y1)], $"{path}/out", Int("axis", 1));
    }

    /// <summary>x2 = (y2 − G(y1))·e⁻ˢ; LR = y1 + F(x2); x1 = LR − E(x2).</summary>
    private static string EnhancedInverse(OnnxGraph g, EnhancedInvBlock block, string path, string y)
    {
        string y1 = g.Channels(y, 0, block.Split, $"{path}/y1");
        string y2 = g.Channels(y, block.Split, block.Channels, $"{path}/y2");
        string x2 = AffineInverse(g, block, path, y2, y1);
        string lr = g.Node("Add", [y1, Dense(g, block.F, $"{path}.F", x2)], $"{path}/lr");
        string x1 = g.Node("Sub", [lr, Dense(g, block.E, $"{path}.E", x2)], $"{path}/x1");
        return g.Node("Concat", [x1, x2], $"{path}/out", Int("axis", 1));
    }
}
