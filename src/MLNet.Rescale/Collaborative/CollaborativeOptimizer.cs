using System.Runtime.CompilerServices;
using MLNet.Rescale.Imaging;
using MLNet.Rescale.Inference;
using MLNet.Rescale.Networks;
using MLNet.Rescale.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static MLNet.Rescale.Engine.Scalars;

namespace MLNet.Rescale.Collaborative;

/// <summary>Settings of collaborative downscaling (HCD): two projected-gradient stages, HR then LR.</summary>
public sealed record CollaborativeOptions
{
    /// <summary>Iterations of the HR stage (0 skips it).</summary>
    public int HrIterations { get; init; } = 15;
    /// <summary>Iterations of the LR stage (0 skips it).</summary>
    public int LrIterations { get; init; } = 15;
    /// <summary>Radius of the L2 ball the perturbation stays in, per image (per tile when tiled), in [0,1] pixel units.</summary>
    public double Epsilon { get; init; } = 0.3;
    /// <summary>L2 length of a stage's first gradient step (of every step with the default <see cref="StepDecay"/>).</summary>
    public double StepSize { get; init; } = 20.0 / 255;
    /// <summary>
    /// Factor each step's length is multiplied by after every iteration of a stage: step i is <see cref="StepSize"/>·decayⁱ.
    /// 1 (the paper) keeps every step as long; below 1 a few iterations take long first steps and shorter later ones.
    /// </summary>
    public double StepDecay { get; init; } = 1;
    /// <summary>
    /// Heavy-ball momentum on the normalized gradients: each step goes along v ← μ·v + g/‖g‖ (per image, v normalized to
    /// the step's length), so later steps keep part of the earlier directions. 0 (the paper) steps along the gradient.
    /// </summary>
    public double Momentum { get; init; }
    /// <summary>Seed of the random starts and of the latents drawn at every iteration.</summary>
    public ulong Seed { get; init; }
    /// <summary>
    /// What the LR meets before it is upscaled, as a differentiable surrogate (e.g. a differentiable JPEG at the
    /// quality of the codec that follows), applied to the quantized LR in the LR stage; null: nothing.
    /// </summary>
    public Func<Tensor, Tensor>? LrChannel { get; init; }
    /// <summary>
    /// Latents on which the final LR is checked against the plain and the HR-stage-only LR, keeping whichever
    /// reconstructs best (per image or tile), so the optimization never makes a round trip worse on them; 0 turns
    /// the check off and always returns the last iterate.
    /// </summary>
    public int CheckLatents { get; init; } = 2;
    /// <summary>
    /// Start each stage at δ = 0 instead of the paper's random start (a Gaussian direction, radius U(0,1)·ε). The first
    /// iteration then evaluates the stage's starting LR itself, so when the network upscales with a fixed latent (z = 0,
    /// as the shipped IRNs) the check takes that candidate's error from it instead of upscaling it again, and without a
    /// budget the plain downscale comes from the HR stage's first iteration: two to three network passes fewer per tile.
    /// </summary>
    public bool StartAtZero { get; init; }
    /// <summary>
    /// Time allowed per HR megapixel, in seconds; null: no limit (every iteration runs). With a budget HCD is an
    /// anytime algorithm: each tile gets its share of the image's budget, the stages stop at the last iteration that
    /// fits (the HR stage within its share, the LR stage within the rest, keeping time for the check), and the check
    /// still returns the best candidate — never worse than the plain LR on the check latents.
    /// </summary>
    public double? Budget { get; init; }
    /// <summary>The clock the <see cref="Budget"/> is measured on (a fake one in tests).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>
    /// The serving recipe: the LR stage only, three iterations from δ = 0 whose steps start at 60/255 and shrink by 0.8
    /// per iteration, with momentum 0.5, in a ball of 0.5. Measured on Set5 and Set14 with the shipped IRNs it keeps 98%
    /// to 114% of the paper recipe's gain at ×2 and ×4 in about a twelfth of its time (the README gives the tables). An
    /// LR iteration upscales and differentiates one direction only, and momentum lets three of them go as far as the
    /// paper's thirty; the HR stage no longer paid for itself. The defaults stay the paper's.
    /// </summary>
    public static CollaborativeOptions Serving => new()
    {
        HrIterations = 0, LrIterations = 3, StepSize = 60.0 / 255, StepDecay = 0.8, Momentum = 0.5, Epsilon = 0.5, StartAtZero = true,
    };

