using System.Text.Json;
using System.Text.RegularExpressions;
using MLNet.Rescale.Cli;

namespace MLNet.Rescale.Cli.Tests;

/// <summary>
/// The documentation is part of the product: README.md stays an entry point, every relative link and image in the
/// documents resolves, every command in a shell block names a verb of the tool or a file of the repository, and the
/// documents state what is rather than when it was done.
/// </summary>
public sealed class DocumentationTests
{
    private static string Root => TestPaths.RepoRoot;

    /// <summary>The Markdown documents a user reads (relative to the repository root).</summary>
    private static IEnumerable<string> MarkdownDocuments()
    {
        yield return "README.md";
        foreach (var f in Directory.GetFiles(Path.Combine(Root, "docs"), "*.md")) yield return Path.GetRelativePath(Root, f);
        yield return "models/README.md";
        yield return "notebooks/README.md";
        foreach (var d in Directory.GetDirectories(Path.Combine(Root, "samples")))
            if (File.Exists(Path.Combine(d, "README.md"))) yield return Path.GetRelativePath(Root, Path.Combine(d, "README.md"));
        yield return "deploy/README.md";
    }

    /// <summary>The markdown cells of every notebook, as (name, text).</summary>
    private static IEnumerable<(string Name, string Text)> NotebookMarkdownCells()
    {
        foreach (var nb in Directory.GetFiles(Path.Combine(Root, "notebooks"), "*.ipynb").Order())
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(nb));
            int i = 0;
            foreach (var cell in doc.RootElement.GetProperty("cells").EnumerateArray())
            {
                if (cell.GetProperty("cell_type").GetString() == "markdown")
                {
                    var source = cell.GetProperty("source");
                    string text = source.ValueKind == JsonValueKind.Array
                        ? string.Concat(source.EnumerateArray().Select(s => s.GetString()))
                        : source.GetString() ?? "";
                    yield return ($"{Path.GetRelativePath(Root, nb)} cell {i}", text);
                }
                i++;
            }
        }
    }

    private static HashSet<string> ToolVerbs() =>
        Program.BuildRootCommand().Subcommands.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void ReadmeIsAnEntryPointUnder250Lines()
    {
        int lines = File.ReadAllLines(Path.Combine(Root, "README.md")).Length;
        Assert.True(lines < 250, $"README.md has {lines} lines; depth belongs in docs/");
    }

    [Fact]
    public void LicenceAndCitationExist()
    {
        Assert.Contains("MIT License", File.ReadAllText(Path.Combine(Root, "LICENSE")));
        string cff = File.ReadAllText(Path.Combine(Root, "CITATION.cff"));
        Assert.Contains("cff-version: 1.2.0", cff);
        Assert.Contains("license: MIT", cff);
        foreach (var paper in new[] { "Invertible Image Rescaling", "Self-Asymmetric Invertible Network", "Downscaled Representation Matters" })
            Assert.Contains(paper, cff);
    }

    [Fact]
    public void EveryRelativeLinkAndImageResolves()
    {
        var broken = MarkdownDocuments()
            .SelectMany(doc => DocChecks.BrokenLinks(Path.Combine(Root, doc), File.ReadAllText(Path.Combine(Root, doc)))
                .Select(target => $"{doc}: {target}"))
            .ToList();
        Assert.True(broken.Count == 0, "links that resolve to no file:\n" + string.Join("\n", broken));
    }

    [Fact]
    public void ShellBlocksNameExistingVerbsAndFiles()
    {
        var verbs = ToolVerbs();
        Assert.Contains("batch", verbs);
        var problems = MarkdownDocuments()
            .SelectMany(doc => DocChecks.CommandProblems(File.ReadAllText(Path.Combine(Root, doc)), verbs, Root)
                .Select(p => $"{doc}: {p}"))
            .ToList();
        Assert.True(problems.Count == 0, "shell blocks naming what does not exist:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void DocumentsStateWhatIsNotWhenItWasDone()
    {
        var texts = MarkdownDocuments().Select(doc => (Name: doc, Text: File.ReadAllText(Path.Combine(Root, doc))))
            .Concat(NotebookMarkdownCells());
        var found = texts.SelectMany(t => DocChecks.HistoryPhrases(t.Text).Select(p => $"{t.Name}: \"{p}\"")).ToList();
        Assert.True(found.Count == 0, "history wording (say what is, not when it was done):\n" + string.Join("\n", found));
    }

    // The checkers themselves: each must catch what it is for, and pass what is fine.

    [Fact]
    public void LinkCheckerFindsABrokenLinkAndPassesGoodOnes()
    {
        string dir = Path.Combine(Root, "docs");
        const string sample = """
            See [the model card](../models/README.md#irn-x2safetensors), ![a chart](sain-x2-jpeg-sweep-set5.svg),
            [the site](https://example.com/x), [mail](mailto:a@b.c), [here](#anchor) and [gone](no-such-page.md).
            `[not a link](inside-code.md)`

            ```csharp
            var x = a[0](b); // [also not](a-link.md)
            ```
            """;
        var broken = DocChecks.BrokenLinks(Path.Combine(dir, "sample.md"), sample);
        Assert.Equal(new[] { "no-such-page.md" }, broken);
    }

    [Fact]
    public void HistoryCheckerFindsPlantedPhrasesOnly()
    {
        Assert.Empty(DocChecks.HistoryPhrases(
            "The serving recipe is 0 + 3 iterations. ONNX Runtime's InferenceSession runs it; the latter is faster than the former."));
        foreach (var planted in new[]
                 {
                     "Today's recipe gains more.", "as measured in the last session", "This line first said 2 GiB.",
                     "on the former binding", "in the seventh session", "the model is no longer shipped",
                     "we now use channels-last", "session 3 measured it", "yesterday's run",
                 })
            Assert.NotEmpty(DocChecks.HistoryPhrases(planted));
    }

    [Fact]
    public void CommandCheckerFindsUnknownVerbsAndMissingPaths()
    {
        var verbs = ToolVerbs();
        const string sample = """
            ```bash
            rescale roundtrip photo.png -o out/          # rescale nosuchverb in a comment is ignored
            RESCALE=path/to/rescale scripts/batch-scaling.sh ../shared/datasets/Set14 200
            rescale frobnicate photo.png
            scripts/no-such-script.sh
            dotnet run -c Release --project samples/NoSuchSample
            ```

            ```csharp
            rescale nothing here is a shell command;
            ```
            """;
        var problems = DocChecks.CommandProblems(sample, verbs, Root);
        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Contains("frobnicate"));
        Assert.Contains(problems, p => p.Contains("scripts/no-such-script.sh"));
        Assert.Contains(problems, p => p.Contains("samples/NoSuchSample"));
    }
}

