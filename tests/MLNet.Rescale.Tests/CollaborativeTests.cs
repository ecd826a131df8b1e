using MLNet.Rescale.Collaborative;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using TorchSharp;
using MLNet.Rescale.Tests.Shared;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.Rescale.Tests;

public class CollaborativeTests
{
    private static RescaleNetwork Shipped(int scale = 2) => ModelFile.Load(Path.Combine(TestPaths.RepoRoot, "models", $"irn-x{scale}.safetensors"));

    private static RescaleNetwork Random() => ModelFile.Load(TestPaths.Conformance("irn_x2_small.safetensors"));

    private static Image Crop(string file, int x, int y, int w, int h) => ImageFile.Read(TestPaths.Image(file)).Crop(x, y, w, h);

    private static double Norm(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.square().sum().sqrt().ToDouble();
    }

    [Fact]
    public void WithoutIterationsTheOutputIsPlainDownscaling()
    {
        using var net = Random();
        var rescaler = new Rescaler(net, new RescalerOptions { TileSize = 24, TileOverlap = 8 });
        var hr = Crop("butterfly.png", 30, 40, 101, 75);
        var plain = rescaler.Downscale(hr);
        var optimizer = new CollaborativeOptimizer(net, new CollaborativeOptions { HrIterations = 0, LrIterations = 0 });
        var same = optimizer.Downscale(rescaler, hr);
        Assert.Equal((plain.Width, plain.Height), (same.Width, same.Height));
        Assert.Equal(plain.Data, same.Data);
    }

