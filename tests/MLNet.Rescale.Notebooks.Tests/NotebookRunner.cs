using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace MLNet.Rescale.Notebooks.Tests;

/// <summary>What <c>HTML(...)</c> returns under the runner: the markup, shown by <c>display</c>.</summary>
public sealed record HtmlContent(string Html)
{
    public override string ToString() => Html;
}

/// <summary>
/// What <c>display</c> returns under the runner, as the kernel's <c>DisplayedValue</c>: <see cref="Update"/> replaces what
/// that output shows (the kernel redraws it in place, e.g. a plot while training runs). Every value it showed is kept.
/// </summary>
public sealed class DisplayedValue
{
    private readonly List<object?> history;

    internal DisplayedValue(object? value) => history = [value];

    /// <summary>What the output shows now: the last value displayed or updated.</summary>
    public object? Value => history[^1];

    /// <summary>The value first displayed, then each update, in order.</summary>
    public IReadOnlyList<object?> History => history;

    /// <summary>Replaces what this output shows.</summary>
    public void Update(object? updatedValue) => history.Add(updatedValue);
}

/// <summary>
/// The globals of a notebook run: stand-ins for the .NET Interactive C# kernel's <c>display(value, mimeTypes)</c> (which
/// returns a <see cref="DisplayedValue"/> that can be updated) and <c>HTML(markup)</c>, recording what a cell shows so a
/// test can check it.
/// </summary>
public sealed class NotebookGlobals
{
    /// <summary>Every output made by <c>display</c>, in order.</summary>
    public List<DisplayedValue> Outputs { get; } = [];

    /// <summary>What each output shows at the end of the run (its last value), in order.</summary>
    public IReadOnlyList<object?> Displayed => Outputs.Select(o => o.Value).ToList();

#pragma warning disable IDE1006 // lower-case names: the notebooks call the kernel's functions by these names
    public DisplayedValue display(object? value, params string[] mimeTypes)
    {
        var output = new DisplayedValue(value);
        Outputs.Add(output);
        return output;
    }

    public HtmlContent HTML(string html) => new(html);
#pragma warning restore IDE1006
}

/// <summary>A C# cell of a notebook: its position among all cells and its code.</summary>
public sealed record NotebookCell(int Index, string Code);