    /// <summary>
    /// The serving recipe for a network of <paramref name="scale"/> whose LR meets a codec (<paramref name="throughCodec"/>:
    /// an <see cref="CollaborativeOptions.LrChannel"/> will be set) or not. Without a codec it is <see cref="Serving"/> at
    /// every scale (measured at ×2 and ×4). Through a codec the codec quantizes away part of every LR step, and one HR
    /// iteration pays again: one HR and two LR iterations with the same steps (SAIN ×2 under JPEG 75: +0.18 dB, about
    /// 92% of the paper recipe's gain, where the LR stage alone keeps about 77%).
    /// </summary>
    public static CollaborativeOptions ServingFor(int scale, bool throughCodec = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        return throughCodec ? Serving with { HrIterations = 1, LrIterations = 2 } : Serving;
    }

    /// <summary>Throws if a setting is out of range.</summary>
    public void Validate()
    {
        if (Budget is { } b && !(b >= 0 && double.IsFinite(b))) throw new ArgumentOutOfRangeException(nameof(Budget), $"the budget must be finite and ≥ 0 seconds per megapixel, got {b}");
        ArgumentNullException.ThrowIfNull(Clock, nameof(Clock));
        if (HrIterations < 0 || LrIterations < 0) throw new ArgumentOutOfRangeException(nameof(HrIterations), "iterations must be ≥ 0");
        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon)) throw new ArgumentOutOfRangeException(nameof(Epsilon), $"epsilon must be finite and ≥ 0, got {Epsilon}");
        if (CheckLatents < 0) throw new ArgumentOutOfRangeException(nameof(CheckLatents), $"check latents must be ≥ 0, got {CheckLatents}");
        if (!(StepSize > 0) || double.IsInfinity(StepSize)) throw new ArgumentOutOfRangeException(nameof(StepSize), $"step must be finite and > 0, got {StepSize}");
        if (!(StepDecay > 0 && StepDecay <= 1)) throw new ArgumentOutOfRangeException(nameof(StepDecay), $"the step decay must be in (0, 1], got {StepDecay}");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentOutOfRangeException(nameof(Momentum), $"the momentum must be in [0, 1), got {Momentum}");
    }
}

/// <summary>The two stages of HCD.</summary>
public enum CollaborativeStage
{
    /// <summary>The HR image is perturbed so that its downscale reconstructs better.</summary>
    Hr,
    /// <summary>The LR image itself is perturbed.</summary>
    Lr,
}

/// <summary>One finished iteration of an HCD stage: iteration <paramref name="Iteration"/> of at most <paramref name="Iterations"/> (a budget may end the stage earlier).</summary>
public readonly record struct CollaborativeStep(CollaborativeStage Stage, int Iteration, int Iterations);

/// <summary>
/// Collaborative downscaling (HCD): with the network frozen, optimizes the image a client receives instead of the
/// network. The HR stage perturbs the HR image y by δ so that the round trip
/// <c>upscale(Quant(downscale(y+δ)), z)</c> reconstructs y better; the LR stage then perturbs the quantized LR
/// <c>X = Quant(downscale(y*))</c> itself against the same objective and sends <c>Quant(X+δ)</c>. Each step is
/// <c>δ ← δ − α·g/‖g‖₂</c>, projected to the L2 ball of radius ε and clipped so the image stays in [0,1]; starts are
/// random (Gaussian direction, radius U(0,1)·ε) and every iteration draws a fresh latent, so the LR does not
/// overfit one draw. Beyond the paper, steps may shrink per iteration (<see cref="CollaborativeOptions.StepDecay"/>),
/// follow a momentum of the normalized gradients (<see cref="CollaborativeOptions.Momentum"/>) and start at δ = 0. The
/// upscaler is unchanged: any client upscales the result as it would a plain LR.
/// </summary>
public sealed class CollaborativeOptimizer
{
    private readonly RescaleNetwork network;

