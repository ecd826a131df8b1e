using System.CommandLine;
using System.Globalization;
using MLNet.Rescale.Collaborative;

namespace MLNet.Rescale.Cli;

/// <summary>The options of collaborative downscaling (HCD), shared by <c>downscale</c> and <c>eval</c>.</summary>
internal sealed class CollaborativeArguments
{
    private static readonly CollaborativeOptions Defaults = new();

    public Option<bool> Enabled { get; } = new("--collaborative")
    {
        Description = "Optimize the LR for the frozen network (HCD: an HR stage, then an LR stage); the upscaler is unchanged.",
    };
    public Option<int> HrIterations { get; } = new("--hr-iters")
    {
        Description = "HCD iterations on the HR image (0 skips the stage).", DefaultValueFactory = _ => Defaults.HrIterations, HelpName = "N",
    };
    public Option<int> LrIterations { get; } = new("--lr-iters")
    {
        Description = "HCD iterations on the LR image (0 skips the stage).", DefaultValueFactory = _ => Defaults.LrIterations, HelpName = "N",
    };
    public Option<double> Epsilon { get; } = new("--epsilon")
    {
        Description = "L2 radius of the perturbation per tile, in [0,1] pixel units.", DefaultValueFactory = _ => Defaults.Epsilon, HelpName = "E",
    };
    public Option<double> Step { get; } = new("--step")
    {
        Description = "L2 length of each HCD step.", DefaultValueFactory = _ => Defaults.StepSize, HelpName = "A",
    };
    public Option<ulong> Seed { get; } = new("--hcd-seed")
    {
        Description = "Seed of HCD's random starts and latents.", DefaultValueFactory = _ => Defaults.Seed, HelpName = "S",
    };

    public IEnumerable<Option> All => [Enabled, HrIterations, LrIterations, Epsilon, Step, Seed];

    /// <summary>The settings, or null without <c>--collaborative</c>; a value out of range is a usage error.</summary>
    public CollaborativeOptions? Read(ParseResult r)
    {
        if (!r.GetValue(Enabled)) return null;
        var options = new CollaborativeOptions
        {
            HrIterations = r.GetValue(HrIterations), LrIterations = r.GetValue(LrIterations),
            Epsilon = r.GetValue(Epsilon), StepSize = r.GetValue(Step), Seed = r.GetValue(Seed),
        };
        try { options.Validate(); }
        catch (ArgumentOutOfRangeException e) { throw new CliException(e.Message.Split(" (Parameter")[0], CliContext.UsageError); }
        return options;
    }

    /// <summary>One line describing the settings.</summary>
    public static string Describe(CollaborativeOptions o) => string.Create(CultureInfo.InvariantCulture,
        $"HCD {o.HrIterations} HR + {o.LrIterations} LR iterations, ε {o.Epsilon:0.###}, step {o.StepSize:0.####}");
}
