using System.CommandLine;
using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Contracts.Bench.V1;
using Segmentation.Contracts.V1;
using Segmentation.Host;
using Segmentation.Host.Seeding;
using Spectre.Console;

namespace Segmentation.Bench.Commands;

/// <summary>
/// <c>segbench bench</c>: starts a server in this process on a temporary store, seeds it, and measures, in one run,
/// the lookup against a bare echo on the same gRPC stack (ratio), durable ingest events/s with batches of 1,000,
/// and in-process grain calls/s. Numbers, not thresholds.
/// </summary>
internal static class BenchCommand
{
    private const int InFlightBatches = 4;

    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Measuring time per round and method.", DefaultValueFactory = _ => 4 };
        var rounds = new Option<int>("--rounds") { Description = "Alternating echo/lookup rounds.", DefaultValueFactory = _ => 3 };
        var concurrency = new Option<int>("--concurrency") { Description = "Calls in flight.", DefaultValueFactory = _ => 32 };
        var users = new Option<int>("--users") { Description = "Seeded users.", DefaultValueFactory = _ => 2_000 };
        var ingestBatches = new Option<int>("--ingest-batches") { Description = "Batches of 1,000 events for the ingest run.", DefaultValueFactory = _ => 200 };
        var command = new Command("bench", "Benchmark lookups vs echo, durable ingest and grain calls in one run.")
        {
            seconds, rounds, concurrency, users, ingestBatches,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await RunAsync(
                TimeSpan.FromSeconds(parse.GetValue(seconds)),
                parse.GetValue(rounds),
                parse.GetValue(concurrency),
                parse.GetValue(users),
                parse.GetValue(ingestBatches),
                cancellationToken);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(TimeSpan duration, int rounds, int concurrency, int userCount, int ingestBatches, CancellationToken cancellationToken)
    {
        await using var temporary = await TemporaryServer.StartAsync("seg-bench-", [], cancellationToken);
        var server = temporary.Server;
        var seeded = await ShopSeeder.SeedIfEmptyAsync(server, userCount, NullLogger.Instance, cancellationToken);
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");
        Console.WriteLine($"seeded {seeded!.Events:N0} events for {seeded.Users:N0} users; concurrency {concurrency}, {rounds} rounds x {duration.TotalSeconds:F0} s");

        using var channel = GrpcChannel.ForAddress(server.Address);
        var echoClient = new EchoService.EchoServiceClient(channel);
        var segments = new SegmentService.SegmentServiceClient(channel);
        var echoRequest = new EchoMessage { Text = SyntheticShop.UserId(42) };
        Func<int, Task> echo = _ => echoClient.EchoAsync(echoRequest).ResponseAsync;
        Func<int, Task> lookup = i => segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = SyntheticShop.UserId(i % userCount) }).ResponseAsync;

        // Warm-up: let tiered compilation settle on both paths before measuring.
        await LoadRun.RunAsync(echo, concurrency, TimeSpan.FromSeconds(3), cancellationToken);
        await LoadRun.RunAsync(lookup, concurrency, TimeSpan.FromSeconds(3), cancellationToken);
        var echoRuns = new List<LoadRun>();
        var lookupRuns = new List<LoadRun>();
        for (var r = 0; r < rounds; r++)
        {
            echoRuns.Add(await LoadRun.RunAsync(echo, concurrency, duration, cancellationToken));
            lookupRuns.Add(await LoadRun.RunAsync(lookup, concurrency, duration, cancellationToken));
        }

        var echoBest = echoRuns.MaxBy(r => r.PerSecond)!;
        var lookupBest = lookupRuns.MaxBy(r => r.PerSecond)!;
        var table = new Table().AddColumns("method", "calls/s (best round)", "p50 ms", "p99 ms", "rounds calls/s");
        table.AddRow("Echo (baseline)", $"{echoBest.PerSecond:N0}", $"{echoBest.P50:F2}", $"{echoBest.P99:F2}", string.Join(" ", echoRuns.Select(r => $"{r.PerSecond:N0}")));
        table.AddRow("GetUserSegments", $"{lookupBest.PerSecond:N0}", $"{lookupBest.P50:F2}", $"{lookupBest.P99:F2}", string.Join(" ", lookupRuns.Select(r => $"{r.PerSecond:N0}")));
        AnsiConsole.Write(table);
        Console.WriteLine($"lookup/echo throughput ratio: {lookupBest.PerSecond / echoBest.PerSecond:F3} (best rounds); {lookupRuns.Average(r => r.PerSecond) / echoRuns.Average(r => r.PerSecond):F3} (mean of rounds)");

        var ingest = await IngestRunAsync(new EventService.EventServiceClient(channel), ingestBatches, cancellationToken);
        Console.WriteLine($"durable ingest: {ingest.Events:N0} events in batches of 1,000 over gRPC, {ingest.PerSecond:N0} events/s (SQLite synchronous={server.Options.SqliteSynchronous}, {InFlightBatches} batches in flight)");

        var grainCalls = await GrainCallRunAsync(server, userCount, concurrency, duration, cancellationToken);
        Console.WriteLine($"in-process grain calls: {grainCalls:N0} calls/s (GetLifecycle on {userCount:N0} active user grains, {concurrency} callers)");
    }

    private static async Task<(long Events, double PerSecond)> IngestRunAsync(EventService.EventServiceClient client, int batches, CancellationToken cancellationToken)
    {
        var start = TimeProvider.System.GetUtcNow() - TimeSpan.FromDays(1);
        var requests = new IngestEventsRequest[batches];
        for (var b = 0; b < batches; b++)
        {
            var request = new IngestEventsRequest();
            for (var i = 0; i < 1_000; i++)
            {
                var n = (b * 1_000) + i;
                request.Events.Add(new Event
                {
                    EventId = $"bench-{n}",
                    UserId = $"bench-user-{n % 20_000}",
                    Type = Contracts.V1.EventType.View,
                    ItemId = $"sku-{n % 997}",
                    Category = "home.kitchen",
                    Price = 9.99,
                    Timestamp = Timestamp.FromDateTimeOffset(start + TimeSpan.FromMilliseconds(n)),
                });
            }

            requests[b] = request;
        }

        var next = -1;
        var stopwatch = Stopwatch.StartNew();
        long accepted = 0;
        var workers = Enumerable.Range(0, InFlightBatches).Select(async _ =>
        {
            int b;
            while ((b = Interlocked.Increment(ref next)) < batches)
            {
                var response = await client.IngestEventsAsync(requests[b], cancellationToken: cancellationToken);
                Interlocked.Add(ref accepted, response.Accepted);
            }
        });
        await Task.WhenAll(workers);
        return (accepted, accepted / stopwatch.Elapsed.TotalSeconds);
    }

    private static async Task<double> GrainCallRunAsync(SegmentationServer server, int users, int concurrency, TimeSpan duration, CancellationToken cancellationToken)
    {
        var now = server.DomainClock.GetUtcNow();
        var run = await LoadRun.RunAsync(
            i => server.Grains.GetGrain<Segmentation.Grains.IUserGrain>(Segmentation.Grains.TenantKeys.User(SyntheticShop.UserId(i % users))).GetLifecycleAsync(now).WaitAsync(cancellationToken),
            concurrency,
            duration,
            cancellationToken);
        return run.PerSecond;
    }
}
