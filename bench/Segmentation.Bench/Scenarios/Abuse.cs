using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Segmentation.Bench.Measurement;
using Segmentation.Bench.Target;
using Segmentation.Contracts.V1;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>One abuse scenario's outcome.</summary>
public sealed record AbuseResult(string Name, string Attack, string ServerAnswer, double BystanderP99Ms, double BaselineP99Ms, long BystanderErrors, bool Alive, bool Serving, long RssBefore, long RssPeak)
{
    /// <summary>The bystander's p99 as a multiple of its unloaded p99.</summary>
    public double Ratio => BaselineP99Ms > 0 ? BystanderP99Ms / BaselineP99Ms : 0;

    /// <summary>Alive, serving, no bystander errors, bystander p99 within 2×.</summary>
    public bool Passed => Alive && Serving && BystanderErrors == 0 && Ratio <= 2.0;
}

/// <summary>
/// HTTP/2 abuse on loopback, each scenario for a few seconds while a well-behaved client (one caller, GetUserSegments,
/// 5 ms think time) runs beside it: rapid stream resets, more streams than allowed, oversized and very many headers,
/// an endless CONTINUATION sequence, slow senders, idle connections that never speak, and a PING flood. Pass: the
/// server stays up and serving, its memory stays bounded, and the bystander's p99 stays within 2× of its unloaded p99.
/// </summary>
/// <remarks>
/// The attackers run on the same 2 cores as the server; each is paced (a short sleep per burst) so that the measurement
/// is of the server's defences, not of a client that takes every CPU cycle from it.
/// </remarks>
public static class Abuse
{
    private const string Lookup = "/segmentation.v1.SegmentService/GetUserSegments";

