using System.Reflection;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace MLNet.Rescale.Notebooks.Tests;

/// <summary>HTML a notebook showed (a <c>text/html</c> value of a display, an update or a cell's result).</summary>
public sealed record HtmlContent(string Html)
{
    public override string ToString() => Html;
}

/// <summary>One output of a notebook: what it first showed, then every update of it, in order.</summary>
public sealed class NotebookOutput
{
    private readonly List<object?> history;

    internal NotebookOutput(object? value) => history = [value];

    /// <summary>What the output shows at the end: its last value.</summary>
    public object? Value => history[^1];

    /// <summary>The value first displayed, then each update, in order.</summary>
    public IReadOnlyList<object?> History => history;

    internal void Update(object? value) => history.Add(value);
}

/// <summary>What a notebook showed when it ran, output by output.</summary>
public sealed class NotebookRun
{
    /// <summary>Every output (displays and cell results), in order.</summary>
    public List<NotebookOutput> Outputs { get; } = [];

    /// <summary>What each output shows at the end of the run, in order.</summary>
    public IReadOnlyList<object?> Displayed => Outputs.Select(o => o.Value).ToList();

    /// <summary>Where the executed copy (the notebook with its outputs) was written.</summary>
    public string ExecutedCopy { get; internal set; } = "";
}

