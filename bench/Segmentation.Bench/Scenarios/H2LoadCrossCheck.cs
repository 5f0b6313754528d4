using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Segmentation.Contracts.Bench.V1;
using Segmentation.Contracts.V1;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// An independent load generator's view: <c>h2load</c> (Debian nghttp2-client, written in C) sends the same
/// GetUserSegments and Echo requests as gRPC (a framed protobuf body, <c>content-type: application/grpc</c>,
/// <c>te: trailers</c>) with the same connections × streams. Its lookup rate is set beside our generator's, and its
/// lookup/echo ratio beside ours.
/// </summary>
public static partial class H2LoadCrossCheck
{
    /// <summary>Runs h2load if installed; reports why not otherwise.</summary>
    public static async Task RunAsync(BenchReport report, BenchSettings settings, Uri host, ThroughputSummary throughput, CancellationToken cancellationToken)
    {
        report.Section("Cross-check with h2load");
        var h2load = new[] { "/usr/bin/h2load", "/usr/local/bin/h2load" }.FirstOrDefault(File.Exists);
        if (h2load is null)
        {
            report.Line("h2load is not installed (Debian package nghttp2-client; bench/run.sh installs it): cross-check skipped.");
            return;
        }

        var seconds = (int)Math.Max(3, settings.Seconds);
        var lookup = await RunOneAsync(h2load, host, Workloads.GetUserSegments, new GetUserSegmentsRequest { UserId = "u00042" }, throughput, seconds, cancellationToken);
        var echo = await RunOneAsync(h2load, host, Workloads.Echo, new EchoMessage { Text = "u00042" }, throughput, seconds, cancellationToken);
        if (lookup.PerSecond <= 0 || echo.PerSecond <= 0)
        {
            report.Line($"h2load gave no rate: {lookup.Summary} / {echo.Summary}");
            return;
        }

        report.Line($"h2load `-c {throughput.Connections} -m {throughput.Streams} -D {seconds}`: GetUserSegments **{BenchReport.N(lookup.PerSecond)} req/s** ({lookup.Summary}), "
            + $"Echo {BenchReport.N(echo.PerSecond)} req/s; **lookup/echo by h2load: {lookup.PerSecond / echo.PerSecond:F3}**.");
        report.Line($"Our generator's closed-loop GetUserSegments maximum: {BenchReport.N(throughput.LookupMax)}/s, h2load / ours = {lookup.PerSecond / throughput.LookupMax:F2} "
            + "(above 1 means our .NET load generator, sharing the cores with the server, is the limit, not the server).");
        report.Json["h2load"] = new JsonObject
        {
            ["lookup_per_second"] = lookup.PerSecond,
            ["echo_per_second"] = echo.PerSecond,
            ["lookup_to_echo_ratio"] = Math.Round(lookup.PerSecond / echo.PerSecond, 4),
            ["ours_lookup_per_second"] = Math.Round(throughput.LookupMax),
            ["h2load_to_ours"] = Math.Round(lookup.PerSecond / throughput.LookupMax, 3),
            ["requests"] = lookup.Summary,
        };
    }

    private static async Task<(double PerSecond, string Summary)> RunOneAsync(
        string h2load, Uri host, MethodDescriptor method, IMessage request, ThroughputSummary throughput, int seconds, CancellationToken cancellationToken)
    {
        var body = Path.Combine(Path.GetTempPath(), $"segbench-h2load-{Environment.ProcessId}.bin");
        var message = request.ToByteArray();
        var framed = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)message.Length);
        message.CopyTo(framed, 5);
        await File.WriteAllBytesAsync(body, framed, cancellationToken);
        try
        {
            var url = new Uri(host, $"/{method.Service.FullName}/{method.Name}");
            var start = new ProcessStartInfo(h2load) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[]
            {
                "-c", throughput.Connections.ToString(CultureInfo.InvariantCulture),
                "-m", throughput.Streams.ToString(CultureInfo.InvariantCulture),
                "-t", "1", "-D", seconds.ToString(CultureInfo.InvariantCulture), "--warm-up-time=1",
                "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers", url.ToString(),
            })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            var rate = RateLine().Match(output);
            var requests = RequestsLine().Match(output);
            return rate.Success
                ? (double.Parse(rate.Groups[1].Value, CultureInfo.InvariantCulture), requests.Value.Trim())
                : (0, $"exit {process.ExitCode}: {output.Trim().Split('\n').LastOrDefault()}");
        }
        finally
        {
            File.Delete(body);
        }
    }

    [GeneratedRegex(@"finished in [0-9.]+m?s, ([0-9.]+) req/s")]
    private static partial Regex RateLine();

    [GeneratedRegex(@"requests: [^\n]*")]
    private static partial Regex RequestsLine();
}