    /// <summary>Runs every scenario against <paramref name="host"/> and writes the section.</summary>
    public static async Task<bool> ReportAsync(BenchReport report, BenchSettings settings, ServerProcess host, CancellationToken cancellationToken)
    {
        report.Section("HTTP/2 abuse");
        var duration = TimeSpan.FromSeconds(settings.AbuseSeconds);
        var baseline = await BystanderAsync(host.Address, settings.Users, duration, cancellationToken);
        var baselineP99 = baseline.Latency.Milliseconds(0.99);
        report.Line($"Bystander alone: {N(baseline.Calls)} calls, p50 {baseline.Latency.Milliseconds(0.5):F2} ms, p99 {baselineP99:F2} ms.\n");

        var scenarios = new (string Name, Func<Uri, TimeSpan, CancellationToken, Task<(string Attack, string Answer)>> Attack)[]
        {
            ("rapid reset", RapidResetAsync),
            ("stream flood", StreamFloodAsync),
            ("oversized header", OversizedHeaderAsync),
            ("many headers", ManyHeadersAsync),
            ("CONTINUATION flood", ContinuationFloodAsync),
            ("slow senders", SlowSendersAsync),
            ("idle connections", IdleConnectionsAsync),
            ("PING flood", PingFloodAsync),
        };
        var results = new List<AbuseResult>();
        foreach (var (name, attack) in scenarios)
        {
            var rssBefore = host.Sample()?.ResidentBytes ?? 0;
            long rssPeak = rssBefore;
            using var stop = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    rssPeak = Math.Max(rssPeak, host.Sample()?.ResidentBytes ?? 0);
                    await Task.Delay(200, CancellationToken.None);
                }
            }, CancellationToken.None);
            var bystander = BystanderAsync(host.Address, settings.Users, duration, cancellationToken);
            (string Attack, string Answer) outcome;
            try
            {
                outcome = await attack(host.Address, duration, cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                outcome = ("(attacker failed)", $"{ex.GetType().Name}: {ex.Message}");
            }

            var seen = await bystander;
            await stop.CancelAsync();
            await sampler;
            var alive = !host.HasExited;
            var serving = alive && await Fuzzer.IsServingAsync(host);
            results.Add(new AbuseResult(name, outcome.Attack, outcome.Answer, seen.Latency.Milliseconds(0.99), baselineP99, seen.Errors, alive, serving, rssBefore, rssPeak));
            if (!alive)
            {
                break;
            }

            await Task.Delay(500, cancellationToken); // let closed connections drain before the next scenario
        }

        report.Table(
            ["scenario", "attack", "server's answer", "bystander p99 ms", "× unloaded", "bystander errors", "RSS before → peak MB", "result"],
            results.Select(r => (IReadOnlyList<string>)[r.Name, r.Attack, r.ServerAnswer, $"{r.BystanderP99Ms:F2}", $"{r.Ratio:F2}", N(r.BystanderErrors),
                $"{r.RssBefore / 1e6:F0} → {r.RssPeak / 1e6:F0}", r.Passed ? "PASS" : r.Alive && r.Serving && r.BystanderErrors == 0 ? "SLOW" : "FAIL"]));
        var worst = results.Count == 0 ? 0 : results.Max(r => r.Ratio);
        report.Line($"**Abuse: {results.Count(r => r.Passed)} of {scenarios.Length} scenarios pass; worst bystander p99 ratio {worst:F2}; server {(results.All(r => r.Alive) ? "never crashed" : "CRASHED")}.**");
        report.Json["abuse"] = new JsonObject
        {
            ["baseline_p99_ms"] = Math.Round(baselineP99, 3),
            ["worst_ratio"] = Math.Round(worst, 3),
            ["scenarios"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject
            {
                ["name"] = r.Name,
                ["attack"] = r.Attack,
                ["answer"] = r.ServerAnswer,
                ["bystander_p99_ms"] = Math.Round(r.BystanderP99Ms, 3),
                ["ratio"] = Math.Round(r.Ratio, 3),
                ["bystander_errors"] = r.BystanderErrors,
                ["alive"] = r.Alive,
                ["serving"] = r.Serving,
                ["rss_before"] = r.RssBefore,
                ["rss_peak"] = r.RssPeak,
                ["passed"] = r.Passed,
            }).ToArray()),
        };
        return results.Count == scenarios.Length && results.All(r => r.Alive && r.Serving && r.BystanderErrors == 0);
    }

    /// <summary>The well-behaved client: one caller, a lookup, 5 ms think time between calls; latency of the call alone.</summary>
    internal static async Task<LoadResult> BystanderAsync(Uri address, int users, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var load = new Workloads(address, 1, users);
        await load.GetUserSegmentsAsync(1); // connect outside the measurement
        var latency = new LatencyHistogram();
        long calls = 0, errors = 0;
        string? firstError = null;
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.Elapsed < duration && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(5, cancellationToken);
            var started = Stopwatch.GetTimestamp();
            try
            {
                await load.GetUserSegmentsAsync(++calls).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            }
            catch (Exception ex) when (ex is Grpc.Core.RpcException or HttpRequestException or IOException or TimeoutException)
            {
                errors++;
                firstError ??= $"{ex.GetType().Name}: {ex.Message}";
            }

            latency.Record((long)(Stopwatch.GetElapsedTime(started).TotalMilliseconds * 1e6));
        }

        return new LoadResult("bystander", calls, errors, stopwatch.Elapsed.TotalSeconds, latency) { FirstError = firstError };
    }

    // Paced: 4 connections × 2,500 streams/s. Unpaced, the attacker on the same 2 cores takes a whole core from the
    // server and the measurement is of CPU theft, not of the server's defences.
    private const int ResetStreamsPerSecond = 10_000;

    private static async Task<(string, string)> RapidResetAsync(Uri address, TimeSpan duration, CancellationToken cancellationToken)
    {
        const int Workers = 4, Burst = 25;
        long streams = 0, connections = 0, goAways = 0, resets = 0;
        var stopwatch = Stopwatch.StartNew();
        var block = RawHttp2Connection.EncodeHeaders(RawHttp2Connection.GrpcRequest(address, Lookup));
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(async _ =>
        {
            long sent = 0;
            while (stopwatch.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                await using var connection = await RawHttp2Connection.OpenAsync(address);
                Interlocked.Increment(ref connections);
                while (!connection.Closed && stopwatch.Elapsed < duration)
                {
                    // A burst of streams, each opened and cancelled at once, in one write.
                    var burst = new MemoryStream();
                    for (var k = 0; k < Burst; k++)
                    {
                        var id = connection.NextStreamId();
                        WriteFrame(burst, RawHttp2Connection.Headers, RawHttp2Connection.EndHeaders, id, block);
                        WriteFrame(burst, RawHttp2Connection.RstStream, 0, id, [0, 0, 0, 8]); // CANCEL
                    }

                    if (!await connection.WriteRawAsync(burst.ToArray()))
                    {
                        break;
                    }

                    sent += Burst;
                    Interlocked.Add(ref streams, Burst);
                    var due = TimeSpan.FromSeconds(sent / (double)(ResetStreamsPerSecond / Workers));
                    if (due > stopwatch.Elapsed)
                    {
                        await Task.Delay(due - stopwatch.Elapsed, cancellationToken);
                    }
                }

                Interlocked.Add(ref goAways, connection.GoAwaysReceived);
                Interlocked.Add(ref resets, connection.ResetsReceived);
            }
        }));
        return ($"{N(streams)} streams opened and reset at once on {connections} connections ({N(streams / duration.TotalSeconds)}/s, paced)",
            $"{goAways} GOAWAY, {N(resets)} RST_STREAM");
    }

    private static async Task<(string, string)> StreamFloodAsync(Uri address, TimeSpan duration, CancellationToken cancellationToken)
    {
        var connections = new List<RawHttp2Connection>();
        long opened = 0;
        try
        {
            for (var c = 0; c < 10; c++)
            {
                var connection = await RawHttp2Connection.OpenAsync(address);
                connections.Add(connection);
                var burst = new MemoryStream();
                for (var k = 0; k < 1_000; k++)
                {
                    // Headers without END_STREAM and no body ever: each stream waits for its request message.
                    WriteFrame(burst, RawHttp2Connection.Headers, RawHttp2Connection.EndHeaders, connection.NextStreamId(),
                        RawHttp2Connection.EncodeHeaders(RawHttp2Connection.GrpcRequest(address, Lookup)));
                }

                if (await connection.WriteRawAsync(burst.ToArray()))
                {
                    opened += 1_000;
                }
            }

            await Task.Delay(duration, cancellationToken);
            return ($"{N(opened)} streams opened without a body on 10 connections (limit 100 per connection)",
                $"{N(connections.Sum(c => c.ResetsReceived))} RST_STREAM, {connections.Sum(c => c.GoAwaysReceived)} GOAWAY, {connections.Count(c => c.Closed)} connections closed");
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static Task<(string, string)> OversizedHeaderAsync(Uri address, TimeSpan duration, CancellationToken cancellationToken) =>
        RepeatHeadersAsync(address, duration, () => RawHttp2Connection.EncodeHeaders(RawHttp2Connection.GrpcRequest(address, Lookup, ("x-big", new string('a', 100_000)))), "one 100 KB header value", cancellationToken);

    private static Task<(string, string)> ManyHeadersAsync(Uri address, TimeSpan duration, CancellationToken cancellationToken) =>
        RepeatHeadersAsync(
            address, duration,
            () => RawHttp2Connection.EncodeHeaders(RawHttp2Connection.GrpcRequest(address, Lookup, Enumerable.Range(0, 5_000).Select(i => ($"x-h{i}", "v")).ToArray())),
            "5,000 headers", cancellationToken);

    // Sends a header block split over HEADERS + CONTINUATION frames, again and again, on fresh connections when closed.
    private static async Task<(string, string)> RepeatHeadersAsync(Uri address, TimeSpan duration, Func<byte[]> block, string what, CancellationToken cancellationToken)
    {
        var encoded = block();
        long requests = 0, connections = 0, goAways = 0, resets = 0, responses = 0;
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            while (stopwatch.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                await using var connection = await RawHttp2Connection.OpenAsync(address);
                Interlocked.Increment(ref connections);
                while (!connection.Closed && stopwatch.Elapsed < duration)
                {
                    var frames = new MemoryStream();
                    var id = connection.NextStreamId();
                    for (var offset = 0; offset < encoded.Length; offset += RawHttp2Connection.MaxFrame)
                    {
                        var length = Math.Min(RawHttp2Connection.MaxFrame, encoded.Length - offset);
                        var last = offset + length >= encoded.Length;
                        WriteFrame(frames, offset == 0 ? RawHttp2Connection.Headers : RawHttp2Connection.Continuation,
                            (byte)((last ? RawHttp2Connection.EndHeaders : 0) | (offset == 0 ? RawHttp2Connection.EndStream : 0)), id, encoded.AsSpan(offset, length));
                    }

                    if (!await connection.WriteRawAsync(frames.ToArray()))
                    {
                        break;
                    }

                    Interlocked.Increment(ref requests);
                    await Task.Delay(2, cancellationToken);
                }

                await Task.Delay(20, cancellationToken);
                Interlocked.Add(ref goAways, connection.GoAwaysReceived);
                Interlocked.Add(ref resets, connection.ResetsReceived);
                Interlocked.Add(ref responses, connection.HeadersReceived);
            }
        }));
        return ($"{N(requests)} requests with {what} ({encoded.Length / 1024} KB block) on {connections} connections",
            $"{goAways} GOAWAY, {N(resets)} RST_STREAM, {N(responses)} response HEADERS");
    }

    private static async Task<(string, string)> ContinuationFloodAsync(Uri address, TimeSpan duration, CancellationToken cancellationToken)
    {
        long frames = 0, connections = 0, goAways = 0;
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.Elapsed < duration && !cancellationToken.IsCancellationRequested)
        {
            await using var connection = await RawHttp2Connection.OpenAsync(address);
            connections++;
            var id = connection.NextStreamId();
            await connection.WriteFrameAsync(RawHttp2Connection.Headers, 0, id, RawHttp2Connection.EncodeHeaders(RawHttp2Connection.GrpcRequest(address, Lookup)));
            var fragment = RawHttp2Connection.EncodeHeaders(Enumerable.Range(0, 100).Select(i => ($"x-c{i}", "continuation")));
            while (!connection.Closed && stopwatch.Elapsed < duration)
            {
                // CONTINUATION after CONTINUATION, never END_HEADERS.
                if (!await connection.WriteFrameAsync(RawHttp2Connection.Continuation, 0, id, fragment))
                {
                    break;
                }

                frames++;
                if (frames % 20 == 0)
                {
                    await Task.Delay(1, cancellationToken);
                }
            }

            await Task.Delay(20, cancellationToken);
            goAways += connection.GoAwaysReceived;
        }

        return ($"{N(frames)} CONTINUATION frames without END_HEADERS on {connections} connections", $"{goAways} GOAWAY; connections cut off after {N(frames / Math.Max(1, connections))} frames each");
    }

    private static async Task<(string, string)> SlowSendersAsync(Uri address, TimeSpan duration, CancellationToken cancellationToken)
    {
        const int Senders = 200;
        var message = new GetUserSegmentsRequest { UserId = "u00042" + new string(' ', 200) }.ToByteArray();
        var framed = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)message.Length);
        message.CopyTo(framed, 5);
        var connections = new List<(RawHttp2Connection Connection, int Stream)>();
        long bytes = 0;
        try
        {
            for (var c = 0; c < Senders; c++)
            {
                var connection = await RawHttp2Connection.OpenAsync(address);
                var id = connection.NextStreamId();
                await connection.WriteFrameAsync(RawHttp2Connection.Headers, RawHttp2Connection.EndHeaders, id, RawHttp2Connection.EncodeHeaders(RawHttp2Connection.GrpcRequest(address, Lookup)));
                connections.Add((connection, id));
            }

            // One byte of the request per connection every 500 ms: far under any sane minimum rate.
            var stopwatch = Stopwatch.StartNew();
            for (var offset = 0; stopwatch.Elapsed < duration && offset < framed.Length; offset++)
            {
                foreach (var (connection, id) in connections)
                {
                    if (await connection.WriteFrameAsync(RawHttp2Connection.Data, 0, id, framed.AsMemory(offset, 1)))
                    {
                        bytes++;
                    }
                }

                await Task.Delay(500, cancellationToken);
            }

            return ($"{Senders} connections each trickling a unary request at 2 bytes/s", $"{connections.Count(c => c.Connection.Closed)} closed, {N(connections.Sum(c => c.Connection.ResetsReceived))} RST_STREAM (within {duration.TotalSeconds:F0} s)");
        }
        finally
        {
            foreach (var (connection, _) in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static async Task<(string, string)> IdleConnectionsAsync(Uri address, TimeSpan duration, CancellationToken cancellationToken)
    {
        const int Count = 1_000;
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < Count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, address.Port), cancellationToken);
                sockets.Add(socket);
                if (i % 10 == 9)
                {
                    // Opened over about a second: the attack is holding idle connections, not a connect burst.
                    await Task.Delay(10, cancellationToken);
                }
            }

            await Task.Delay(duration, cancellationToken);
            var open = sockets.Count(s => !(s.Poll(0, SelectMode.SelectRead) && s.Available == 0));
            return ($"{Count} TCP connections (opened over ~1 s) that never send the preface", $"{open} still open after {duration.TotalSeconds:F0} s (the preface wait is 30 s)");
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private static async Task<(string, string)> PingFloodAsync(Uri address, TimeSpan duration, CancellationToken cancellationToken)
    {
        long pings = 0, connections = 0, goAways = 0;
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.Elapsed < duration && !cancellationToken.IsCancellationRequested)
        {
            await using var connection = await RawHttp2Connection.OpenAsync(address);
            connections++;
            while (!connection.Closed && stopwatch.Elapsed < duration)
            {
                var burst = new MemoryStream();
                for (var k = 0; k < 100; k++)
                {
                    WriteFrame(burst, RawHttp2Connection.Ping, 0, 0, new byte[8]);
                }

                if (!await connection.WriteRawAsync(burst.ToArray()))
                {
                    break;
                }

                pings += 100;
                await Task.Delay(1, cancellationToken);
            }

            await Task.Delay(20, cancellationToken);
            goAways += connection.GoAwaysReceived;
        }

        return ($"{N(pings)} PINGs on {connections} connections ({N(pings / duration.TotalSeconds)}/s)", $"{goAways} GOAWAY");
    }

    private static void WriteFrame(Stream output, byte type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        Span<byte> header = stackalloc byte[9];
        RawHttp2Connection.Header(header, payload.Length, type, flags, streamId);
        output.Write(header);
        output.Write(payload);
    }
}
