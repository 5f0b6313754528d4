using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Bench.Target;
using Segmentation.Contracts.V1;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// Memory per live user: a host of its own seeds the default shop (the newcomer's <c>./run.sh</c> state, whose RSS is
/// reported), then fresh users are streamed in (each in batches of 1,000 events over consecutive users, so each of her
/// events arrives in another call) with a collection age long enough that every one stays live. Bytes per live user =
/// (after − before) / users, for the GC heap after a full collection and for RSS. Then the cost of an empty activation
/// (unknown users queried once) is measured the same way, so the profile's share and Orleans' share can be told apart.
/// </summary>
/// <remarks>
/// The heap figures need a full blocking collection before each reading: <c>dotnet-gcdump collect</c> (from
/// <c>~/.dotnet/tools</c> or the PATH) forces one and gives the types that hold the heap. Without the tool the host's
/// last-collection heap size is reported instead, marked as such.
/// </remarks>
public static class Memory
{
    private const int BatchSize = 1_000;
    private const int InFlight = 4;
    private const int EmptyUsers = 20_000;

    /// <summary>Runs the scenario in its own data folder; true when every event was accepted.</summary>
    public static async Task<bool> ReportAsync(BenchReport report, BenchSettings settings, CancellationToken cancellationToken)
    {
        report.Section("Memory per live user");
        var dataDirectory = Path.Combine(Path.GetTempPath(), "segbench-memory-" + Guid.NewGuid().ToString("N"));
        var gcdump = FindGcDump();
        try
        {
            using var host = ServerProcess.StartHost(
                dataDirectory,
                "--Segmentation:SeedWhenEmpty=true",
                $"--Segmentation:SeedUsers={settings.Users}",
                "--Segmentation:Clock=System",
                "--Segmentation:GrainIdleTimeout=02:00:00",
                // Builds before ad39f7c's successor capped live grains at 200,000 (least recently used out first): lift it
                // so every user stays live there too. Later builds have no such key and ignore it.
                "--Segmentation:MaxActiveGrains=100000000");
            await host.WaitServingAsync(TimeSpan.FromMinutes(5));
            using var client = new ServiceClients(host.Address);

            // Let start-up work (the seeding's last snapshots, the first idle timers) settle before the baseline.
            await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
            var seeded = await ReadAsync(host, client, gcdump, "seeded", settings.OutputDirectory, cancellationToken);
            report.Line($"- host: {Paths.HostDll} (pid {host.Id}), {settings.Users:N0} seeded users (the default shop), collection age 2 h; load generator in this process, {InFlight} calls in flight; load average {Failover.LoadAverage()}.");
            report.Line($"- after seeding the default shop: RSS {Mb(seeded.Rss)}, GC heap {Mb(seeded.Heap)}{seeded.HeapNote} (live objects {Mb(seeded.Live)}), {N(seeded.Grains)} live user grains.");

            var users = settings.MemoryUsers;
            var events = (long)users * settings.MemoryEventsPerUser;
            var batches = (int)((events + BatchSize - 1) / BatchSize);
            var runId = Guid.NewGuid().ToString("N")[..8];
            var eventTime = TimeProvider.System.GetUtcNow().AddHours(-1);
            var next = -1;
            long accepted = 0;
            var stopwatch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, InFlight).Select(_ => Task.Run(async () =>
            {
                int b;
                while ((b = Interlocked.Increment(ref next)) < batches)
                {
                    var request = new IngestEventsRequest();
                    for (var k = 0; k < BatchSize; k++)
                    {
                        var n = ((long)b * BatchSize) + k;
                        if (n >= events)
                        {
                            break;
                        }

                        request.Events.Add(new Event
                        {
                            EventId = $"mem-{runId}-{n}",
                            UserId = $"mem-{runId}-u{n % users}",
                            Type = (n % 10) switch { 0 => Contracts.V1.EventType.Purchase, 1 or 2 => Contracts.V1.EventType.AddToCart, _ => Contracts.V1.EventType.View },
                            ItemId = $"sku-{n % 997:D5}",
                            Category = (n % 3) switch { 0 => "home.essentials", 1 => "home.kitchen.mugs", _ => "garden" },
                            Price = 9.99,
                            Quantity = 1,
                            Timestamp = Timestamp.FromDateTimeOffset(eventTime.AddMilliseconds(n % 3_000_000)),
                        });
                    }

                    var response = await client.Events.IngestEventsAsync(request, deadline: DateTime.UtcNow.AddMinutes(5), cancellationToken: cancellationToken);
                    Interlocked.Add(ref accepted, response.Accepted);
                }
            }, cancellationToken)));
            var elapsed = stopwatch.Elapsed;
            var loaded = await ReadAsync(host, client, gcdump, "loaded", settings.OutputDirectory, cancellationToken);
            var heapPerUser = (loaded.Heap - seeded.Heap) / (double)users;
            var rssPerUser = (loaded.Rss - seeded.Rss) / (double)users;
            report.Line($"- streamed {N(accepted)} of {N(events)} events ({N(users)} fresh users × {settings.MemoryEventsPerUser}, batches of {N(BatchSize)}) in {elapsed.TotalSeconds:F1} s = **{N(accepted / elapsed.TotalSeconds)} events/s**; load average {Failover.LoadAverage()}.");
            var livePerUser = (loaded.Live - seeded.Live) / (double)users;
            report.Line($"- after: RSS {Mb(loaded.Rss)}, GC heap {Mb(loaded.Heap)}{loaded.HeapNote} (live objects {Mb(loaded.Live)}), {N(loaded.Grains)} live user grains.");
            report.Line($"- **per live user: GC heap {N(heapPerUser)} B, live objects {N(livePerUser)} B, RSS {N(rssPerUser)} B** ((after − before) / {N(users)}).");