/// <summary>
/// Runs a notebook in the real .NET Interactive C# kernel, in process: the <c>.ipynb</c> is read with
/// Microsoft.DotNet.Interactive.Documents, and its C# cells are submitted in order to a <see cref="CSharpKernel"/> set up
/// as Polyglot Notebooks sets it up (<c>#r "nuget: …"</c>, <c>display</c> and <c>HTML</c>, value sharing), working in the
/// notebook's folder. A cell that fails (a compilation error, an exception, an error output) fails the run, naming the
/// notebook and the cell. <c>bin/Release/</c> in <c>#r</c> paths is mapped to the configuration this test was built in.
/// The notebook with its outputs is written under the test output folder (<c>executed-notebooks/</c>) for a reader to open.
/// </summary>
public static class NotebookRunner
{
    /// <summary>The configuration the test project was built in (Release or Debug).</summary>
    public static string Configuration { get; } = typeof(NotebookRunner).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "NotebookConfiguration").Value!;

    private static KernelInfoCollection Kernels() =>
    [
        new Microsoft.DotNet.Interactive.Documents.KernelInfo("csharp", "C#", ["c#", "cs"]),
        new Microsoft.DotNet.Interactive.Documents.KernelInfo("fsharp", "F#", ["f#", "fs"]),
        new Microsoft.DotNet.Interactive.Documents.KernelInfo("pwsh", "PowerShell", ["powershell"]),
    ];

    /// <summary>Executes every C# cell of the notebook in order; throws <see cref="NotebookException"/> on the first failing cell.</summary>
    public static NotebookRun Run(string notebookPath) => RunAsync(notebookPath).GetAwaiter().GetResult();

    private static async Task<NotebookRun> RunAsync(string notebookPath)
    {
        string notebookDir = Path.GetDirectoryName(Path.GetFullPath(notebookPath))!;
        var document = Notebook.Parse(await File.ReadAllTextAsync(notebookPath), Kernels());
        string defaultKernel = document.GetDefaultKernelName() ?? "csharp";
        var run = new NotebookRun();
        using var kernel = new CSharpKernel()
            .UseNugetDirective((k, references) =>
            {
                k.AddAssemblyReferences(references.SelectMany(r => r.AssemblyPaths));
                return Task.CompletedTask;
            }, forceRestore: false)
            .UseKernelHelpers()
            .UseValueSharing();
        string previousDirectory = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(notebookDir);
        try
        {
            var updated = new Dictionary<string, NotebookOutput>();
            int executionCount = 0;
            for (int index = 0; index < document.Elements.Count; index++)
            {
                var element = document.Elements[index];
                string kernelName = string.IsNullOrEmpty(element.KernelName) ? defaultKernel : element.KernelName;
                if (kernelName == "markdown") continue;
                var cell = new NotebookCell(index, element.Contents);
                if (kernelName != "csharp") throw new NotebookException(notebookPath, cell, $"is in {kernelName}; the runner executes C# only");
                if (string.IsNullOrWhiteSpace(element.Contents)) continue;
                string code = element.Contents.Replace("/bin/Release/", $"/bin/{Configuration}/", StringComparison.Ordinal);
                var result = await kernel.SendAsync(new SubmitCode(code));
                element.Outputs.Clear();
                element.ExecutionOrder = ++executionCount;
                foreach (var e in result.Events)
                {
                    switch (e)
                    {
                        case CommandFailed failed:
                            throw new NotebookException(notebookPath, cell, "failed: " + failed.Message, failed.Exception);
                        case ErrorProduced error:
                            throw new NotebookException(notebookPath, cell, "showed an error: " + error.Message);
                        case DisplayedValueUpdated update when !IsPackageProgress(update):
                            // The kernel's updates carry their own id (not the display's): an update of an id not seen
                            // before belongs to the latest output shown, and later updates of that id to the same output.
                            if (!updated.TryGetValue(update.ValueId, out var target))
                                updated[update.ValueId] = target = run.Outputs.LastOrDefault()
                                    ?? throw new NotebookException(notebookPath, cell, "updated an output before showing any: " + Content(update));
                            target.Update(Content(update));
                            break;
                        case DisplayedValueProduced display when !IsPackageProgress(display):
                            run.Outputs.Add(new NotebookOutput(Content(display)));
                            element.Outputs.Add(new DisplayElement(Data(display)));
                            break;
                        case ReturnValueProduced value:
                            run.Outputs.Add(new NotebookOutput(Content(value)));
                            var returned = new ReturnValueElement { ExecutionOrder = executionCount };
                            foreach (var (mime, data) in Data(value)) returned.Data[mime] = data;
                            element.Outputs.Add(returned);
                            break;
                    }
                }
            }
        }
        finally
        {
            Directory.SetCurrentDirectory(previousDirectory);
        }
        string executed = Path.Combine(AppContext.BaseDirectory, "executed-notebooks", Path.GetFileName(notebookPath));
        Directory.CreateDirectory(Path.GetDirectoryName(executed)!);
        // The parsed document keeps the notebook's kernel metadata as plain JSON, which the writer cannot take back: the
        // copy is written from the cells alone, with the writer's own metadata.
        await File.WriteAllTextAsync(executed, Notebook.ToJupyterJson(new InteractiveDocument(document.Elements), defaultKernel));
        run.ExecutedCopy = executed;
        return run;
    }

    /// <summary>The "Installing Packages" progress the #r "nuget:" directive shows while it restores, and the sources #i lists.</summary>
    private static bool IsPackageProgress(DisplayEvent e) =>
        e.FormattedValues.Any(v => v.Value.Contains("Installing Packages", StringComparison.Ordinal) || v.Value.Contains("Installed Packages", StringComparison.Ordinal)
                                   || v.Value.Contains("<strong>Restore sources</strong>", StringComparison.Ordinal));

    private static object? Content(DisplayEvent e) =>
        e.FormattedValues.FirstOrDefault(v => v.MimeType == "text/html") is { } html ? new HtmlContent(html.Value)
        : e.FormattedValues.FirstOrDefault()?.Value;

    private static Dictionary<string, object> Data(DisplayEvent e) => e.FormattedValues.ToDictionary(v => v.MimeType, v => (object)v.Value);
}

/// <summary>A cell of a notebook: its position among all cells and its code.</summary>
public sealed record NotebookCell(int Index, string Code);

/// <summary>A notebook cell failed; the message names the notebook, the cell and its first lines.</summary>
public sealed class NotebookException(string notebook, NotebookCell cell, string problem, Exception? inner = null)
    : Exception($"{Path.GetFileName(notebook)}, cell {cell.Index} ({FirstLine(cell.Code)}) {problem}", inner)
{
    private static string FirstLine(string code) =>
        code.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0 && !l.StartsWith("#r", StringComparison.Ordinal)) ?? "empty";
}
