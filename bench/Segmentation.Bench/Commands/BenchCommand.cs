using System.CommandLine;
using System.Diagnostics;
using System.Diagnostics.Metrics;
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
        var rounds = new Option<int>("--rounds") { Description = "Alternating echo/lookup rounds (0: none, ingest and grain calls only).", DefaultValueFactory = _ => 3 };
        var concurrency = new Option<int>("--concurrency") { Description = "Calls in flight.", DefaultValueFactory = _ => 32 };
        var users = new Option<int>("--users") { Description = "Seeded users.", DefaultValueFactory = _ => 2_000 };
        var ingestBatches = new Option<int>("--ingest-batches") { Description = "Batches of 1,000 events for the ingest run.", DefaultValueFactory = _ => 200 };
        var warmupBatches = new Option<int>("--warmup-batches") { Description = "Batches of 1,000 events ingested over gRPC before the timed run, not counted (0: none).", DefaultValueFactory = _ => 25 };
        var models = new Option<bool>("--models") { Description = "Train every model of the seeded shop as ./run.sh does (user encoder, ML segments, churn, value, anomaly, item model) before measuring: ingest with every feature on.", DefaultValueFactory = _ => false };
        var rules = new Option<int>("--rules")
        {
            Description = $"Rule segments defined before measuring (0 to {s_rules.Length}; the first of a storefront's typical rules): with --models, every feature on.",
            DefaultValueFactory = _ => 0,
        };
        var inFlight = new Option<int>("--in-flight")
        {
            Description = "Ingest batches in flight at once (more callers keep the host busy while each batch waits for its commit's fsync).",
            DefaultValueFactory = _ => InFlightBatches,
        };
        var randomEventIds = new Option<bool>("--random-event-ids")
        {
            Description = "Ingest events with random ids (UUIDs, as storefronts send) instead of numbered ones, whose index inserts land next to each other.",
            DefaultValueFactory = _ => false,
        };
        var command = new Command("bench", "Benchmark lookups vs echo, durable ingest and grain calls in one run.")
        {
            seconds, rounds, concurrency, users, ingestBatches, warmupBatches, models, rules, inFlight, randomEventIds,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await RunAsync(
                TimeSpan.FromSeconds(parse.GetValue(seconds)),
                parse.GetValue(rounds),
                parse.GetValue(concurrency),
                parse.GetValue(users),
                parse.GetValue(ingestBatches),
                parse.GetValue(warmupBatches),
                parse.GetValue(models),
                Math.Clamp(parse.GetValue(rules), 0, s_rules.Length),
                Math.Max(1, parse.GetValue(inFlight)),
                parse.GetValue(randomEventIds),
                cancellationToken);
            return 0;
        });
        return command;
    }

    // Rules a storefront's marketers define first (spenders, a category's fans, cart abandoners, lapsing buyers): with any
    // rule defined, every refresh builds the profile's view to evaluate them, which the ingest path otherwise skips.
    private static readonly (string Id, string Expression)[] s_rules =
    [
        ("active-spenders", "monetary > 500 && lifecycle == \"active\""),
        ("kitchen-fans", "affinity(\"home\") > 0.3"),
        ("cart-abandoners", "carts >= 1 && purchases == 0"),
        ("lapsing-buyers", "orders >= 2 && days_since_last_seen > 30"),
    ];

    private static async Task RunAsync(TimeSpan duration, int rounds, int concurrency, int userCount, int ingestBatches, int warmupBatches, bool models, int rules, int inFlight, bool randomEventIds, CancellationToken cancellationToken)
    {
        await using var temporary = await TemporaryServer.StartAsync("seg-bench-", [], cancellationToken);
        var server = temporary.Server;
        var seeded = await ShopSeeder.SeedIfEmptyAsync(server, userCount, NullLogger.Instance, cancellationToken);
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC; {GcSettings()}");
        Console.WriteLine($"seeded {seeded!.Events:N0} events for {seeded.Users:N0} users; concurrency {concurrency}, {rounds} rounds x {duration.TotalSeconds:F0} s");

        if (models)
        {
            var training = TimeProvider.System.GetTimestamp();
            await ShopModels.TrainAsync(server, Segmentation.Grains.TenantKeys.DefaultTenant, Console.Out);
            Console.WriteLine($"models trained in {TimeProvider.System.GetElapsedTime(training).TotalSeconds:F0} s");
        }

        using var channel = GrpcChannel.ForAddress(server.Address);
        if (rules > 0)
        {
            var admin = new AdminService.AdminServiceClient(channel);
            foreach (var (id, expression) in s_rules.Take(rules))
            {
                await admin.CreateRuleSegmentAsync(new CreateRuleSegmentRequest { Id = id, Expression = expression }, cancellationToken: cancellationToken);
            }

            Console.WriteLine($"rule segments: {string.Join("; ", s_rules.Take(rules).Select(r => $"{r.Id} = {r.Expression}"))}");
        }

        var echoClient = new EchoService.EchoServiceClient(channel);
        var segments = new SegmentService.SegmentServiceClient(channel);
        var echoRequest = new EchoMessage { Text = SyntheticShop.UserId(42) };
        Func<int, Task> echo = _ => echoClient.EchoAsync(echoRequest).ResponseAsync;
        Func<int, Task> lookup = i => segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = SyntheticShop.UserId(i % userCount) }).ResponseAsync;

        // --rounds 0: ingest and grain calls only.
        if (rounds > 0)
        {
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
        }

        if (warmupBatches > 0)
        {
            // The same users and shape as the timed run, other event ids: the seeding went through the ingest path in-process,
            // so without this the timed run pays for JIT-compiling the gRPC client and server paths (a profile of the first
            // 30 s of a cold run found about a fifth of the process's CPU in the tiered-compilation thread) and for
            // activating the bench users, and reports that as the cost per event. A day before the timed run's events, so
            // those fold on (none arrives late).
            var warm = await IngestRunAsync(server, new EventService.EventServiceClient(channel), "warm", warmupBatches, countCalls: false, cancellationToken, daysAgo: 2, inFlight: inFlight, randomEventIds: randomEventIds);
            Console.WriteLine($"warm-up ingest (not counted): {warm.Events:N0} events, {warm.PerSecond:N0} events/s, {warm.CpuMicrosecondsPerEvent:F1} µs CPU per event; {warm.Jit}");
        }

        Console.WriteLine($"load average before ingest: {Scenarios.Failover.LoadAverage()}");
        var ingest = await IngestRunAsync(server, new EventService.EventServiceClient(channel), "bench", ingestBatches, countCalls: false, cancellationToken, inFlight: inFlight, randomEventIds: randomEventIds);
        Console.WriteLine($"durable ingest: {ingest.Events:N0} events in batches of 1,000 over gRPC, {ingest.PerSecond:N0} events/s (SQLite synchronous={server.Options.SqliteSynchronous}, {inFlight} batches in flight, {(randomEventIds ? "random" : "numbered")} event ids)");
        Console.WriteLine($"durable ingest, derived state caught up (no segment refresh pending): {ingest.CaughtUpPerSecond:N0} events/s");
        Console.WriteLine($"durable ingest cost per event until caught up (this process: gRPC client and server): {ingest.AllocatedBytesPerEvent:N0} B allocated, {ingest.CpuMicrosecondsPerEvent:F1} µs CPU");
        Console.WriteLine($"durable ingest, JIT during the timed run: {ingest.Jit}");
        Console.WriteLine($"durable ingest, GC during the timed run: {ingest.Gc}");
        // A second run of the same shape (new events, the same users), with a listener on Orleans' grain-call spans: counting them
        // costs an Activity per call, so it is kept out of the timed run above.
        // Its events come after the timed run's in event time (those span a millisecond per event from a day ago): starting
        // at "a day ago" again would make them late for the users the timed run just fed, and every call would re-fold
        // her whole stream (UserGrain.RefoldAsync), which is not what the counting run is there to count.
        var counted = await IngestRunAsync(server, new EventService.EventServiceClient(channel), "count", Math.Max(1, ingestBatches / 4), countCalls: true, cancellationToken, start: ingest.Start + TimeSpan.FromMilliseconds((ingestBatches * 1_000) + 1), randomEventIds: randomEventIds);
        Console.WriteLine($"grain calls per ingested event: {counted.GrainCallsPerEvent:F2} ({counted.Events:N0} more events, requests Orleans delivered (orleans-messaging-processing-dispatcher-received) until caught up)");
        Console.WriteLine($"counting run, JIT: {counted.Jit}");
        Console.WriteLine($"load average after ingest: {Scenarios.Failover.LoadAverage()}");

        var grainCalls = await GrainCallRunAsync(server, userCount, concurrency, duration, cancellationToken);
        Console.WriteLine($"in-process grain calls: {grainCalls:N0} calls/s (GetLifecycle on {userCount:N0} active user grains, {concurrency} callers)");
    }

    // The GC's own reading of the settings that size its young generation (what the runtimeconfig or DOTNET_ variables set).
    private static string GcSettings()
    {
        var settings = GC.GetConfigurationVariables();
        return string.Join(", ", new[] { "GCDynamicAdaptationMode", "GCHeapCount", "GCgen0size", "GCGen0MaxBudget", "GCDGen0GrowthPercent", "GCDGen0GrowthMinFactor", "GCDGen0GrowthMaxFactor", "GCDTargetTCP", "GCConserveMem", "ConcurrentGC" }
            .Select(name => $"{name} {(settings.TryGetValue(name, out var value) ? value : "-")}"));
    }

    internal static async Task<IngestRun> IngestRunAsync(
        SegmentationServer server, EventService.EventServiceClient client, string prefix, int batches, bool countCalls, CancellationToken cancellationToken, int daysAgo = 1, DateTimeOffset? start = null, int inFlight = InFlightBatches, bool randomEventIds = false)
    {
        var first = start ?? TimeProvider.System.GetUtcNow() - TimeSpan.FromDays(daysAgo);
        var requests = new IngestEventsRequest[batches];
        for (var b = 0; b < batches; b++)
        {
            var request = new IngestEventsRequest();
            for (var i = 0; i < 1_000; i++)
            {
                var n = (b * 1_000) + i;
                request.Events.Add(new Event
                {
                    EventId = randomEventIds ? Guid.NewGuid().ToString() : $"{prefix}-{n}",
                    UserId = $"bench-user-{n % 20_000}",
                    Type = Contracts.V1.EventType.View,
                    ItemId = $"sku-{n % 997}",
                    Category = "home.kitchen",
                    Price = 9.99,
                    Timestamp = Timestamp.FromDateTimeOffset(first + TimeSpan.FromMilliseconds(n)),
                });
            }

            requests[b] = request;
        }

        // Grain calls: Orleans counts the messages it delivers within the silo (requests, and the responses to those
        // that expect one) on its meter, as observable totals read at the start and the end.
        var orleans = new System.Collections.Concurrent.ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var sign = -1;
        using var listener = countCalls ? new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Microsoft.Orleans" && instrument.Name.StartsWith("orleans-messaging", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        } : null;
        listener?.SetMeasurementEventCallback<int>((instrument, value, _, _) => orleans.AddOrUpdate(instrument.Name, sign * value, (_, n) => n + (sign * value)));
        listener?.SetMeasurementEventCallback<long>((instrument, value, _, _) => orleans.AddOrUpdate(instrument.Name, sign * value, (_, n) => n + (sign * value)));
        listener?.Start();
        listener?.RecordObservableInstruments();
        sign = 1;
        using var allocations = countCalls ? new Measurement.AllocationSampler() : null;
        using var jitted = countCalls ? new Measurement.JitSampler() : null;

        var next = -1;
        // Methods compiled (every tier, this process) across the run: whether code is still generated in steady state.
        var jitMethods0 = System.Runtime.JitInfo.GetCompiledMethodCount();
        var jitTime0 = System.Runtime.JitInfo.GetCompilationTime();
        var gc0 = GcDuring.Now();
        using var collections = countCalls ? null : new Measurement.GcSampler();
        var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        long accepted = 0;
        var workers = Enumerable.Range(0, inFlight).Select(async _ =>
        {
            int b;
            while ((b = Interlocked.Increment(ref next)) < batches)
            {
                var response = await client.IngestEventsAsync(requests[b], cancellationToken: cancellationToken);
                Interlocked.Add(ref accepted, response.Accepted);
            }
        });
        await Task.WhenAll(workers);
        var acked = stopwatch.Elapsed;
        // Until the deferred work of every acknowledged event (embedding, ML segment, memberships) has run.
        while (server.GrainServices.PendingSegmentRefreshes > 0)
        {
            await Task.Delay(5, cancellationToken);
        }

        var caughtUp = stopwatch.Elapsed;
        var events = Math.Max(1, accepted);
        listener?.RecordObservableInstruments();
        if (countCalls)
        {
            Console.WriteLine("Orleans messaging counters per event: " + string.Join(", ", orleans.OrderBy(o => o.Key).Select(o => $"{o.Key} {o.Value / (double)events:F2}")));
        }

        if (allocations is not null)
        {
            Console.WriteLine("types allocated most in the counting run (sampled every ~100 KB, bytes per event):");
            foreach (var (type, bytes) in allocations.Top(25))
            {
                Console.WriteLine($"{bytes / (double)events,8:N0}  {type}");
            }
        }

        var jit = new JitDuring(System.Runtime.JitInfo.GetCompiledMethodCount() - jitMethods0, System.Runtime.JitInfo.GetCompilationTime() - jitTime0, events);
        if (jitted is not null)
        {
            Console.WriteLine($"methods JIT-compiled in the counting run: {jitted.Total:N0}, {jitted.Dynamic:N0} of them dynamic; by tier: " + string.Join(", ", jitted.Tiers().Select(t => $"{t.Tier} {t.Count:N0}")));
            foreach (var (method, count) in jitted.Top(40))
            {
                Console.WriteLine($"{count,8:N0}  {method}");
            }
        }

        return new IngestRun(
            first,
            accepted,
            accepted / acked.TotalSeconds,
            accepted / caughtUp.TotalSeconds,
            (GC.GetTotalAllocatedBytes(precise: true) - allocated0) / (double)events,
            (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMicroseconds / events,
            orleans.GetValueOrDefault("orleans-messaging-processing-dispatcher-received") / (double)events,
            jit,
            GcDuring.Now().Since(gc0, events) with { Collections = collections?.Summary() ?? "" });
    }

    internal sealed record IngestRun(DateTimeOffset Start, long Events, double PerSecond, double CaughtUpPerSecond, double AllocatedBytesPerEvent, double CpuMicrosecondsPerEvent, double GrainCallsPerEvent, JitDuring Jit, GcDuring Gc);

    /// <summary>
    /// What the GC did during a run: collections of each generation (a gen1 count includes the gen2 ones, as
    /// <see cref="GC.CollectionCount"/> does) and the time the process was paused for them.
    /// </summary>
    internal sealed record GcDuring(int Gen0, int Gen1, int Gen2, TimeSpan Paused, long Events)
    {
        /// <summary>The collections seen one by one (<see cref="Measurement.GcSampler"/>), by kind.</summary>
        public string Collections { get; init; } = "";

        public static GcDuring Now() => new(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), 0);

        public GcDuring Since(GcDuring start, long events) => new(Gen0 - start.Gen0, Gen1 - start.Gen1, Gen2 - start.Gen2, Paused - start.Paused, events);

        public override string ToString() =>
            $"collections gen0 {Gen0:N0}, gen1 {Gen1:N0}, gen2 {Gen2:N0}; paused {Paused.TotalMilliseconds:N0} ms ({Paused.TotalMicroseconds / Math.Max(1, Events):F2} µs per event), heap {GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0:N0} MiB at the last collection; {Collections}";
    }

    /// <summary>What the JIT did during a run (<see cref="System.Runtime.JitInfo"/>): methods compiled and time spent compiling.</summary>
    internal sealed record JitDuring(long Methods, TimeSpan Time, long Events)
    {
        public override string ToString() =>
            $"{Methods:N0} methods JIT-compiled ({Methods * 1_000.0 / Events:F2} per 1,000 events), {Time.TotalMilliseconds:N0} ms compiling ({Time.TotalMicroseconds / Events:F2} µs per event)";
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