/// <summary>The checks behind <see cref="DocumentationTests"/>, on text, so each can be tested on a sample.</summary>
public static partial class DocChecks
{
    // ```lang … ``` (or ~~~) blocks; group 1 is the info string, group 2 the body.
    [GeneratedRegex(@"^[ \t]*(```|~~~)[ \t]*([^\n`]*)\n(.*?)^[ \t]*\1[ \t]*$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Fence();

    [GeneratedRegex(@"`[^`\n]+`")]
    private static partial Regex InlineCode();

    // [text](target) and ![alt](target), with an optional "title".
    [GeneratedRegex(@"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex Link();

    /// <summary>The relative link and image targets of <paramref name="markdown"/> (code excluded) that name no file.</summary>
    public static List<string> BrokenLinks(string documentPath, string markdown)
    {
        string prose = InlineCode().Replace(Fence().Replace(markdown, ""), "");
        string dir = Path.GetDirectoryName(documentPath)!;
        var broken = new List<string>();
        foreach (Match m in Link().Matches(prose))
        {
            string target = m.Groups[1].Value;
            if (Regex.IsMatch(target, @"^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase) || target.StartsWith('#')) continue;
            string path = Uri.UnescapeDataString(target.Split('#', '?')[0]);
            string full = Path.GetFullPath(Path.Combine(dir, path));
            if (!File.Exists(full) && !Directory.Exists(full)) broken.Add(target);
        }
        return broken;
    }

    // `rescale VERB` at a word boundary that is not part of a path (artifacts/rescale/rescale is a path to the tool).
    [GeneratedRegex(@"(?<![\w/.-])rescale(?![\w/.-])\s+([a-z][a-z-]*)")]
    private static partial Regex ToolVerb();

    // A path into the repository's scripts, benchmarks, samples, tests or deploy folders; its first two segments are checked.
    [GeneratedRegex(@"(?<![\w/.-])((?:scripts|bench|samples|tests|deploy)/[\w.-]+)")]
    private static partial Regex RepoPath();

    /// <summary>
    /// Problems in the ```bash / ```sh / ```shell blocks of <paramref name="markdown"/>: a <c>rescale</c> verb the tool
    /// does not have, or a path under scripts/, bench/, samples/, tests/ or deploy/ that does not exist.
    /// </summary>
    public static List<string> CommandProblems(string markdown, ISet<string> verbs, string repoRoot)
    {
        var problems = new List<string>();
        foreach (Match block in Fence().Matches(markdown))
        {
            string lang = block.Groups[2].Value.Trim().ToLowerInvariant();
            if (lang is not ("bash" or "sh" or "shell" or "console")) continue;
            foreach (var rawLine in block.Groups[3].Value.Split('\n'))
            {
                string line = StripComment(rawLine);
                foreach (Match v in ToolVerb().Matches(line))
                    if (!verbs.Contains(v.Groups[1].Value)) problems.Add($"unknown verb 'rescale {v.Groups[1].Value}'");
                foreach (Match p in RepoPath().Matches(line))
                {
                    string full = Path.Combine(repoRoot, p.Groups[1].Value);
                    if (!File.Exists(full) && !Directory.Exists(full)) problems.Add($"no such path '{p.Groups[1].Value}'");
                }
            }
        }
        return problems;
    }

    /// <summary>A shell line without its trailing comment (a # that starts a word, outside quotes).</summary>
    private static string StripComment(string line)
    {
        bool single = false, dbl = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (c == '\'' && !dbl) single = !single;
            else if (c == '"' && !single) dbl = !dbl;
            else if (c == '#' && !single && !dbl && (i == 0 || char.IsWhiteSpace(line[i - 1]))) return line[..i];
        }
        return line;
    }

    /// <summary>Wording that dates a document instead of stating a fact (case-insensitive).</summary>
    private static readonly Regex[] History =
    [
        new(@"\btoday(?:'s)?\b", RegexOptions.IgnoreCase),
        new(@"\byesterday(?:'s)?\b", RegexOptions.IgnoreCase),
        new(@"\b(?:last|this|previous|that|earlier|next|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\s+sessions?(?:'s)?\b", RegexOptions.IgnoreCase),
        new(@"\bsessions?\s+[0-9]+\b", RegexOptions.IgnoreCase),
        new(@"\b(?:work\s+)?periods?\s+[0-9]+\b", RegexOptions.IgnoreCase),
        new(@"\bfirst\s+said\b", RegexOptions.IgnoreCase),
        new(@"\bformer\s+(?:binding|engine)\b", RegexOptions.IgnoreCase),
        new(@"\bwas\s+planned\b", RegexOptions.IgnoreCase),
        new(@"\bwe\s+now\b", RegexOptions.IgnoreCase),
        new(@"\bnow\s+(?:is|are)\b", RegexOptions.IgnoreCase),
        new(@"\bno\s+longer\b", RegexOptions.IgnoreCase),
        new(@"\blast\s+\w+'s\s+recipe\b", RegexOptions.IgnoreCase),
    ];

    /// <summary>Every history phrase found in <paramref name="text"/>.</summary>
    public static List<string> HistoryPhrases(string text) =>
        History.SelectMany(r => r.Matches(text).Select(m => m.Value)).ToList();
}
