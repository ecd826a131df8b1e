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
    public Option<string> Recipe { get; } = new("--hcd-recipe")
    {
        Description = "Starting settings of HCD: paper (15 + 15 iterations, step 20/255, ε 0.3) or serving (0 + 3 iterations from δ = 0, step 60/255 shrinking by 0.8 per iteration, momentum 0.5, ε 0.5: about the paper's gain at ×2 and ×4 in a twelfth of its time; 1 + 2 through --compress jpeg); the options below override it.",
        DefaultValueFactory = _ => "paper", HelpName = "paper|serving",
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
    public Option<double> StepDecay { get; } = new("--step-decay")
    {
        Description = "Factor each HCD step's length is multiplied by after every iteration of a stage, in (0, 1]; 1 keeps every step as long.",
        DefaultValueFactory = _ => Defaults.StepDecay, HelpName = "R",
    };
    public Option<double> Momentum { get; } = new("--momentum")
    {
        Description = "Momentum of HCD's steps on the normalized gradients, in [0, 1); 0 steps along each gradient (the paper).",
        DefaultValueFactory = _ => Defaults.Momentum, HelpName = "M",
    };
    public Option<ulong> Seed { get; } = new("--hcd-seed")
    {
        Description = "Seed of HCD's random starts and latents.", DefaultValueFactory = _ => Defaults.Seed, HelpName = "S",
    };
    public Option<string> Start { get; } = new("--hcd-start")
    {
        Description = "Where each HCD stage starts: random (the paper: a random perturbation in the ball) or zero (δ = 0; with a z = 0 model the check reuses the first iterations' errors, two to three network passes fewer per tile).",
        HelpName = "random|zero",
    };

    public Option<double?> Budget { get; } = new("--hcd-budget")
    {
        Description = "Time HCD may take per HR megapixel, in seconds: it stops each stage at the last iteration that fits and returns the best LR found (default: no limit).",
        HelpName = "SECONDS_PER_MEGAPIXEL",
    };
    public IEnumerable<Option> All => [Enabled, Recipe, HrIterations, LrIterations, Epsilon, Step, StepDecay, Momentum, Seed, Start, Budget];

    /// <summary>
    /// The settings for a network of a given scale (the serving recipe may depend on it, and on whether the LR stage
    /// optimizes through a codec: <paramref name="throughCodec"/>), or null without <c>--collaborative</c>; a value out of
    /// range is a usage error (when the recipe or a value is wrong, before any model loads).
    /// </summary>
    public Func<int, CollaborativeOptions>? Read(ParseResult r, bool throughCodec = false)
    {
        if (!r.GetValue(Enabled)) return null;
        string recipe = r.GetValue(Recipe)!;
        if (recipe is not ("paper" or "serving"))
            throw new CliException($"--hcd-recipe must be paper or serving, got '{recipe}'", CliContext.UsageError);
        if (r.GetValue(Start) is { } start && start is not ("random" or "zero"))
            throw new CliException($"--hcd-start must be random or zero, got '{start}'", CliContext.UsageError);
        Read(r, recipe, 2, throughCodec);
        return scale => Read(r, recipe, scale, throughCodec);
    }

    private CollaborativeOptions Read(ParseResult r, string recipeName, int scale, bool throughCodec)
    {
        var recipe = recipeName == "serving" ? CollaborativeOptions.ServingFor(scale, throughCodec) : new CollaborativeOptions();
        // An option given on the command line overrides the recipe; one left out keeps the recipe's value.
        T Given<T>(Option<T> option, T recipeValue) => r.GetResult(option) is { Implicit: false } ? r.GetValue(option)! : recipeValue;
        var options = recipe with
        {
            HrIterations = Given(HrIterations, recipe.HrIterations), LrIterations = Given(LrIterations, recipe.LrIterations),
            Epsilon = Given(Epsilon, recipe.Epsilon), StepSize = Given(Step, recipe.StepSize), StepDecay = Given(StepDecay, recipe.StepDecay),
            Momentum = Given(Momentum, recipe.Momentum), Seed = r.GetValue(Seed),
            Budget = r.GetValue(Budget), StartAtZero = r.GetValue(Start) is { } start ? start == "zero" : recipe.StartAtZero,
        };
        try { options.Validate(); }
        catch (ArgumentOutOfRangeException e) { throw new CliException(e.Message.Split(" (Parameter")[0], CliContext.UsageError); }
        return options;
    }

    /// <summary>One line describing the settings.</summary>
    public static string Describe(CollaborativeOptions o) => string.Create(CultureInfo.InvariantCulture,
        $"HCD {o.HrIterations} HR + {o.LrIterations} LR iterations, ε {o.Epsilon:0.###}, step {o.StepSize:0.####}{(o.StepDecay < 1 ? $" ×{o.StepDecay:0.###} per iteration" : "")}{(o.Momentum > 0 ? $", momentum {o.Momentum:0.###}" : "")}{(o.StartAtZero ? ", started at δ = 0" : "")}{(o.Budget is { } b ? $", budget {b:0.##} s/MP" : "")}");
}
