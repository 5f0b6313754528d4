using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Segmentation.Bench.Target;

/// <summary>
/// The server under test in its own process (so its memory, threads and crashes are its own): the built
/// <c>Segmentation.Host</c>, or this harness's plain Kestrel baseline, on a free loopback port.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _errors = new();
    private readonly TaskCompletionSource _serving = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    /// <summary>Where clients connect.</summary>
    public Uri Address { get; }

    /// <summary>The operating-system process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether the process has ended (crashed, killed or stopped).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>What the process wrote to standard error (the last 8 KB), to explain a crash.</summary>
    public string StandardError
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    /// <summary>Starts the host on <paramref name="dataDirectory"/> with extra configuration arguments.</summary>
    public static ServerProcess StartHost(string dataDirectory, params string[] settings)
    {
        var port = FreePort();
        var args = new List<string>
        {
            Paths.HostDll,
            $"--Segmentation:DataDirectory={dataDirectory}",
            $"--Segmentation:Listen=127.0.0.1:{port}",
            "--Logging:LogLevel:Default=Warning",
        };
        args.AddRange(settings);
        return Start(args, port);
    }

    /// <summary>Starts this harness's bare Kestrel HTTP/2 endpoint (<c>segbench plain-server</c>).</summary>
    public static ServerProcess StartPlain()
    {
        var port = FreePort();
        return Start([typeof(ServerProcess).Assembly.Location, "plain-server", "--port", port.ToString(CultureInfo.InvariantCulture)], port);
    }

    /// <summary>Waits until the gRPC health check answers SERVING (the host) or the port accepts (plain).</summary>
    public async Task WaitReadyAsync(bool grpcHealth, TimeSpan timeout)
    {
        var stopwatch = Stopwatch.StartNew();
        using var client = new ServiceClients(Address);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The server exited with code {_process.ExitCode} while starting: {StandardError}");
            }

            try
            {
                if (!grpcHealth)
                {
                    using var tcp = new TcpClient();
                    await tcp.ConnectAsync(IPAddress.Loopback, Address.Port);
                    return;
                }

                if (await client.IsServingAsync(TimeSpan.FromSeconds(2)))
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or SocketException)
            {
                // Not listening yet.
            }

            if (stopwatch.Elapsed > timeout)
            {
                throw new TimeoutException($"The server was not ready within {timeout.TotalSeconds:F0} s.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Waits for the host's "Serving gRPC" line: printed after seeding, when it is ready for load.</summary>
    public async Task WaitServingAsync(TimeSpan timeout)
    {
        var finished = await Task.WhenAny(_serving.Task, Task.Delay(timeout), _process.WaitForExitAsync());
        if (finished != _serving.Task)
        {
            throw new InvalidOperationException(_process.HasExited
                ? $"The host exited with code {_process.ExitCode} while starting: {StandardError}"
                : $"The host did not report serving within {timeout.TotalSeconds:F0} s.");
        }
    }

    /// <summary>Resident memory, threads and open descriptors, read from /proc (Linux); null elsewhere or after exit.</summary>
    public ProcessSample? Sample()
    {
        try
        {
            var status = File.ReadAllLines($"/proc/{Id}/status");
            long Field(string name) => long.Parse(
                status.First(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim().Split(' ')[0],
                CultureInfo.InvariantCulture);
            var fds = Directory.GetFileSystemEntries($"/proc/{Id}/fd").Length;
            return new ProcessSample(Field("VmRSS") * 1024, (int)Field("Threads"), fds);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>CPU time (user + system) the process has used so far, from /proc; zero where unavailable.</summary>
    public TimeSpan CpuTime()
    {
        try
        {
            // /proc/PID/stat: fields 14 and 15 (utime, stime) in clock ticks, counted after the ")" that ends the name.
            var fields = File.ReadAllText($"/proc/{Id}/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs (a power cut, an OOM kill).</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM, as Kubernetes sends it; returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private static ServerProcess Start(IEnumerable<string> args, int port)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet.");
        var server = new ServerProcess(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) =>
        {
            // The host prints this once seeding (if any) is done and it serves.
            if (e.Data?.Contains("Serving gRPC", StringComparison.Ordinal) == true)
            {
                server._serving.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (server._errors)
            {
                server._errors.AppendLine(e.Data);
                if (server._errors.Length > 8192)
                {
                    server._errors.Remove(0, server._errors.Length - 8192);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One reading of a process's resources.</summary>
public sealed record ProcessSample(long ResidentBytes, int Threads, int OpenDescriptors);