    [Fact]
    public void OptimizedLrIsAValid8BitImageOfTheLrSize()
    {
        using var net = Random();
        var rescaler = new Rescaler(net, new RescalerOptions { TileSize = 16, TileOverlap = 4 });
        var hr = Crop("bird.png", 5, 9, 45, 38);
        int steps = 0;
        var optimizer = new CollaborativeOptimizer(net, new CollaborativeOptions { HrIterations = 2, LrIterations = 2, Seed = 3, CheckLatents = 0 });
        var lr = optimizer.Downscale(rescaler, hr, _ => steps++);
        Assert.Equal((23, 19), (lr.Width, lr.Height));
        Assert.All(lr.Data, v =>
        {
            Assert.InRange(v, 0f, 1f);
            Assert.Equal(v, MathF.Round(v * 255) / 255, 6);
        });
        // 2 × 2 tiles of 16 LR pixels, 4 iterations each: progress counts every one.
        Assert.Equal(optimizer.TotalSteps(rescaler, hr.Width, hr.Height), steps);
        Assert.Equal(16, steps);
        Assert.NotEqual(rescaler.Downscale(hr).Data, lr.Data);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.05)]
    public void PerturbationsStayInTheL2BallAndTheImageRange(double epsilon)
    {
        using var net = Random();
        using var scope = NewDisposeScope();
        using var gen = new Generator(7);
        // Two images in a batch: the ball is per image.
        var hr = cat([ImageTensors.ToTensor(Crop("butterfly.png", 0, 0, 32, 32)), ImageTensors.ToTensor(Crop("bird.png", 40, 40, 32, 32))], 0);
        var optimizer = new CollaborativeOptimizer(net, new CollaborativeOptions { HrIterations = 4, LrIterations = 4, Epsilon = epsilon, StepSize = 0.2 });
        var yStar = optimizer.HrStage(hr, gen);
        Tensor x;
        using (no_grad()) x = Quantization.Quantize(net.Downscale(yStar));
        var lr = optimizer.LrStage(x, hr, gen);
        for (int i = 0; i < 2; i++)
        {
            // Steps are longer than ε here, so the projection is what keeps them inside.
            Assert.InRange(Norm(yStar.narrow(0, i, 1) - hr.narrow(0, i, 1)), 1e-4, epsilon * (1 + 1e-5));
            Assert.InRange(Norm(lr.narrow(0, i, 1) - x.narrow(0, i, 1)), 1e-4, epsilon * (1 + 1e-5));
        }
        Assert.InRange(yStar.min().ToDouble(), 0, 1);
        Assert.InRange(yStar.max().ToDouble(), 0, 1);
        Assert.InRange(lr.min().ToDouble(), 0, 1);
        Assert.InRange(lr.max().ToDouble(), 0, 1);
        // The network is left as it was: trainable parameters still require gradients, and none were accumulated.
        Assert.All(net.named_parameters().Where(p => !p.name.Contains("haar")), p => { Assert.True(p.parameter.requires_grad); Assert.Null(p.parameter.grad); });
    }

    [Fact]
    public void LrStageOptimizesThroughTheChannelTheLrWillMeet()
    {
        using var net = Random();
        using var scope = NewDisposeScope();
        using var gen = new Generator(1);
        var hr = ImageTensors.ToTensor(Crop("butterfly.png", 64, 64, 24, 24));
        int calls = 0;
        var optimizer = new CollaborativeOptimizer(net, new CollaborativeOptions
        {
            HrIterations = 0, LrIterations = 3, LrChannel = t => { calls++; return t * 0.5 + 0.25; },
        });
        Tensor x;
        using (no_grad()) x = Quantization.Quantize(net.Downscale(hr));
        optimizer.LrStage(x, hr, gen);
        Assert.Equal(3, calls);
    }

    /// <summary>
    /// Round trip of a textured 96² Set5 crop (the bird's feathers and eye; the shipped models were trained on T91), plain
    /// and with HCD, both upscaled with the same latent seed, so they differ only in the LR the optimizer chose: Y-PSNR
    /// with border 2, as the benchmarks score, or with <paramref name="rgb"/> the PSNR of the whole RGB crop — the MSE that
    /// HCD and its check minimize.
    /// </summary>
    private static (double Plain, double Optimized) HeldOutRoundTrip(CollaborativeOptions options, int scale = 2, bool rgb = false)
    {
        using var net = Shipped(scale);
        var rescaler = new Rescaler(net, new RescalerOptions { Seed = 5 });
        var hr = Crop("bird.png", 150, 100, 96, 96);
        var plain = rescaler.Upscale(rescaler.Downscale(hr), hr.Width, hr.Height);
        var optimized = rescaler.Upscale(new CollaborativeOptimizer(net, options).Downscale(rescaler, hr), hr.Width, hr.Height);
        return rgb
            ? (Metrics.Psnr(plain, hr, 0, yOnly: false), Metrics.Psnr(optimized, hr, 0, yOnly: false))
            : (Metrics.Psnr(plain, hr, 2, yOnly: true), Metrics.Psnr(optimized, hr, 2, yOnly: true));
    }

    [Fact]
    public void AFewIterationsLowerTheRoundTripErrorOfAHeldOutImage()
    {
        var (before, after) = HeldOutRoundTrip(new CollaborativeOptions { HrIterations = 4, LrIterations = 4, Seed = 2 });
        Assert.True(after > before + 0.05, $"HCD round trip {after:0.000} dB, plain {before:0.000} dB");
    }

    [Fact]
    public void TheServingRecipeLowersTheRoundTripErrorOfAHeldOutImage()
    {
        var o = CollaborativeOptions.Serving;
        Assert.Equal((0, 3, 60.0 / 255, 0.8, 0.5, 0.5, true), (o.HrIterations, o.LrIterations, o.StepSize, o.StepDecay, o.Momentum, o.Epsilon, o.StartAtZero));
        // HCD lowers the RGB error of the round trip (the check guarantees it never rises). On this smooth crop the
        // recipe's long steps trade a little luma for chroma: RGB 39.35 → 39.62 dB, Y (border 2) 44.68 → 44.49 dB; on
        // whole Set5 and Set14 images the Y gains are +0.44 to +0.75 dB (README).
        var (before, after) = HeldOutRoundTrip(CollaborativeOptions.Serving with { Seed = 2 }, rgb: true);
        Assert.True(after > before + 0.05, $"HCD (serving recipe) round trip {after:0.000} dB, plain {before:0.000} dB");
    }

    [Fact]
    public void WarmUpRunsOnTheNetworkOfItsRescalerAndLeavesTheNetworkAsItWas()
    {
        using var net = Shipped();
        var before = net.parameters().Select(p => (p.requires_grad, Sum: p.sum().item<float>())).ToList();
        var optimizer = new CollaborativeOptimizer(net, CollaborativeOptions.Serving);
        double seconds = optimizer.WarmUp(new Rescaler(net, new RescalerOptions { TileSize = 16, TileOverlap = 4 }), 500, 300);
        Assert.True(seconds > 0);
        Assert.Equal(before, net.parameters().Select(p => (p.requires_grad, Sum: p.sum().item<float>())).ToList());
        using var other = Shipped();
        Assert.Throws<ArgumentException>(() => optimizer.WarmUp(new Rescaler(other), 64, 64));
    }

    [Fact]
    public void TheServingRecipeServesEveryScaleAndLowersTheX4RoundTripError()
    {
        Assert.Equal(CollaborativeOptions.Serving, CollaborativeOptions.ServingFor(2));
        var x4 = CollaborativeOptions.ServingFor(4);
        Assert.Equal(CollaborativeOptions.Serving, x4);
        Assert.Throws<ArgumentOutOfRangeException>(() => CollaborativeOptions.ServingFor(0));
        // Through a codec one HR iteration pays again (the codec quantizes away part of every LR step).
        Assert.Equal(CollaborativeOptions.Serving with { HrIterations = 1, LrIterations = 2 }, CollaborativeOptions.ServingFor(2, throughCodec: true));
        // As at ×2 (above), the RGB error HCD minimizes and its check guards; Y on this smooth crop moves either way with
        // the model (the first ×4 file: Y up; the continued one: RGB 32.33 → 32.65 dB, Y 36.97 → 36.83, while whole Set5
        // images at ×4 gain +0.53 dB in Y).
        var (before, after) = HeldOutRoundTrip(x4 with { Seed = 2 }, scale: 4, rgb: true);
        Assert.True(after > before + 0.05, $"HCD (×4 serving recipe) RGB round trip {after:0.000} dB, plain {before:0.000} dB");
    }

    /// <summary>A clock that moves only when told: each HCD iteration advances it by one second (through the step callback).</summary>
    private sealed class IterationClock : TimeProvider
    {
        public long Ticks;
        public override long TimestampFrequency => 1_000_000;
        public override long GetTimestamp() => Ticks;
        public void Advance(double seconds) => Ticks += (long)(seconds * TimestampFrequency);
    }

    [Theory]
    // budget (seconds for the crop), HR and LR iterations allowed → iterations run in each stage. Every iteration
    // "takes" one second. The HR stage may use 2·HR/(2·HR + LR) of the time, the LR stage what is left.
    [InlineData(3.5, 0, 10, 0, 3)]
    [InlineData(6.0, 4, 4, 4, 2)]
    [InlineData(3.0, 4, 4, 2, 1)]
    [InlineData(100, 3, 3, 3, 3)]
    [InlineData(0.0, 2, 2, 0, 0)]
    [InlineData(6.0, 4, 4, 4, 2, true)]
    [InlineData(0.0, 2, 2, 0, 0, true)]
    public void TheBudgetStopsTheStagesAtTheLastIterationThatFitsAndTheResultIsTheShorterRun(double seconds, int hr, int lr, int hrRun, int lrRun, bool zero = false)
    {
        using var net = Random();
        var rescaler = new Rescaler(net);
        var image = Crop("butterfly.png", 60, 50, 40, 40);
        var clock = new IterationClock();
        var budgeted = new CollaborativeOptions
        {
            HrIterations = hr, LrIterations = lr, Seed = 6, Clock = clock, Budget = seconds / (image.Width * image.Height / 1e6),
            StartAtZero = zero,
        };
        int steps = 0;
        var lrImage = new CollaborativeOptimizer(net, budgeted).Downscale(rescaler, image, _ => { steps++; clock.Advance(1); });
        Assert.Equal(hrRun + lrRun, steps);
        Assert.True(steps <= seconds, $"{steps} one-second iterations in a budget of {seconds} s");
        // The same result as a run allowed exactly those iterations: the budget only shortens the stages.
        var shorter = new CollaborativeOptimizer(net, new CollaborativeOptions { HrIterations = hrRun, LrIterations = lrRun, Seed = 6, StartAtZero = zero }).Downscale(rescaler, image);
        Assert.Equal(shorter.Data, lrImage.Data);
    }

    [Fact]
    public void TheBudgetIsSharedAmongTilesByTheirPixels()
    {
        using var net = Random();
        var rescaler = new Rescaler(net, new RescalerOptions { TileSize = 16, TileOverlap = 4 });
        var image = Crop("bird.png", 5, 9, 45, 38);   // 2 × 2 tiles
        var clock = new IterationClock();
        int steps = 0;
        var options = new CollaborativeOptions
        {
            HrIterations = 0, LrIterations = 50, Seed = 1, Clock = clock, Budget = 12 / (image.Width * image.Height / 1e6),
        };
        new CollaborativeOptimizer(net, options).Downscale(rescaler, image, _ => { steps++; clock.Advance(1); });
        // 12 one-second iterations for the image: every tile gets some, and together they stay within it.
        Assert.InRange(steps, 8, 12);
        Assert.True(clock.Ticks <= 12 * clock.TimestampFrequency);
    }

    [Fact]
    public void TheCheckKeepsThePlainLrWhenTheOptimizationRuinsIt()
    {
        // One step of length 50 throws the LR far outside anything useful; the check must notice and send the plain LR.
        using var net = Shipped();
        var rescaler = new Rescaler(net);
        var hr = Crop("butterfly.png", 100, 80, 40, 40);
        var plain = rescaler.Downscale(hr);
        CollaborativeOptions Harmful(int check) => new() { HrIterations = 0, LrIterations = 1, Epsilon = 50, StepSize = 50, CheckLatents = check };
        var unchecked_ = new CollaborativeOptimizer(net, Harmful(0)).Downscale(rescaler, hr);
        var checked_ = new CollaborativeOptimizer(net, Harmful(2)).Downscale(rescaler, hr);
        Assert.NotEqual(plain.Data, unchecked_.Data);
        Assert.Equal(plain.Data, checked_.Data);
    }

    [Fact]
    public void StartedAtZeroTheCheckReusesTheFirstIterationsErrorsAndStillKeepsThePlainLr()
    {
        // The harmful step again, through a channel that counts its calls. The shipped IRN upscales with z = 0, so the
        // LR stage's first iteration at δ = 0 upscales channel(plain LR) exactly as the check would: from a random start
        // the check runs the channel for the plain and the final LR (1 + 2 calls), from zero only for the final one.
        using var net = Shipped();
        Assert.Equal(0, net.LatentScale);
        var rescaler = new Rescaler(net);
        var hr = Crop("butterfly.png", 100, 80, 40, 40);
        var plain = rescaler.Downscale(hr);
        int calls = 0;
        CollaborativeOptions Harmful(bool zero) => new()
        {
            HrIterations = 0, LrIterations = 1, Epsilon = 50, StepSize = 50, StartAtZero = zero, LrChannel = t => { calls++; return t; },
        };
        var random = new CollaborativeOptimizer(net, Harmful(false)).Downscale(rescaler, hr);
        Assert.Equal(3, calls);
        calls = 0;
        var zero = new CollaborativeOptimizer(net, Harmful(true)).Downscale(rescaler, hr);
        Assert.Equal(2, calls);
        Assert.Equal(plain.Data, random.Data);
        Assert.Equal(plain.Data, zero.Data);
    }

    [Fact]
    public void StartedAtZeroTheHrStagesFirstIterationGivesThePlainLrTheCheckFallsBackOn()
    {
        // Without a budget a zero-started HR stage downscales y + 0 in its first iteration and that is the plain
        // candidate (no separate plain pass); a harmful HR step must still end in the plain LR.
        using var net = Shipped();
        var rescaler = new Rescaler(net);
        var hr = Crop("bird.png", 120, 90, 40, 40);
        var plain = rescaler.Downscale(hr);
        var options = new CollaborativeOptions { HrIterations = 1, LrIterations = 0, Epsilon = 50, StepSize = 50, StartAtZero = true };
        Assert.Equal(plain.Data, new CollaborativeOptimizer(net, options).Downscale(rescaler, hr).Data);
    }

    [Fact]
    public void StartedAtZeroOneIterationMovesExactlyOneStepFromTheImage()
    {
        // From δ = 0 one normalized step of α (well inside ε, on a crop whose values are squeezed into [0.1, 0.9] so that
        // no pixel is clipped) is a perturbation of norm α; from the paper's random start it is not.
        using var net = Shipped();
        using var scope = NewDisposeScope();
        var hr = ImageTensors.ToTensor(Crop("bird.png", 150, 100, 32, 32)) * 0.8 + 0.1;
        double alpha = 0.02;
        CollaborativeOptimizer One(bool zero) => new(net, new CollaborativeOptions { HrIterations = 1, Epsilon = 0.3, StepSize = alpha, StartAtZero = zero });
        using var gen = new Generator(3);
        Assert.Equal(alpha, Norm(One(true).HrStage(hr, gen) - hr), 4);
        Assert.True(Math.Abs(Norm(One(false).HrStage(hr, gen) - hr) - alpha) > 1e-3);
    }

    [Fact]
    public void StepsShrinkByTheDecayAndMomentumKeepsPartOfTheLastDirection()
    {
        // From δ = 0, inside the ball and the image range (a crop squeezed into [0.1, 0.9], short steps), the first step is
        // −α·u₀ and the second −α·r·v/‖v‖ with v = μ·u₀ + u₁, where u₀, u₁ are the normalized gradients at δ = 0 and at the
        // first iterate. A run without momentum gives u₁ at the same first iterate, so the momentum step can be predicted.
        using var net = Shipped();
        using var scope = NewDisposeScope();
        var hr = ImageTensors.ToTensor(Crop("bird.png", 150, 100, 32, 32)) * 0.8 + 0.1;
        double alpha = 0.02, decay = 0.6, mu = 0.5;
        Tensor Run(int iterations, double momentum)
        {
            using var gen = new Generator(3);
            var options = new CollaborativeOptions { HrIterations = iterations, Epsilon = 0.3, StepSize = alpha, StepDecay = decay, Momentum = momentum, StartAtZero = true };
            return new CollaborativeOptimizer(net, options).HrStage(hr, gen) - hr;
        }
        var first = Run(1, 0);
        var plain = Run(2, 0) - first;
        var withMomentum = Run(2, mu) - first;
        Assert.Equal(alpha, Norm(first), 4);
        Assert.Equal(alpha * decay, Norm(plain), 4);
        Assert.Equal(alpha * decay, Norm(withMomentum), 4);
        var u0 = -first / alpha;
        var u1 = -plain / (alpha * decay);
        var v = u0 * mu + u1;
        var predicted = -v / Norm(v) * (alpha * decay);
        Assert.True(Norm(withMomentum - predicted) < 1e-3 * alpha, $"momentum step off its prediction by {Norm(withMomentum - predicted):g3}");
        // Momentum changes where the second step goes (the two gradients are not parallel).
        Assert.True(Norm(withMomentum - plain) > 0.05 * alpha, "the momentum step equals the plain one");
    }

    [Fact]
    public void WorksWithSainThroughADifferentiableJpeg()
    {
        // SAIN sends its high-quality LR and upscales the compressed one: the LR stage optimizes through DiffJpeg.
        using var net = ModelFile.Load(TestPaths.Conformance("sain_x2_small.safetensors"));
        Assert.Equal("SAIN", net.Architecture);
        var rescaler = new Rescaler(net);
        var hr = Crop("butterfly.png", 90, 70, 32, 32);
        var jpeg = new MLNet.Rescale.Compression.DiffJpeg(75);
        int calls = 0;
        var optimizer = new CollaborativeOptimizer(net, new CollaborativeOptions
        {
            HrIterations = 1, LrIterations = 2, CheckLatents = 0, LrChannel = t => { calls++; return jpeg.forward(t); },
        });
        var lr = optimizer.Downscale(rescaler, hr);
        Assert.Equal((16, 16), (lr.Width, lr.Height));
        Assert.All(lr.Data, v => Assert.Equal(v, MathF.Round(v * 255) / 255, 6));
        Assert.Equal(2, calls);
        Assert.NotEqual(rescaler.Downscale(hr).Data, lr.Data);
    }

    [Fact]
    public void ConcurrentOptimizationsOnOneNetworkMatchSequentialOnesAndLeaveItTrainable()
    {
        using var net = Random();
        var rescaler = new Rescaler(net);
        var images = new[] { Crop("butterfly.png", 0, 0, 40, 40), Crop("bird.png", 50, 50, 40, 40), Crop("butterfly.png", 100, 60, 40, 40) };
        var options = new CollaborativeOptions { HrIterations = 2, LrIterations = 2, Seed = 4 };
        var sequential = images.Select(i => new CollaborativeOptimizer(net, options).Downscale(rescaler, i).Data).ToArray();
        var parallel = new float[images.Length][];
        Parallel.For(0, images.Length, new ParallelOptions { MaxDegreeOfParallelism = 3 },
            k => parallel[k] = new CollaborativeOptimizer(net, options).Downscale(rescaler, images[k]).Data);
        for (int k = 0; k < images.Length; k++) Assert.Equal(sequential[k], parallel[k]);
        Assert.All(net.named_parameters().Where(p => !p.name.Contains("haar")), p => { Assert.True(p.parameter.requires_grad); Assert.Null(p.parameter.grad); });
    }

    [Fact]
    public void SettingsOutOfRangeAreRefused()
    {
        using var net = Random();
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { Epsilon = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { StepSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { LrIterations = -2 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { Epsilon = double.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { CheckLatents = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { Budget = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { Budget = double.PositiveInfinity }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { StepDecay = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { StepDecay = 1.5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { Momentum = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollaborativeOptimizer(net, new CollaborativeOptions { Momentum = double.NaN }));
    }
}
