using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MLNet.Rescale.Imaging;
using Xunit.Abstractions;

namespace MLNet.Rescale.Cli.Tests;

/// <summary>
/// The browser upscaler (samples/WebUpscaler): served on 127.0.0.1 with onnxruntime-web from its node_modules, driven by
/// headless Chromium through the page's automated mode, its upscale compared with <c>rescale upscale --gaussian-scale 0</c>.
/// </summary>
public sealed partial class WebUpscalerTests(ITestOutputHelper output)
{
    private static string Sample => Path.Combine(TestPaths.RepoRoot, "samples", "WebUpscaler");

    [FactNeedsChromium]
    public void The_page_upscales_like_the_engine_in_headless_Chromium()
    {
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (!File.Exists(Path.Combine(Sample, "node_modules", "onnxruntime-web", "dist", "ort.min.js")))
        {
            // scripts/test.sh runs npm ci there; a bare dotnet test on a fresh clone may not have.
            Assert.False(ci, "samples/WebUpscaler/node_modules is missing: scripts/test.sh runs npm ci in samples/WebUpscaler");
            output.WriteLine("skipped: run `npm ci` in samples/WebUpscaler first");
            return;
        }
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run("export", "irn-x2", "--onnx", dir.File("onnx")).ExitCode);
        var down = Cli.Run("downscale", TestPaths.Image("butterfly.png"), "-o", dir.File("lr.png"), "--model", "irn-x2", "--threads", "2");
        Assert.True(down.ExitCode == 0, down.ToString());
        var up = Cli.Run("upscale", dir.File("lr.png"), "-o", dir.File("expected.png"), "--model", "irn-x2", "--threads", "2", "--gaussian-scale", "0");
        Assert.True(up.ExitCode == 0, up.ToString());
        var expected = ImageFile.Read(dir.File("expected.png"));

        using var server = new TestServer(("/app/", Sample), ("/work/", dir.Path));
        string url = $"{server.Origin}/app/index.html?model=/work/onnx/upscale.onnx&image=/work/lr.png&backend=wasm&repeat=3&report=/result";
        using var browser = Chromium.Start(url, dir.Path);
        var report = server.WaitForReport(TimeSpan.FromMinutes(3)) ?? throw new TimeoutException("the page reported nothing within 3 minutes:\n" + browser.Log());
        Assert.True(report["error"] is null, $"the page failed: {report["error"]}");
        output.WriteLine($"page: {report["backend"]}, {report["threads"]} thread(s), model loaded in {report["loadMs"]!.GetValue<double>():F0} ms, "
            + $"runs {string.Join(", ", report["runsMs"]!.AsArray().Select(v => $"{v!.GetValue<double>():F0} ms"))}");

        Assert.Equal((expected.Width, expected.Height), (report["width"]!.GetValue<int>(), report["height"]!.GetValue<int>()));
        byte[] rgb = Convert.FromBase64String(report["rgb"]!.GetValue<string>());
        var page = Image.FromInterleaved8(rgb, expected.Width, expected.Height, 3);
        int worst = page.ToInterleaved8().Zip(expected.ToInterleaved8(), (a, b) => Math.Abs(a - b)).Max();
        double psnr = Metrics.Psnr(expected, page);
        output.WriteLine($"page vs rescale upscale --gaussian-scale 0: max difference {worst} level(s), PSNR {psnr:F1} dB");
        Assert.True(worst <= 1 || psnr >= 50, $"the page's upscale differs by {worst} levels ({psnr:F1} dB)");

