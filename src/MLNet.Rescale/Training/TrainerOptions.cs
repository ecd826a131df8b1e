using System.Text.Json.Serialization;

namespace MLNet.Rescale.Training;

/// <summary>The network a run trains; stored by name in <c>options.json</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TrainingArchitecture>))]
public enum TrainingArchitecture
{
    /// <summary>IRN: Haar levels of affine coupling blocks, z ~ N(0, 1).</summary>
    Irn,
    /// <summary>SAIN: enhanced and vanilla blocks, a Gaussian-mixture z, trained through a codec.</summary>
    Sain,
}

/// <summary>Everything that defines a training run; saved into the run folder so a resume uses the same settings.</summary>
public sealed record TrainerOptions
{
    /// <summary>The network to train. Run folders written before SAIN existed have no such field and are IRN runs.</summary>
    public TrainingArchitecture Architecture { get; init; } = TrainingArchitecture.Irn;
    /// <summary>Downscaling factor (2, 4, 8).</summary>
    public int Scale { get; init; } = 2;
    /// <summary>IRN: coupling blocks per Haar level (null: the paper's 8).</summary>
    public int[]? BlocksPerLevel { get; init; }
    /// <summary>SAIN: enhanced blocks (null: the paper's 5 at ×2, 10 at ×4).</summary>
    public int? EnhancedBlocks { get; init; }
    /// <summary>SAIN: vanilla blocks of the compression simulator (null: the paper's 3 at ×2, 6 at ×4).</summary>
    public int? VanillaBlocks { get; init; }
    /// <summary>
    /// SAIN: the real codec in the loop, <c>jpeg:Q</c> or <c>webp:Q</c>; the differentiable surrogate is DiffJpeg at
    /// the same quality. Validation scores the round trip through this codec.
    /// </summary>
    public string Codec { get; init; } = "jpeg:75";
    /// <summary>
    /// IRN: spread σ of the latent z ~ N(0, σ²) the reconstruction term draws (the reference: 1). The model file
    /// records it and upscales with it by default; 0 trains the inverse with z = 0. Null: the spread of the IRN model
    /// <see cref="InitFrom"/> names (its levels were trained with it), else 1. The trainer resolves it before the run
    /// starts, and <c>options.json</c> records the value used.
    /// </summary>
    public double? LatentScale { get; init; }
    /// <summary>Dense-block growth channels.</summary>
    public int Growth { get; init; } = 32;
    /// <summary>Training image folders.</summary>
    public string[] DataFolders { get; init; } = [];
    /// <summary>Validation folder (Y-PSNR of the round trip), optional.</summary>
    public string? ValidationFolder { get; init; }
    /// <summary>
    /// Further folders scored like <see cref="ValidationFolder"/> at every validation (e.g. Set14 beside Set5), logged
    /// as <c>val_psnr_y_NAME</c> (NAME: the folder's name, which must differ between them) and drawn in the curve; the
    /// progress reports follow <see cref="ValidationFolder"/> alone. Run folders written before this option existed
    /// have no such field and score no further folder.
    /// </summary>
    public string[] ExtraValidationFolders { get; init; } = [];
    /// <summary>
    /// Draw each patch's image with probability proportional to its area (its number of possible crops) instead of
    /// uniformly. With folders of very different image sizes (T91's ~60 kpx crops beside ~1 MP photographs) uniform
    /// sampling spends most patches on the small images. Run folders written before this option existed have no such
    /// field and sample uniformly, so they resume exactly.
    /// </summary>
    public bool SampleByArea { get; init; }
    /// <summary>Patches per batch.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>HR patch side (a multiple of the scale).</summary>
    public int Patch { get; init; } = 48;
    /// <summary>Adam learning rate.</summary>
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>Adam weight decay.</summary>
    public double WeightDecay { get; init; } = 1e-5;
    /// <summary>Adam β1.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Adam β2.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Gradient-norm clip.</summary>
    public double ClipNorm { get; init; } = 10;
    /// <summary>Iterations at which the learning rate halves (MultiStepLR).</summary>
    public long[] Milestones { get; init; } = [];
    /// <summary>Learning-rate decay factor at each milestone.</summary>
    public double Gamma { get; init; } = 0.5;
    /// <summary>Linear warm-up iterations.</summary>
    public long Warmup { get; init; }
    /// <summary>Weight λ of the LR fit (IRN) or of SAIN's four LR terms (null: scale², as the references).</summary>
    public double? FitWeight { get; init; }
    /// <summary>
    /// Decay of an exponential moving average of the trained weights (e.g. 0.999: an average over the last ~1000
    /// iterations), or null for none. With an average, validation, the model file and the curve use the averaged
    /// weights, and the checkpoint keeps both, so a resume continues the average exactly. Early in a run the decay is
    /// min(decay, (1 + t) / (10 + t)) at iteration t, so the average does not hold on to the starting weights.
    /// Run folders written before this option existed have no such field and keep no average.
    /// </summary>
    public double? AverageDecay { get; init; }
    /// <summary>Iteration budget (the run stops at whichever budget ends first).</summary>
    public long Iterations { get; init; } = 1000;
    /// <summary>Wall-clock budget in minutes (0: none).</summary>
    public double Minutes { get; init; }
    /// <summary>Validate every N iterations (0: only at the end).</summary>
    public long ValidateEvery { get; init; } = 200;
    /// <summary>Checkpoint every N iterations.</summary>
    public long CheckpointEvery { get; init; } = 100;
    /// <summary>Seed of initialization, data order and latent draws.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>
    /// A model file whose weights initialize every parameter of the same name and shape (a ×4 network's first
    /// level from a trained ×2 model, or a longer run from an earlier one); null starts from scratch.
    /// </summary>
    public string? InitFrom { get; init; }
    /// <summary>libtorch threads (0: all cores).</summary>
    public int Threads { get; init; }
    /// <summary>
    /// Device to train on (TorchSharp's notation: cpu, cuda, cuda:N). A property of the machine, not of the run: a
    /// resumed run takes the caller's.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Device { get; init; } = "cpu";
}
