using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Segmentation.Bench.Measurement;
using Segmentation.Contracts.V1;
using Segmentation.Host.Seeding;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// The noisy tenant's client of <see cref="AccessLoad"/> in a process of its own (<c>segbench noise</c>): lookups with
/// one key from a number of closed-loop callers, ignoring or waiting the server's pushback, for a fixed time. It prints
/// one JSON line: calls, refusals, seconds and the CPU seconds this process used. Run apart from the hosts, the flood
/// shares the machine's cores with them but not their thread pool, and its own cost is measured rather than charged to
/// the host.
/// </summary>
public static class NoiseProcess
{
    private const string Started = "started";

    /// <summary>What the child reports.</summary>
    public sealed record Result(long Calls, long Refused, double Seconds, double CpuSeconds, string? FirstError)
    {
        /// <summary>Calls served per second.</summary>
        public double ServedPerSecond => Seconds > 0 ? (Calls - Refused) / Seconds : 0;

        /// <summary>Calls refused per second.</summary>
        public double RefusedPerSecond => Seconds > 0 ? Refused / Seconds : 0;

        /// <summary>The client's CPU microseconds per call it made (served or refused).</summary>
        public double CpuMicrosecondsPerCall => Calls > 0 ? CpuSeconds * 1e6 / Calls : 0;
    }

    /// <summary>The child's body: floods <paramref name="address"/> and prints its result.</summary>
    public static async Task<int> RunAsync(string address, string key, int callers, int users, double seconds, bool honourPushback, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(address);
        var client = new SegmentService.SegmentServiceClient(channel.Intercept(metadata =>
        {
            metadata.Add("authorization", "Bearer " + key);
            return metadata;
        }));
        Func<long, Task> call = i => client.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = SyntheticShop.UserId((int)(i % users)) }).ResponseAsync;
        if (honourPushback)
        {
            call = AccessLoad.HonouringPushback(call, cancellationToken);
        }

        // The parent starts measuring the quiet tenant once it reads this.
        Console.WriteLine(Started);
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var result = await ClosedLoop.RunAsync("noisy", call, callers, TimeSpan.FromSeconds(seconds), cancellationToken);
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        Console.WriteLine(new JsonObject
        {
            ["calls"] = result.Calls,
            ["refused"] = result.Errors,
            ["seconds"] = result.Seconds,
            ["cpu_seconds"] = cpu,
            ["first_error"] = result.FirstError,
        }.ToJsonString());
        return 0;
    }

    /// <summary>Starts the child (this harness's own dll, <c>segbench noise</c>); read its result with <see cref="ResultOfAsync"/>.</summary>
    public static Process Start(Uri address, string key, int callers, int users, TimeSpan duration, bool honourPushback)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            typeof(NoiseProcess).Assembly.Location, "noise", "--address", address.ToString(), "--key", key,
            "--callers", callers.ToString(CultureInfo.InvariantCulture), "--users", users.ToString(CultureInfo.InvariantCulture),
            "--seconds", duration.TotalSeconds.ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(arg);
        }

        if (honourPushback)
        {
            start.ArgumentList.Add("--honour-pushback");
        }

        return Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet.");
    }

    /// <summary>Waits until the child has started its callers.</summary>
    public static async Task StartedAsync(Process child, CancellationToken cancellationToken)
    {
        while (await child.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line == Started)
            {
                return;
            }
        }

        throw new InvalidOperationException($"segbench noise exited before it started: {await child.StandardError.ReadToEndAsync(cancellationToken)}");
    }

    /// <summary>Waits for the child and reads the line it printed.</summary>
    public static async Task<Result> ResultOfAsync(Process child, CancellationToken cancellationToken)
    {
        using (child)
        {
            var output = child.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = child.StandardError.ReadToEndAsync(cancellationToken);
            await child.WaitForExitAsync(cancellationToken);
            var line = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'))
                ?? throw new InvalidOperationException($"segbench noise exited {child.ExitCode} without a result: {await errors}");
            var json = JsonNode.Parse(line)!;
            return new Result(
                json["calls"]!.GetValue<long>(), json["refused"]!.GetValue<long>(), json["seconds"]!.GetValue<double>(),
                json["cpu_seconds"]!.GetValue<double>(), json["first_error"]?.GetValue<string>());
        }
    }
}
