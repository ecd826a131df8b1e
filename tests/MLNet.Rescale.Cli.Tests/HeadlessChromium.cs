using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MLNet.Rescale.Cli.Tests;

/// <summary>
/// Opens an HTML file in headless Chromium (Debian package <c>chromium</c>) to see what a user would see: a screenshot,
/// and the DOM after load with a status element written by a probe script the test adds to a copy of the page.
/// </summary>
public static partial class HeadlessChromium
{
    /// <summary>The browser: $CHROMIUM, else chromium / chromium-browser / google-chrome on PATH; null when absent.</summary>
    public static string? Executable { get; } = Find();

    private static string? Find()
    {
        if (Environment.GetEnvironmentVariable("CHROMIUM") is { Length: > 0 } configured) return configured;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome" })
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    /// <summary>What the page reported about itself after loading, and what the browser logged.</summary>
    /// <param name="Images">Number of &lt;img&gt; elements.</param>
    /// <param name="Broken">Images not loaded or with naturalWidth 0.</param>
    /// <param name="Svgs">Per inline &lt;svg&gt;: rendered width, height and number of series (distinct stroke and fill colours other than the chart's near-black ink).</param>
    /// <param name="Errors">Errors the probe caught: script errors, failed loads, Content-Security-Policy violations.</param>
    /// <param name="ConsoleLines">Console messages Chromium logged, other than the probe's own.</param>
    public sealed record PageStatus(int Images, int Broken, IReadOnlyList<(double Width, double Height, int Series)> Svgs,
        IReadOnlyList<string> Errors, IReadOnlyList<string> ConsoleLines);

    private const string ProbeDone = "render-status written";

    // Installed first in <head>: records errors of any element (capture phase sees failed image loads) and CSP violations.
    private const string HeadProbe = "<script>window.__errors=[];"
        + "addEventListener('error',e=>__errors.push('error: '+(e.message||(e.target&&e.target.outerHTML&&e.target.outerHTML.slice(0,80)))),true);"
        + "document.addEventListener('securitypolicyviolation',e=>__errors.push('csp: '+e.violatedDirective+' '+e.blockedURI));"
        + "const __ce=console.error;console.error=(...a)=>{__errors.push('console.error: '+a.join(' '));__ce(...a);};</script>";

    // Appended to <body>: after load, writes what rendered into <pre id="render-status">.
    private const string BodyProbe = "<script>function __status(){const im=[...document.images];"
        + "const svg=[...document.querySelectorAll('svg')].map(e=>{const b=e.getBoundingClientRect();return [b.width,b.height,new Set([...e.querySelectorAll('[stroke],[fill]')].flatMap(x=>[x.getAttribute('stroke'),x.getAttribute('fill')]).filter(c=>c).map(c=>c.toUpperCase()).filter(c=>c.startsWith('#')&&!['#010101','#000000','#FFFFFF'].includes(c))).size];});"
        + "const p=document.createElement('pre');p.id='render-status';"
        + "p.textContent=JSON.stringify({images:im.length,broken:im.filter(i=>!i.complete||i.naturalWidth===0).length,svg,errors:__errors});"
        + "document.body.appendChild(p);console.log('" + ProbeDone + "');}"
        + "if(document.readyState==='complete')__status();else addEventListener('load',__status);</script>";

    /// <summary>
    /// Loads a copy of <paramref name="htmlPath"/> with the probe scripts added and returns its status. The copy's
    /// Content-Security-Policy is <paramref name="policy"/> plus <c>script-src 'unsafe-inline'</c> for the probe, so every
    /// other restriction of the page still holds (a blocked external resource shows up as an error).
    /// </summary>
    public static PageStatus Probe(string htmlPath, string policy, string workDir)
    {
        string html = File.ReadAllText(htmlPath);
        Assert.Contains(policy, html);
        html = html.Replace(policy, policy + "; script-src 'unsafe-inline'", StringComparison.Ordinal);
        int head = html.IndexOf("<head>", StringComparison.Ordinal) + "<head>".Length;
        Assert.True(head >= "<head>".Length, "the page has no <head>");
        html = html.Insert(head, HeadProbe);
        int body = html.LastIndexOf("</body>", StringComparison.Ordinal);
        Assert.True(body >= 0, "the page has no </body>");
        html = html.Insert(body, BodyProbe);
        string probed = Path.Combine(workDir, "probed-" + Path.GetFileName(htmlPath));
        File.WriteAllText(probed, html);
        var (dom, stderr) = Run(workDir, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom", new Uri(probed).AbsoluteUri);
        var match = StatusElement().Match(dom);
        Assert.True(match.Success, "no render-status element in the dumped DOM; the probe did not run. stderr:\n" + stderr);
        var json = JsonNode.Parse(System.Net.WebUtility.HtmlDecode(match.Groups[1].Value))!;
        var console = stderr.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal) && !l.Contains(ProbeDone, StringComparison.Ordinal)).ToList();
        return new PageStatus(json["images"]!.GetValue<int>(), json["broken"]!.GetValue<int>(),
            json["svg"]!.AsArray().Select(s => (s![0]!.GetValue<double>(), s[1]!.GetValue<double>(), s[2]!.GetValue<int>())).ToList(),
            json["errors"]!.AsArray().Select(e => e!.GetValue<string>()).ToList(), console);
    }

    /// <summary>Takes a <paramref name="width"/>×<paramref name="height"/> screenshot of the page (unmodified) into a PNG.</summary>
    public static void Screenshot(string htmlPath, string pngPath, int width, int height, string workDir) =>
        Run(workDir, "--hide-scrollbars", $"--window-size={width},{height}", $"--screenshot={pngPath}", new Uri(Path.GetFullPath(htmlPath)).AbsoluteUri);

    private static (string Stdout, string Stderr) Run(string workDir, params string[] args)
    {
        var exe = Executable ?? throw new InvalidOperationException("chromium not found: install it (apt-get install chromium, or scripts/install-deps.sh) or set CHROMIUM");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir };
        // A private profile per run; no sandbox because tests may run as root in a container (the page is our own file).
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                     $"--user-data-dir={Path.Combine(workDir, "chromium-profile-" + Guid.NewGuid().ToString("N"))}" }.Concat(args))
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"chromium did not finish within 3 minutes: {string.Join(' ', args)}");
        }
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}:\n{stderr.Result}");
        return (stdout.Result, stderr.Result);
    }

    [GeneratedRegex("<pre id=\"render-status\">(.*?)</pre>", RegexOptions.Singleline)]
    private static partial Regex StatusElement();
}

/// <summary>
/// A fact that needs headless Chromium: skipped, saying why, when it is not installed — except under CI (CI=true),
/// where a missing browser must fail the test rather than hide it.
/// </summary>
public sealed class FactNeedsChromiumAttribute : FactAttribute
{
    public FactNeedsChromiumAttribute()
    {
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (HeadlessChromium.Executable is null && !ci)
            Skip = "needs headless Chromium (Debian package chromium: scripts/install-deps.sh installs it); under CI=true this fails instead";
    }
}