    /// <summary>Optimizes for <paramref name="network"/> (which is not modified; its gradients are switched off while optimizing).</summary>
    public CollaborativeOptimizer(RescaleNetwork network, CollaborativeOptions? options = null)
    {
        this.network = network;
        Options = options ?? new CollaborativeOptions();
        Options.Validate();
    }

    /// <summary>The settings.</summary>
    public CollaborativeOptions Options { get; }

    /// <summary>Network passes (forward or inverse, with their backward) per tile: what progress is counted in.</summary>
    public int StepsPerTile => Options.HrIterations + Options.LrIterations;

    /// <summary>
    /// The optimized, 8-bit-quantized LR [N, 3, H/s, W/s] of an HR batch [N, 3, H, W] in [0,1] (H, W multiples of
    /// the scale), within <see cref="CollaborativeOptions.Budget"/> for the batch's pixels when there is one.
    /// <paramref name="step"/> is called after every iteration, with its stage.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="hr"/> holds a NaN or an infinity.</exception>
    public Tensor Optimize(Tensor hr, Generator generator, Action<CollaborativeStep>? step = null) =>
        Optimize(hr, generator, step, Deadline.For(Options, hr.size(0) * hr.size(2) * hr.size(3)));

    private Tensor Optimize(Tensor hr, Generator generator, Action<CollaborativeStep>? step, Deadline deadline)
    {
        Inference.FiniteInput.Require(hr, nameof(hr));
        using var scope = NewDisposeScope();
        var y = hr.detach();
        var candidates = new List<Candidate>();
        long started = deadline.Now;
        // Without a budget a zero-started HR stage's first iteration downscales y itself: its LR is the plain one. With a
        // budget the plain downscale runs first: it is what the budget falls back on and what the passes are timed by.
        bool plainFromHrStage = Options.StartAtZero && Options.HrIterations > 0 && deadline.End is null;
        double pass = 0;
        if (!plainFromHrStage)
        {
            using (no_grad()) candidates.Add(new(Quantize(network.Downscale(y)), null));
            // One network pass, measured: what the stages' first iterations and the final check are estimated in.
            pass = deadline.Since(started);
        }
        var stagesEnd = deadline.Minus(CheckLatentCount * UnmeasuredCandidates * pass);
        // The HR stage's share of the time: an HR iteration runs both directions and their gradients, about twice an
        // LR iteration; the LR stage then has whatever the HR stage left.
        double hrShare = Options.LrIterations == 0 ? 1 : 2.0 * Options.HrIterations / (2.0 * Options.HrIterations + Options.LrIterations);
        var (yStar, hrStart) = HrStage(y, generator, step, stagesEnd.Share(hrShare), pass);
        if (hrStart is not null)
        {
            // The HR stage's first iteration upscaled the plain LR without the LR channel: its error is the check's
            // only when there is no channel (and the latent is fixed).
            var plain = new Candidate(hrStart.Lr, FixedLatent && Options.LrChannel is null ? hrStart.Errors : null);
            if (plainFromHrStage) candidates.Add(plain);
            else candidates[0] = plain;
        }
        if (!ReferenceEquals(yStar, y))
            using (no_grad()) candidates.Add(new(Quantize(network.Downscale(yStar)), null));
        if (Options.LrIterations > 0)
        {
            var x = candidates[^1].Lr;
            var (lr, lrStart) = LrStage(x, y, generator, step, stagesEnd, pass);
            // The LR stage's first iteration upscaled channel(Quant(X + 0)) = channel(X): the check's computation.
            if (lrStart is not null) candidates[^1] = new(lrStart.Lr, FixedLatent ? lrStart.Errors : null);
            if (!ReferenceEquals(lr, x))
                using (no_grad()) candidates.Add(new(Quantize(lr), null));
        }
        return Best(candidates, y, generator).MoveToOuterDisposeScope();
    }

    /// <summary>A candidate LR and, when an iteration already measured it, its round-trip error per batch element.</summary>
    private sealed record Candidate(Tensor Lr, double[]? Errors);

    /// <summary>What a zero-started stage's first iteration measured: the quantized LR it upscaled and its MSE per batch element.</summary>
    private sealed record StartPoint(Tensor Lr, double[] Errors);