        // What the user sees after the upscale; RESCALE_SCREENSHOT=path keeps it (docs/web-upscaler.png was taken so).
        byte[] png = browser.Screenshot();
        Assert.Equal(ImageFormat.Png, ImageFile.DetectFormat(png));
        if (Environment.GetEnvironmentVariable("RESCALE_SCREENSHOT") is { Length: > 0 } keep) File.WriteAllBytes(keep, png);
    }

    /// <summary>
    /// Serves folders under URL prefixes on 127.0.0.1, cross-origin isolated (so the page may use WASM threads), and
    /// takes the page's POST to /result.
    /// </summary>
    private sealed class TestServer : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly (string Prefix, string Folder)[] roots;
        private readonly TaskCompletionSource<JsonNode> report = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TestServer(params (string Prefix, string Folder)[] roots)
        {
            this.roots = roots;
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Origin = $"http://127.0.0.1:{port}";
            listener.Prefixes.Add(Origin + "/");
            listener.Start();
            _ = Task.Run(Serve);
        }

        public string Origin { get; }

        public JsonNode? WaitForReport(TimeSpan timeout) => report.Task.Wait(timeout) ? report.Task.Result : null;

        private async Task Serve()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                try { Handle(context); }
                catch (Exception e) { context.Response.StatusCode = 500; report.TrySetException(e); }
                finally { context.Response.Close(); }
            }
        }

        private void Handle(HttpListenerContext context)
        {
            var response = context.Response;
            response.Headers["Cross-Origin-Opener-Policy"] = "same-origin";
            response.Headers["Cross-Origin-Embedder-Policy"] = "require-corp";
            string path = context.Request.Url!.AbsolutePath;
            if (context.Request.HttpMethod == "POST" && path == "/result")
            {
                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                report.TrySetResult(JsonNode.Parse(reader.ReadToEnd())!);
                response.StatusCode = 204;
                return;
            }
            foreach (var (prefix, folder) in roots)
            {
                if (!path.StartsWith(prefix, StringComparison.Ordinal)) continue;
                string root = Path.GetFullPath(folder), file = Path.GetFullPath(Path.Combine(root, Uri.UnescapeDataString(path[prefix.Length..])));
                if (!file.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(file)) break;
                response.ContentType = Path.GetExtension(file) switch
                {
                    ".html" => "text/html; charset=utf-8",
                    ".js" or ".mjs" => "text/javascript",
                    ".wasm" => "application/wasm",
                    ".png" => "image/png",
                    ".json" => "application/json",
                    _ => "application/octet-stream",
                };
                byte[] bytes = File.ReadAllBytes(file);
                response.ContentLength64 = bytes.Length;
                response.OutputStream.Write(bytes);
                return;
            }
            response.StatusCode = 404;
        }

        public void Dispose()
        {
            listener.Stop();
            listener.Close();
        }
    }

    /// <summary>Headless Chromium on a URL with a DevTools port, for a screenshot of the page as it is.</summary>
    private sealed partial class Chromium : IDisposable
    {
        private readonly Process process;
        private readonly StringBuilder log = new();
        private readonly TaskCompletionSource<string> devtools = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private Chromium(Process process) => this.process = process;

        public static Chromium Start(string url, string workDir)
        {
            var psi = new ProcessStartInfo(HeadlessChromium.Executable!) { RedirectStandardError = true, RedirectStandardOutput = true };
            // A private profile; no sandbox because tests may run as root in a container (the page is our own).
            foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                         "--hide-scrollbars", "--window-size=1200,720", "--remote-debugging-port=0",
                         $"--user-data-dir={Path.Combine(workDir, "chromium-profile")}", url })
                psi.ArgumentList.Add(a);
            var chromium = new Chromium(Process.Start(psi)!);
            chromium.process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (chromium.log) chromium.log.AppendLine(e.Data);
                if (DevToolsLine().Match(e.Data) is { Success: true } m) chromium.devtools.TrySetResult(m.Groups[1].Value);
            };
            chromium.process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (chromium.log) chromium.log.AppendLine(e.Data); };
            chromium.process.BeginErrorReadLine();
            chromium.process.BeginOutputReadLine();
            return chromium;
        }

        public string Log()
        {
            lock (log) return log.ToString();
        }

        /// <summary>Page.captureScreenshot through the DevTools protocol on the page's target.</summary>
        public byte[] Screenshot()
        {
            if (!devtools.Task.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("Chromium did not print its DevTools address:\n" + Log());
            var browserWs = new Uri(devtools.Task.Result);
            using var http = new HttpClient();
            var targets = JsonNode.Parse(http.GetStringAsync($"http://{browserWs.Authority}/json/list").Result)!.AsArray();
            string pageWs = targets.First(t => (string?)t!["type"] == "page")!["webSocketDebuggerUrl"]!.GetValue<string>();
            using var socket = new ClientWebSocket();
            socket.ConnectAsync(new Uri(pageWs), CancellationToken.None).Wait(TimeSpan.FromSeconds(30));
            var request = Encoding.UTF8.GetBytes("""{"id":1,"method":"Page.captureScreenshot","params":{"format":"png"}}""");
            socket.SendAsync(request, WebSocketMessageType.Text, true, CancellationToken.None).Wait(TimeSpan.FromSeconds(30));
            var buffer = new byte[1 << 16];
            using var message = new MemoryStream();
            while (true)
            {
                var received = socket.ReceiveAsync(buffer, CancellationToken.None).Result;
                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage) continue;
                var json = JsonNode.Parse(message.ToArray())!;
                message.SetLength(0);
                if ((int?)json["id"] != 1) continue;
                return Convert.FromBase64String(json["result"]!["data"]!.GetValue<string>());
            }
        }

        public void Dispose()
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit(10_000);
            process.Dispose();
        }

        [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
        private static partial Regex DevToolsLine();
    }
}