            // An empty activation: unknown users, asked once (each activates a grain with an empty profile and stays).
            var emptyRun = Guid.NewGuid().ToString("N")[..8];
            var asked = -1;
            await Task.WhenAll(Enumerable.Range(0, InFlight).Select(_ => Task.Run(async () =>
            {
                int b;
                while ((b = Interlocked.Increment(ref asked)) < EmptyUsers / 100)
                {
                    var request = new BatchGetUserSegmentsRequest();
                    for (var k = 0; k < 100; k++)
                    {
                        request.UserIds.Add($"empty-{emptyRun}-u{(b * 100) + k}");
                    }

                    await client.Segments.BatchGetUserSegmentsAsync(request, deadline: DateTime.UtcNow.AddMinutes(1), cancellationToken: cancellationToken);
                }
            }, cancellationToken)));
            var empty = await ReadAsync(host, client, gcdump, "empty", settings.OutputDirectory, cancellationToken);
            var emptyGrains = Math.Max(1, empty.Grains - loaded.Grains);
            var heapPerEmpty = (empty.Heap - loaded.Heap) / (double)emptyGrains;
            report.Line($"- an empty activation (an unknown user asked once; {N(empty.Grains - loaded.Grains)} more live grains): GC heap {N(heapPerEmpty)} B, live objects {N((empty.Live - loaded.Live) / (double)emptyGrains)} B, RSS {N((empty.Rss - loaded.Rss) / (double)emptyGrains)} B each — Orleans' own per-activation share plus an empty grain.");
            // The types that grew most from seeded to loaded: where the bytes per user go.
            var growth = loaded.AllTypes
                .Select(t => (t.Key, Seeded: seeded.AllTypes.GetValueOrDefault(t.Key), Loaded: t.Value))
                .OrderByDescending(t => t.Loaded.Bytes - t.Seeded.Bytes)
                .Take(25)
                .ToList();
            if (growth.Count > 0)
            {
                report.Line($"\nTypes that grew most with the {N(users)} users (dotnet-gcdump after a full GC; the dumps are in {settings.OutputDirectory}):\n");
                report.Table(
                    ["type", "MB seeded", "MB loaded", "objects added", "B per user"],
                    growth.Select(t => (IReadOnlyList<string>)[t.Key, N(t.Seeded.Bytes / 1e6, 1), N(t.Loaded.Bytes / 1e6, 1), N(t.Loaded.Count - t.Seeded.Count), N((t.Loaded.Bytes - t.Seeded.Bytes) / (double)users)]));
                report.Json["memory_types"] = new JsonArray(growth.Select(t => (JsonNode)new JsonObject
                {
                    ["type"] = t.Key,
                    ["bytes_per_user"] = Math.Round((t.Loaded.Bytes - t.Seeded.Bytes) / (double)users, 1),
                    ["objects_added"] = t.Loaded.Count - t.Seeded.Count,
                }).ToArray());
            }

