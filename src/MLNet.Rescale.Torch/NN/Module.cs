namespace MLNet.Rescale.Tensors.NN;

/// <summary>
/// A network component with named parameters and sub-modules. Names compose with dots into
/// state-dict keys exactly as in PyTorch (<c>operations.1.F.conv1.weight</c>), so checkpoints
/// exported from PyTorch load by name.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<KeyValuePair<string, Parameter>> parameters = new();
    private readonly List<KeyValuePair<string, Module>> children = new();

    /// <summary>Training mode (true) or evaluation mode.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Registers a parameter under <paramref name="name"/>.</summary>
    protected Parameter RegisterParameter(string name, Parameter p)
    {
        parameters.Add(new(name, p));
        return p;
    }

    /// <summary>Registers a sub-module under <paramref name="name"/>.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        children.Add(new(name, module));
        return module;
    }

    /// <summary>Direct sub-modules in registration order.</summary>
    public IEnumerable<KeyValuePair<string, Module>> NamedChildren() => children;

    /// <summary>Every parameter of this module and its descendants, with its dotted name.</summary>
    public IEnumerable<KeyValuePair<string, Parameter>> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in parameters) yield return new(prefix + name, p);
        foreach (var (name, child) in children)
            foreach (var kv in child.NamedParameters(prefix + name + "."))
                yield return kv;
    }

    /// <summary>The parameters an optimizer should update (those requiring gradients).</summary>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(kv => kv.Value).Where(p => p.RequiresGrad);

    /// <summary>Number of trainable scalars.</summary>
    public long ParameterCount => Parameters().Sum(p => p.Value.Numel);

    /// <summary>Switches this module and its descendants to training or evaluation mode.</summary>
    public Module Train(bool on = true)
    {
        Training = on;
        foreach (var (_, c) in children) c.Train(on);
        return this;
    }

    /// <summary>Evaluation mode.</summary>
    public Module Eval() => Train(false);

    /// <summary>Moves every parameter to a device.</summary>
    public Module To(Device device)
    {
        foreach (var (_, p) in NamedParameters()) p.To(device);
        return this;
    }

    /// <summary>Drops every accumulated gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters()) p.Value.ZeroGrad();
    }

    /// <summary>The parameters by dotted name (the tensors are the module's own: do not dispose them).</summary>
    public Dictionary<string, Tensor> StateDict() => NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value.Value);

    /// <summary>
    /// Copies tensors in by name. Missing, unexpected or wrongly shaped entries are reported together
    /// in one exception that lists the names, and nothing is copied unless everything matches.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, string source = "state dict")
    {
        var own = NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value);
        var problems = new List<string>();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var extra = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (missing.Count > 0) problems.Add($"missing {missing.Count}: {Summarize(missing)}");
        if (extra.Count > 0) problems.Add($"unexpected {extra.Count}: {Summarize(extra)}");
        foreach (var (name, p) in own)
            if (state.TryGetValue(name, out var t) && !t.Shape.SequenceEqual(p.Shape))
                problems.Add($"{name} has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", p.Shape)}]");
        if (problems.Count > 0)
            throw new InvalidDataException($"{source}: tensors do not fit {GetType().Name}: {string.Join("; ", problems)}");
        using var scope = Torch.NewScope();
        foreach (var (name, p) in own) p.Set(state[name].To(p.Value.DType));
    }

    /// <summary>
    /// Copies in the entries whose name and shape match one of this module's parameters and ignores the rest
    /// (warm-starting a larger network from a smaller one); returns the names copied.
    /// </summary>
    public IReadOnlyList<string> LoadMatching(IReadOnlyDictionary<string, Tensor> state)
    {
        var copied = new List<string>();
        using var scope = Torch.NewScope();
        foreach (var (name, p) in NamedParameters())
        {
            if (!state.TryGetValue(name, out var t) || !t.Shape.SequenceEqual(p.Shape)) continue;
            p.Set(t.To(p.Value.DType));
            copied.Add(name);
        }
        return copied;
    }

    private static string Summarize(List<string> names) =>
        string.Join(", ", names.Take(8)) + (names.Count > 8 ? $", … ({names.Count - 8} more)" : "");

    /// <summary>Frees every parameter of this module and its descendants.</summary>
    public void Dispose()
    {
        foreach (var (_, p) in parameters) p.Dispose();
        foreach (var (_, c) in children) c.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>An indexed list of sub-modules named "0", "1", … (torch.nn.ModuleList).</summary>
public sealed class ModuleList<T> : Module where T : Module
{
    private readonly List<T> items = new();

    /// <summary>Creates the list from modules.</summary>
    public ModuleList(IEnumerable<T> modules)
    {
        foreach (var m in modules) Add(m);
    }

    /// <summary>Appends a module under the next index.</summary>
    public void Add(T module) => items.Add(RegisterModule(items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module));

    /// <summary>The i-th module.</summary>
    public T this[int i] => items[i];

    /// <summary>Number of modules.</summary>
    public int Count => items.Count;

    /// <summary>The modules in order.</summary>
    public IReadOnlyList<T> Items => items;
}
