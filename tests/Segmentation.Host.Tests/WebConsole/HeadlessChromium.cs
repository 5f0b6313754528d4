using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Segmentation.Host.Tests.WebConsole;

/// <summary>
/// Debian's headless Chromium driven over the Chrome DevTools Protocol (a WebSocket of JSON messages): navigate, run
/// script in the page, capture screenshots, and collect console errors and uncaught exceptions.
/// </summary>
/// <remarks>
/// Written here rather than taken from Playwright for .NET: Playwright drives browsers through its Node.js driver, which
/// its package ships for every platform, to run a handful of protocol commands that are as easy to send ourselves.
/// </remarks>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    // A guard against a browser that hangs, not a measurement: a page that loads at all loads far sooner.
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromSeconds(120);

    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonNode?>> _pending = new();
    private readonly Task _receiving;
    private readonly Lock _errorsLock = new();
    private readonly List<string> _errors = [];
    private TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextId;

    private HeadlessChromium(Process process, string profile, ClientWebSocket socket)
    {
        _process = process;
        _profile = profile;
        _socket = socket;
        _receiving = Task.Run(ReceiveAsync);
    }

    /// <summary>Console errors and uncaught exceptions since the last <see cref="TakeErrors"/>.</summary>
    public IReadOnlyList<string> TakeErrors()
    {
        lock (_errorsLock)
        {
            var errors = _errors.ToList();
            _errors.Clear();
            return errors;
        }
    }

    /// <summary>Starts Chromium (<c>CHROMIUM</c>, else /usr/bin/chromium) with a fresh profile and attaches to its page.</summary>
    public static async Task<HeadlessChromium> StartAsync(int width = 1400, int height = 1000)
    {
        var executable = Environment.GetEnvironmentVariable("CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException($"Chromium not found at {executable}: install Debian's chromium (scripts/install-deps.sh does).");
        }

        var profile = Path.Combine(Path.GetTempPath(), "seg-chromium-" + Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            // No background traffic: on a machine without internet Chromium's calls home fail or hang, many at a time.
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
            "--remote-debugging-port=0", $"--user-data-dir={profile}", $"--window-size={width},{height}", "about:blank",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Chromium did not start.");
        process.StandardOutput.BaseStream.CopyToAsync(Stream.Null).ContinueWith(static _ => { }, TaskScheduler.Default).GetAwaiter();
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr: the port to find the page at.
        string? endpoint = null;
        using (var timeout = new CancellationTokenSource(s_commandTimeout))
        {
            while (endpoint is null && await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
            {
                const string Marker = "DevTools listening on ";
                if (line.Contains(Marker, StringComparison.Ordinal))
                {
                    endpoint = line[(line.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length)..].Trim();
                }
            }
        }

        if (endpoint is null)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("Chromium exited before it opened the DevTools endpoint.");
        }

        process.StandardError.BaseStream.CopyToAsync(Stream.Null).ContinueWith(static _ => { }, TaskScheduler.Default).GetAwaiter();
        var browser = new Uri(endpoint);
        using var http = new HttpClient();
        var targets = JsonNode.Parse(await http.GetStringAsync(new Uri($"http://{browser.Authority}/json/list")))!.AsArray();
        var page = targets.First(t => (string?)t!["type"] == "page")!["webSocketDebuggerUrl"]!.GetValue<string>();
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using (var timeout = new CancellationTokenSource(s_commandTimeout))
        {
            await socket.ConnectAsync(new Uri(page), timeout.Token);
        }

        var chromium = new HeadlessChromium(process, profile, socket);
        await chromium.SendAsync("Page.enable");
        await chromium.SendAsync("Runtime.enable");
        await chromium.SendAsync("Log.enable");
        await chromium.SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject { ["width"] = width, ["height"] = height, ["deviceScaleFactor"] = 1, ["mobile"] = false });
        return chromium;
    }

    /// <summary>Loads <paramref name="url"/> and waits for its load event.</summary>
    public async Task NavigateAsync(Uri url)
    {
        var loaded = ExpectLoad();
        var result = await SendAsync("Page.navigate", new JsonObject { ["url"] = url.ToString() });
        if (result?["errorText"] is { } error)
        {
            throw new InvalidOperationException($"navigating to {url}: {error}");
        }

        await loaded.WaitAsync(s_commandTimeout);
    }

    /// <summary>Clicks the element with id <paramref name="id"/> (a submit button) and waits for the page it loads.</summary>
    public async Task ClickAndWaitForLoadAsync(string id)
    {
        var loaded = ExpectLoad();
        await EvaluateAsync($"document.getElementById('{id}').click()");
        await loaded.WaitAsync(s_commandTimeout);
    }

    /// <summary>Runs <paramref name="expression"/> in the page (awaiting a promise) and returns its value as JSON.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (result?["exceptionDetails"] is { } exception)
        {
            throw new InvalidOperationException($"script failed: {expression}\n{exception.ToJsonString()}");
        }

        return result?["result"]?["value"];
    }

    /// <summary>Evaluates <paramref name="condition"/> until it is true (a bounded number of tries, 100 ms apart).</summary>
    public async Task WaitUntilAsync(string condition, int tries = 300)
    {
        for (var i = 0; i < tries; i++)
        {
            if (await EvaluateAsync(condition) is JsonValue value && value.GetValue<bool>())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"never true: {condition}");
    }

    /// <summary>Saves a PNG of the whole page.</summary>
    public async Task ScreenshotAsync(string path)
    {
        var result = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true });
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, Convert.FromBase64String(result!["data"]!.GetValue<string>()));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await SendAsync("Browser.close").WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or WebSocketException)
        {
            // Closing anyway.
        }

        if (!_process.WaitForExit(10_000))
        {
            _process.Kill(entireProcessTree: true);
        }

        _socket.Dispose();
        await _receiving.ContinueWith(static _ => { }, TaskScheduler.Default);
        _process.Dispose();
        TestServer.TryDelete(_profile);
    }

    private Task ExpectLoad()
    {
        _loaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _loaded.Task;
    }

    private async Task<JsonNode?> SendAsync(string method, JsonObject? parameters = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? [] };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        return await reply.Task.WaitAsync(s_commandTimeout);
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var received = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage)
                {
                    continue;
                }

                var node = JsonNode.Parse(message.ToArray())!;
                message.SetLength(0);
                Dispatch(node);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The browser went away.
        }

        foreach (var pending in _pending.Values)
        {
            pending.TrySetException(new InvalidOperationException("Chromium closed the DevTools connection."));
        }
    }

    private void Dispatch(JsonNode node)
    {
        if (node["id"] is { } id && _pending.TryRemove(id.GetValue<int>(), out var reply))
        {
            if (node["error"] is { } error)
            {
                reply.TrySetException(new InvalidOperationException("DevTools: " + error.ToJsonString()));
            }
            else
            {
                reply.TrySetResult(node["result"]);
            }

            return;
        }

        var parameters = node["params"];
        var method = node["method"]?.GetValue<string>();
        if (method == "Page.loadEventFired")
        {
            _loaded.TrySetResult();
        }
        else if (method == "Runtime.exceptionThrown")
        {
            AddError("uncaught: " + parameters?["exceptionDetails"]?.ToJsonString());
        }
        else if (method == "Runtime.consoleAPICalled" && parameters?["type"]?.GetValue<string>() is "error" or "assert")
        {
            AddError("console error: " + parameters["args"]?.ToJsonString());
        }
        else if (method == "Log.entryAdded" && parameters?["entry"] is { } entry && entry["level"]?.GetValue<string>() == "error")
        {
            AddError("log: " + entry["text"]?.GetValue<string>() + " " + entry["url"]?.GetValue<string>());
        }
    }

    private void AddError(string error)
    {
        lock (_errorsLock)
        {
            _errors.Add(error);
        }
    }

    /// <summary>A JSON string for a script literal.</summary>
    public static string Literal(string value) => JsonSerializer.Serialize(value);
}