            report.Json["memory"] = new JsonObject
            {
                ["users"] = users,
                ["events_per_user"] = settings.MemoryEventsPerUser,
                ["events_per_second"] = Math.Round(accepted / elapsed.TotalSeconds),
                ["seeded_rss"] = seeded.Rss,
                ["seeded_gc_heap"] = seeded.Heap,
                ["loaded_rss"] = loaded.Rss,
                ["loaded_gc_heap"] = loaded.Heap,
                ["live_user_grains"] = loaded.Grains,
                ["gc_heap_per_user"] = Math.Round(heapPerUser),
                ["live_bytes_per_user"] = Math.Round(livePerUser),
                ["rss_per_user"] = Math.Round(rssPerUser),
                ["gc_heap_per_empty_activation"] = Math.Round(heapPerEmpty),
                ["heap_after_full_gc"] = gcdump is not null,
            };
            return accepted == events && !host.HasExited;
        }
        finally
        {
            try
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A temp folder.
            }
        }
    }

    private static async Task<Reading> ReadAsync(ServerProcess host, ServiceClients client, string? gcdump, string label, string outputDirectory, CancellationToken cancellationToken)
    {
        var types = new List<(string Type, long Bytes, long Count)>();
        long live = 0;
        if (gcdump is not null)
        {
            // Collecting the dump forces a full blocking GC in the host: the heap size read next is the live heap. The
            // dump and its report stay beside report.md (open the .gcdump in PerfView or Visual Studio for the graph).
            Directory.CreateDirectory(outputDirectory);
            var file = Path.Combine(outputDirectory, $"memory-{label}.gcdump");
            await RunAsync(gcdump, ["collect", "-p", host.Id.ToString(CultureInfo.InvariantCulture), "-o", file], cancellationToken);
            var text = await RunAsync(gcdump, ["report", file], cancellationToken);
            await File.WriteAllTextAsync(Path.ChangeExtension(file, ".txt"), text, cancellationToken);
            types = ParseReport(text);
            var header = text.Split('\n').FirstOrDefault(l => l.Contains("GC Heap bytes", StringComparison.Ordinal));
            _ = long.TryParse(header?.Trim().Split(' ')[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out live);
        }

        var stats = await client.Admin.GetServerStatsAsync(new GetServerStatsRequest(), cancellationToken: cancellationToken);
        var rss = host.Sample()?.ResidentBytes ?? stats.WorkingSetBytes;
        return new Reading(rss, stats.GcHeapBytes, live, stats.ActiveUserGrains, gcdump is null ? " (last GC's, no full GC forced: dotnet-gcdump not found)" : "", types);
    }

    // "dotnet-gcdump report" rows: "  bytes-per-object  count  Type [assembly]", arrays split into size classes by a
    // "(Bytes > 1K)" tag; a type's bytes are the sum over its rows of size × count.
    private static List<(string Type, long Bytes, long Count)> ParseReport(string text)
    {
        var rows = new List<(string, long, long)>();
        foreach (var line in text.Split('\n'))
        {
            var parts = line.Trim().Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3
                && long.TryParse(parts[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var size)
                && long.TryParse(parts[1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var count))
            {
                var type = parts[2].Trim();
                var sizeClass = type.IndexOf(" (Bytes > ", StringComparison.Ordinal);
                var assembly = type.LastIndexOf("  [", StringComparison.Ordinal);
                type = sizeClass > 0 ? type[..sizeClass] : assembly > 0 ? type[..assembly] : type;
                rows.Add((type, size * count, count));
            }
        }

        return rows;
    }

    private static async Task<string> RunAsync(string file, string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        _ = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return await output;
    }

    private static string? FindGcDump()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var candidates = new[] { Path.Combine(home, ".dotnet", "tools", "dotnet-gcdump") }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Where(p => p.Length > 0).Select(p => Path.Combine(p, "dotnet-gcdump")));
        return candidates.FirstOrDefault(File.Exists);
    }

    private static string Mb(long bytes) => N(bytes / 1e6, 1) + " MB";

    // Heap: the host's GC heap size after the last (forced, full) collection, free space within it included; Live: the
    // bytes of the objects the dump found reachable.
    private sealed record Reading(long Rss, long Heap, long Live, int Grains, string HeapNote, List<(string Type, long Bytes, long Count)> Types)
    {
        public Dictionary<string, (long Bytes, long Count)> AllTypes { get; } =
            Types.GroupBy(t => t.Type).ToDictionary(g => g.Key, g => (g.Sum(t => t.Bytes), g.Sum(t => t.Count)));
    }
}