    /// <summary>The network upscales with a fixed latent (z = 0) and the check runs: an iteration's error is the check's.</summary>
    private bool FixedLatent => network.LatentScale == 0 && Options.CheckLatents > 0;

    /// <summary>Candidates the check will have to upscale (the others' errors come from zero-started first iterations).</summary>
    private int UnmeasuredCandidates
    {
        get
        {
            int hr = Options.HrIterations > 0 ? 1 : 0, lr = Options.LrIterations > 0 ? 1 : 0, count = 1 + hr + lr;
            if (!Options.StartAtZero || !FixedLatent) return count;
            return count - lr - (hr == 1 && Options.LrChannel is null ? 1 : 0);
        }
    }

    /// <summary>
    /// Latents each candidate is checked on: <see cref="CollaborativeOptions.CheckLatents"/>, or one when the network
    /// upscales with a fixed latent (z = 0: every draw is the same, so a second one would repeat the first).
    /// </summary>
    private int CheckLatentCount => Options.CheckLatents == 0 ? 0 : network.LatentScale == 0 ? 1 : Options.CheckLatents;

    /// <summary>
    /// The candidate LR (plain, after the HR stage, after the LR stage) whose round trip reconstructs
    /// <paramref name="y"/> best on <see cref="CollaborativeOptions.CheckLatents"/> shared latents, per batch element;
    /// the last one when checking is off. Candidates whose error an iteration already measured are not upscaled again.
    /// </summary>
    private Tensor Best(List<Candidate> candidates, Tensor y, Generator generator)
    {
        if (candidates.Count == 1 || Options.CheckLatents == 0) return candidates[^1].Lr;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var channel = Options.LrChannel ?? (t => t);
        var latents = Enumerable.Range(0, CheckLatentCount)
            .Select(_ => network.SampleLatent(candidates[0].Lr.shape, generator, device: y.device)).ToList();
        long n = y.size(0);
        // Mean squared error of each candidate's round trip per batch element, averaged over the latents.
        var errors = candidates.Select(c => c.Errors ?? Measure(c.Lr)).ToList();
        double[] Measure(Tensor lr)
        {
            var sum = new double[n];
            foreach (var z in latents)
            {
                var e = (network.Upscale(channel(lr), z) - y).Squared().mean([1, 2, 3]).data<float>().ToArray();
                for (int i = 0; i < n; i++) sum[i] += e[i];
            }
            return sum;
        }
        var rows = new List<Tensor>();
        for (int i = 0; i < n; i++)
        {
            int best = Enumerable.Range(0, candidates.Count).MinBy(c => errors[c][i]);
            rows.Add(candidates[best].Lr.narrow(0, i, 1));
        }
        var picked = cat(rows, 0);
        return picked.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The HR stage: y* = y + δ with ‖δ‖₂ ≤ ε per image and y* in [0,1], optimized so that the round trip of y*
    /// reconstructs <paramref name="hr"/>. Returns <paramref name="hr"/> itself when the stage has no iterations.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="hr"/> holds a NaN or an infinity.</exception>
    public Tensor HrStage(Tensor hr, Generator generator, Action<CollaborativeStep>? step = null)
    {
        using var scope = NewDisposeScope();
        var (result, _) = HrStage(hr, generator, step, Deadline.None, 0);
        return ReferenceEquals(result, hr) ? hr : result.MoveToOuterDisposeScope();
    }

    private (Tensor Result, StartPoint? Start) HrStage(Tensor hr, Generator generator, Action<CollaborativeStep>? step, Deadline deadline, double pass)
    {
        Inference.FiniteInput.Require(hr, nameof(hr));
        if (Options.HrIterations == 0) return (hr, null);
        using var scope = NewDisposeScope();
        using var frozen = Freeze();
        var y = hr.detach();
        // An HR iteration: a downscale and an upscale, each with its gradient (about four passes).
        var (delta, start) = Descend(y, CollaborativeStage.Hr, Options.HrIterations, generator, step, d => network.Downscale(y.Plus(d)), t => t, y, deadline, 4 * pass);
        start?.Lr.MoveToOuterDisposeScope();
        if (delta is null) return (hr, start);
        using (no_grad()) return (y.Plus(delta).MoveToOuterDisposeScope(), start);
    }

    /// <summary>
    /// The LR stage: X + δ with ‖δ‖₂ ≤ ε per image and X + δ in [0,1] (not yet quantized), optimized so that the
    /// upscale of <c>channel(Quant(X + δ))</c> reconstructs <paramref name="hr"/>. Returns <paramref name="lr"/>
    /// itself when the stage has no iterations.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="lr"/> or <paramref name="hr"/> holds a NaN or an infinity.</exception>
    public Tensor LrStage(Tensor lr, Tensor hr, Generator generator, Action<CollaborativeStep>? step = null)
    {
        using var scope = NewDisposeScope();
        var (result, _) = LrStage(lr, hr, generator, step, Deadline.None, 0);
        return ReferenceEquals(result, lr) ? lr : result.MoveToOuterDisposeScope();
    }

    private (Tensor Result, StartPoint? Start) LrStage(Tensor lr, Tensor hr, Generator generator, Action<CollaborativeStep>? step, Deadline deadline, double pass)
    {
        Inference.FiniteInput.Require(lr, nameof(lr));
        Inference.FiniteInput.Require(hr, nameof(hr));
        if (Options.LrIterations == 0) return (lr, null);
        using var scope = NewDisposeScope();
        using var frozen = Freeze();
        var x = lr.detach();
        // An LR iteration: an upscale and its gradient (about two passes).
        var (delta, start) = Descend(x, CollaborativeStage.Lr, Options.LrIterations, generator, step, d => x.Plus(d), Options.LrChannel ?? (t => t), hr.detach(), deadline, 2 * pass);
        start?.Lr.MoveToOuterDisposeScope();
        if (delta is null) return (lr, start);
        using (no_grad()) return (x.Plus(delta).MoveToOuterDisposeScope(), start);
    }

    /// <summary>
    /// Projected normalized-gradient descent on a perturbation δ of <paramref name="start"/> (kept in the ε-ball and so
    /// that start+δ stays in [0,1]) of MSE(upscale(channel(Quant(lrOf(δ))), z), target), from a random δ (the paper)
    /// or δ = 0 (<see cref="CollaborativeOptions.StartAtZero"/>, which also returns what the first iteration measured).
    /// Stops early when the next iteration would end after <paramref name="deadline"/> (the first one is estimated at
    /// <paramref name="firstIteration"/> seconds, later ones at the mean so far); δ is null when not one iteration ran.
    /// </summary>
    private (Tensor? Delta, StartPoint? Start) Descend(Tensor start, CollaborativeStage stage, int iterations, Generator generator, Action<CollaborativeStep>? step, Func<Tensor, Tensor> lrOf,
        Func<Tensor, Tensor> channel, Tensor target, Deadline deadline, double firstIteration)
    {
        if (!deadline.Allows(firstIteration)) return (null, null);
        double eps = Options.Epsilon, alpha = Options.StepSize;
        Tensor delta;
        using (no_grad())
        {
            if (Options.StartAtZero) delta = zeros_like(start);
            else
            {
                // Random start: a Gaussian direction scaled to a radius drawn uniformly in [0, ε).
                var direction = randn(start.shape, device: start.device, generator: generator);
                var radius = rand([start.size(0), 1, 1, 1], device: start.device, generator: generator) * S(eps);
                delta = ClipToImage(start, Normalized(direction) * radius);
            }
        }
        StartPoint? measured = null;
        Tensor? velocity = null;
        long began = deadline.Now;
        for (int i = 0; i < iterations; i++)
        {
            if (i > 0 && !deadline.Allows(deadline.Since(began) / i)) break;
            using var iteration = NewDisposeScope();
            var d = delta.detach().requires_grad_();
            var quantized = Quantize(lrOf(d));
            var lr = channel(quantized);
            var z = network.SampleLatent(lr.shape, generator, device: lr.device);
            var error = network.Upscale(lr, z) - target;
            var loss = error.Squared().mean();
            loss.backward();
            using (no_grad())
            {
                if (i == 0 && Options.StartAtZero)
                {
                    var errors = error.Squared().mean([1, 2, 3]).data<float>().Select(e => (double)e).ToArray();
                    measured = new(quantized.detach().MoveToOuterDisposeScope(), errors);
                }
                var g = d.grad ?? throw new InvalidOperationException("the reconstruction does not depend on the perturbation");
                var direction = Normalized(g);
                if (Options.Momentum > 0)
                {
                    velocity = (velocity is null ? direction : (velocity * S(Options.Momentum)).Plus(direction)).MoveToOuterDisposeScope();
                    direction = Normalized(velocity);
                }
                var moved = d - direction * S(alpha * Math.Pow(Options.StepDecay, i));
                var norm = PerImageNorm(moved);
                var projected = moved * (S(eps) / norm.clamp(S(eps > 0 ? eps : 1e-12), S(1e30)));
                delta = ClipToImage(start, projected).MoveToOuterDisposeScope();
            }
            step?.Invoke(new CollaborativeStep(stage, i + 1, iterations));
        }
        return (delta.MoveToOuterDisposeScope(), measured);
    }

    /// <summary>When a budgeted optimization must be done by, on <see cref="CollaborativeOptions.Clock"/>; <see cref="None"/> never ends.</summary>
    private readonly record struct Deadline(TimeProvider Clock, long? End)
    {
        public static Deadline None => new(TimeProvider.System, null);

        /// <summary>The deadline for <paramref name="pixels"/> HR pixels starting now: <see cref="CollaborativeOptions.Budget"/> per megapixel.</summary>
        public static Deadline For(CollaborativeOptions o, long pixels) => o.Budget is { } b
            ? new(o.Clock, o.Clock.GetTimestamp() + Ticks(o.Clock, b * pixels / 1e6))
            : new(o.Clock, null);

        public long Now => Clock.GetTimestamp();

        /// <summary>Seconds since the timestamp <paramref name="start"/>.</summary>
        public double Since(long start) => (double)(Clock.GetTimestamp() - start) / Clock.TimestampFrequency;

        /// <summary>Whether work of <paramref name="seconds"/> started now ends by the deadline (nothing starts at or after it).</summary>
        public bool Allows(double seconds) => End is not { } end || (Clock.GetTimestamp() is var now && now < end && now + Ticks(Clock, seconds) <= end);

        /// <summary>The deadline <paramref name="seconds"/> earlier.</summary>
        public Deadline Minus(double seconds) => End is { } end ? this with { End = end - Ticks(Clock, seconds) } : this;

        /// <summary>The point <paramref name="fraction"/> of the way from now to the deadline.</summary>
        public Deadline Share(double fraction) => End is { } end
            ? this with { End = Clock.GetTimestamp() + (long)(Math.Max(0, end - Clock.GetTimestamp()) * fraction) }
            : this;

        /// <summary>Seconds in the clock's ticks.</summary>
        public static long Ticks(TimeProvider clock, double seconds) => (long)Math.Round(seconds * clock.TimestampFrequency);
    }

    /// <summary>Downscales an image tile by tile (the tiling of <paramref name="rescaler"/>) with collaborative optimization.</summary>
    /// <exception cref="ArgumentException"><paramref name="hr"/> holds a NaN or an infinity, or the rescaler runs another network.</exception>
    public Image Downscale(Rescaler rescaler, Image hr, Action? step = null) =>
        Downscale(rescaler, hr, step is null ? (Action<CollaborativeStep>?)null : _ => step());

    /// <summary>
    /// Downscales an image tile by tile with collaborative optimization, telling <paramref name="onStep"/> each finished
    /// iteration with its stage (per tile: the HR stage's iterations, then the LR stage's).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="hr"/> holds a NaN or an infinity, or the rescaler runs another network.</exception>
    public Image Downscale(Rescaler rescaler, Image hr, Action<CollaborativeStep>? onStep)
    {
        var step = onStep;
        Inference.FiniteInput.Require(hr, nameof(hr));
        if (!ReferenceEquals(rescaler.Network, network)) throw new ArgumentException("the rescaler runs a different network", nameof(rescaler));
        using var generator = new Generator(Options.Seed);
        var image = Deadline.For(Options, (long)hr.Width * hr.Height);
        // Each tile gets the share of the time left that its pixels are of the pixels left (tiles overlap a little, so
        // the pixels are counted as the tiles have them, and the last tile gets all that remains).
        long pixelsLeft = (long)hr.Width * hr.Height;
        return rescaler.DownscaleTiles(hr, tile =>
        {
            long pixels = tile.size(0) * tile.size(2) * tile.size(3);
            var share = image.Share(Math.Min(1.0, (double)pixels / Math.Max(pixels, pixelsLeft)));
            pixelsLeft -= pixels;
            return Optimize(tile, generator, step, share);
        }, inference: false);
    }

    /// <summary>
    /// Runs one iteration of each stage on a random tile as large as the largest tile <paramref name="rescaler"/> cuts
    /// a <paramref name="width"/>×<paramref name="height"/> image into, and returns the seconds it took. HCD's first
    /// iterations in a process are slow (measured: +2.5 s for a 256² tile, +6 s for a 432² one) while the heap grows to
    /// the gigabytes the autograd graph needs — the kernel hands out and zeroes fresh pages, hundreds of thousands of
    /// faults on a VM. A service calls this once at start so that its first request does not pay for it; <c>rescale
    /// eval</c> calls it before timing and reports it apart. Later, larger tiles still grow the heap.
    /// </summary>
    public double WarmUp(Rescaler rescaler, int width, int height)
    {
        if (!ReferenceEquals(rescaler.Network, network)) throw new ArgumentException("the rescaler runs a different network", nameof(rescaler));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int s = rescaler.Scale;
        var (tileW, tileH) = rescaler.LargestTile((width + s - 1) / s, (height + s - 1) / s);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var once = new CollaborativeOptimizer(network, Options with
        {
            HrIterations = Math.Min(1, Options.HrIterations), LrIterations = Math.Min(1, Options.LrIterations), Budget = null,
        });
        using (var scope = NewDisposeScope())
        using (var generator = new Generator(Options.Seed))
        {
            var tile = rand([1, 3, tileH * s, tileW * s], generator: generator, device: rescaler.Options.Device);
            once.Optimize(tile, generator);
        }
        return started.Elapsed.TotalSeconds;
    }

    /// <summary>Network passes (iterations) that <see cref="Downscale(Rescaler, Image, Action?)"/> runs for an image, for progress bars.</summary>
    public int TotalSteps(Rescaler rescaler, int width, int height)
    {
        int s = rescaler.Scale;
        return StepsPerTile * rescaler.TileCount((width + s - 1) / s, (height + s - 1) / s);
    }

    private static Tensor Quantize(Tensor x) => Quantization.Quantize(x);

    /// <summary>Each batch element scaled to L2 norm 1 (a zero one stays zero).</summary>
    private static Tensor Normalized(Tensor t) => t / PerImageNorm(t).clamp(S(1e-12), S(1e30));

    /// <summary>L2 norm of each batch element, shaped [N, 1, 1, 1] for broadcasting.</summary>
    private static Tensor PerImageNorm(Tensor t) => t.Squared().sum([1, 2, 3], keepdim: true).sqrt();

    /// <summary>The perturbation clipped so that start + δ stays in [0, 1].</summary>
    private static Tensor ClipToImage(Tensor start, Tensor delta) => start.Plus(delta).clamp(S(0), S(1)) - start;

    /// <summary>
    /// Switches the network's parameter gradients off (only δ needs them) until disposed. Counted per network, so
    /// optimizers running at the same time on one network leave it frozen until the last one finishes.
    /// </summary>
    private IDisposable Freeze()
    {
        var state = Frozen.GetValue(network, _ => new FreezeState());
        lock (state)
        {
            if (state.Count++ == 0)
            {
                state.Parameters = network.parameters().Where(p => p.requires_grad).ToList();
                foreach (var p in state.Parameters) p.requires_grad = false;
            }
        }
        return new Restore(() =>
        {
            lock (state)
            {
                if (--state.Count > 0) return;
                foreach (var p in state.Parameters) p.requires_grad = true;
                state.Parameters = [];
            }
        });
    }

    private static readonly ConditionalWeakTable<RescaleNetwork, FreezeState> Frozen = new();

    private sealed class FreezeState
    {
        public int Count;
        public List<TorchSharp.Modules.Parameter> Parameters = [];
    }

    private sealed class Restore(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