/// <summary>
/// Runs a Polyglot (.NET Interactive) notebook's C# cells in order with Roslyn scripting, each continuing the state of
/// the one before, as the kernel does. <c>#r "path.dll"</c> lines are taken out of the cell and the assembly is loaded and
/// referenced (relative paths from the notebook's folder; <c>bin/Release/</c> is mapped to the configuration this test
/// was built in, so a Debug test run uses the Debug build). <c>#r "nuget: Name, Version"</c> is honoured when this test
/// project references that exact package (its assemblies are beside the tests); any other package, and any other magic
/// command (<c>#!</c>), fails the run, since the runner cannot honour it.
/// </summary>
public static class NotebookRunner
{
    /// <summary>The configuration the test project was built in (Release or Debug).</summary>
    public static string Configuration { get; } = typeof(NotebookRunner).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "NotebookConfiguration").Value!;

    /// <summary>
    /// What .NET Interactive's C# kernel imports before the first cell, and no more (probed in dotnet-interactive
    /// 1.0.712001: <c>Path</c>, <c>Regex</c>, <c>CultureInfo</c> or <c>Stopwatch</c> alone do not compile there), so a
    /// notebook that passes here does not fail in the kernel for a missing <c>using</c>.
    /// </summary>
    private static readonly string[] KernelImports = ["System", "System.Collections.Generic", "System.Linq", "System.Text", "System.Threading.Tasks"];

    private static readonly HashSet<string> LoadedDirectories = [];

    static NotebookRunner() =>
        // Dependencies of #r'd assemblies (the library's other assemblies) load from beside them.
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            lock (LoadedDirectories)
                foreach (var dir in LoadedDirectories)
                {
                    var candidate = Path.Combine(dir, name.Name + ".dll");
                    if (File.Exists(candidate)) return context.LoadFromAssemblyPath(candidate);
                }
            return null;
        };

    /// <summary>The code cells of a notebook in C# (the notebook's default kernel or a cell marked csharp); other languages fail.</summary>
    public static IReadOnlyList<NotebookCell> CSharpCells(string notebookPath)
    {
        var root = JsonNode.Parse(File.ReadAllText(notebookPath)) ?? throw new InvalidDataException($"{notebookPath}: empty notebook");
        string defaultKernel = root["metadata"]?["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"]?.GetValue<string>() ?? "csharp";
        var cells = new List<NotebookCell>();
        var all = root["cells"]?.AsArray() ?? throw new InvalidDataException($"{notebookPath}: no cells");
        for (int i = 0; i < all.Count; i++)
        {
            var cell = all[i]!;
            if (cell["cell_type"]?.GetValue<string>() != "code") continue;
            string language = cell["metadata"]?["polyglot_notebook"]?["kernelName"]?.GetValue<string>()
                ?? cell["metadata"]?["dotnet_interactive"]?["language"]?.GetValue<string>() ?? defaultKernel;
            if (language != "csharp") throw new InvalidDataException($"{notebookPath}: cell {i} is in {language}; the runner executes C# only");
            var source = cell["source"];
            string code = source is JsonArray lines ? string.Concat(lines.Select(l => l!.GetValue<string>())) : source?.GetValue<string>() ?? "";
            cells.Add(new NotebookCell(i, code));
        }
        return cells;
    }

    /// <summary>
    /// Executes every C# cell of the notebook in order (working directory: the notebook's folder, as in the kernel),
    /// throwing <see cref="NotebookException"/> naming the cell on the first compilation error or exception.
    /// </summary>
    public static NotebookGlobals Run(string notebookPath)
    {
        string notebookDir = Path.GetDirectoryName(Path.GetFullPath(notebookPath))!;
        var globals = new NotebookGlobals();
        var options = ScriptOptions.Default
            .WithLanguageVersion(LanguageVersion.Latest)
            .WithReferences(PlatformReferences())
            .WithImports(KernelImports)
            .WithEmitDebugInformation(true);
        ScriptState<object>? state = null;
        string previousDirectory = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(notebookDir);
        try
        {
            foreach (var cell in CSharpCells(notebookPath))
            {
                var (code, references) = TakeReferences(cell, notebookPath, notebookDir);
                options = options.AddReferences(references.Select(Load));
                if (string.IsNullOrWhiteSpace(code)) continue;
                try
                {
                    state = state is null
                        ? CSharpScript.RunAsync(code, options, globals, typeof(NotebookGlobals)).GetAwaiter().GetResult()
                        : state.ContinueWithAsync(code, options).GetAwaiter().GetResult();
                }
                catch (CompilationErrorException e)
                {
                    throw new NotebookException(notebookPath, cell, "does not compile:\n" + string.Join("\n", e.Diagnostics), e);
                }
                catch (Exception e)
                {
                    throw new NotebookException(notebookPath, cell, "threw " + e, e);
                }
            }
        }
        finally
        {
            Directory.SetCurrentDirectory(previousDirectory);
        }
        return globals;
    }

    /// <summary>The cell's code without its <c>#r</c> lines, and the assembly files those lines name.</summary>
    public static (string Code, List<string> References) TakeReferences(NotebookCell cell, string notebookPath, string notebookDir)
    {
        var code = new StringBuilder();
        var references = new List<string>();
        foreach (var line in cell.Code.Split('\n'))
        {
            var trimmed = line.Trim();
            if (trimmed.StartsWith("#!", StringComparison.Ordinal))
                throw new NotebookException(notebookPath, cell, $"uses the magic command '{trimmed}', which the test runner cannot run");
            if (!trimmed.StartsWith("#r ", StringComparison.Ordinal))
            {
                // Keep the line (blank if it held a directive) so compiler line numbers match the cell.
                code.Append(line).Append('\n');
                continue;
            }
            var target = trimmed[3..].Trim().Trim('"');
            if (target.StartsWith("nuget:", StringComparison.OrdinalIgnoreCase))
            {
                // The kernel restores the package; here the test project has restored it (same name and version) and
                // its assemblies sit beside the tests. A package or version the project lacks fails the run.
                references.AddRange(PackageAssemblies(target["nuget:".Length..], notebookPath, cell));
                code.Append('\n');
                continue;
            }
            var path = Path.GetFullPath(Path.Combine(notebookDir, target.Replace("/bin/Release/", $"/bin/{Configuration}/", StringComparison.Ordinal)));
            if (!File.Exists(path))
                throw new NotebookException(notebookPath, cell, $"#r {target}: {path} does not exist; build the solution first (dotnet build -c {Configuration})");
            references.Add(path);
            code.Append('\n');
        }
        return (code.ToString(), references);
    }

    /// <summary>
    /// The runtime assemblies of <c>#r "nuget: Name, Version"</c> as the test host's deps.json lists them, when the test
    /// project references exactly that package version.
    /// </summary>
    private static IEnumerable<string> PackageAssemblies(string spec, string notebookPath, NotebookCell cell)
    {
        var parts = spec.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            throw new NotebookException(notebookPath, cell, $"#r \"nuget:{spec}\": name the package and its exact version (\"nuget: Name, 1.2.3\")");
        string key = $"{parts[0]}/{parts[1]}";
        string depsPath = Path.Combine(AppContext.BaseDirectory, typeof(NotebookRunner).Assembly.GetName().Name + ".deps.json");
        var deps = JsonNode.Parse(File.ReadAllText(depsPath))!;
        var target = deps["targets"]!.AsObject().First().Value!.AsObject();
        var library = target.FirstOrDefault(kv => string.Equals(kv.Key, key, StringComparison.OrdinalIgnoreCase)).Value
            ?? throw new NotebookException(notebookPath, cell, $"#r \"nuget:{spec}\": the test project does not reference {key}; add it to MLNet.Rescale.Notebooks.Tests.csproj");
        var runtime = library["runtime"]?.AsObject().Select(kv => Path.Combine(AppContext.BaseDirectory, Path.GetFileName(kv.Key))).ToList() ?? [];
        // A meta-package's assemblies come with its dependencies: reference those of the same package family too.
        foreach (var dependency in library["dependencies"]?.AsObject() ?? [])
        {
            var dep = target.FirstOrDefault(kv => kv.Key == $"{dependency.Key}/{dependency.Value}").Value;
            runtime.AddRange(dep?["runtime"]?.AsObject().Select(kv => Path.Combine(AppContext.BaseDirectory, Path.GetFileName(kv.Key))) ?? []);
        }
        return runtime.Where(File.Exists).Distinct();
    }

    private static MetadataReference Load(string path)
    {
        lock (LoadedDirectories) LoadedDirectories.Add(Path.GetDirectoryName(path)!);
        var name = AssemblyName.GetAssemblyName(path);
        // Load once into the default context, so every cell (and the library's own native-library resolver) sees one copy.
        if (!AppDomain.CurrentDomain.GetAssemblies().Any(a => AssemblyName.ReferenceMatchesDefinition(a.GetName(), name)))
            AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
        return MetadataReference.CreateFromFile(path);
    }

    /// <summary>Every assembly of the running .NET (what a notebook can use without #r).</summary>
    private static IEnumerable<MetadataReference> PlatformReferences() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => MetadataReference.CreateFromFile(p));
}

/// <summary>A notebook cell failed; the message names the notebook, the cell and its first lines.</summary>
public sealed class NotebookException(string notebook, NotebookCell cell, string problem, Exception? inner = null)
    : Exception($"{Path.GetFileName(notebook)}, cell {cell.Index} ({FirstLine(cell.Code)}) {problem}", inner)
{
    private static string FirstLine(string code) =>
        code.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0 && !l.StartsWith("#r", StringComparison.Ordinal)) ?? "empty";
}
