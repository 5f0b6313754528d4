using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Serialization;
using Segmentation.Contracts.V1;
using Segmentation.Grains;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Seeding;

namespace Segmentation.Bench.Commands;

/// <summary>
/// <c>segbench bench-replicas</c>: what keeping the recommenders cluster-wide costs, per-silo replicas (what the cluster
/// does, <c>Replication/ClusterReplication</c>) against item-sharded grains (the alternative), measured on the synthetic
/// shop in this process:
/// <list type="bullet">
/// <item>replicas pay per event on every other silo: the change's serialization (Orleans' serializer, batches as sent
/// every 100 ms) and <see cref="LiveRecommender.Apply"/> on a replica built from the same changes, and answer
/// <c>Recommend</c> from memory (timed here in-process);</item>
/// <item>sharded grains pay per <c>Recommend</c>: one remote call per item shard that holds a row of her history's
/// co-occurrence neighbours, plus the popularity of her segments; the shards each user touches are counted from the
/// users' real histories, and a remote call's cost is the grain hop <c>bench/run.sh --only cluster</c> measures
/// (<c>--hop-cpu-us</c>, <c>--hop-ms</c>).</item>
/// </list>
/// Prints both costs and the calls-per-event ratio at which they break even. Numbers, not thresholds.
/// </summary>
internal static class ReplicaBenchCommand
{
    public static Command Create()
    {
        var users = new Option<int>("--users") { Description = "Seeded shop users.", DefaultValueFactory = _ => 10_000 };
        var silos = new Option<int>("--silos") { Description = "Silos in the cluster compared.", DefaultValueFactory = _ => 3 };
        var shards = new Option<int>("--shards") { Description = "Item shard grains of the sharded alternative.", DefaultValueFactory = _ => 256 };
        var hopCpu = new Option<double>("--hop-cpu-us") { Description = "Server CPU of one remote grain call, µs (bench/run.sh --only cluster).", DefaultValueFactory = _ => 193 };
        var hopMs = new Option<double>("--hop-ms") { Description = "Latency of one remote grain call, ms (bench/run.sh --only cluster).", DefaultValueFactory = _ => 0.65 };
        var command = new Command("bench-replicas", "Cost of replicated recommenders (per event) against item-sharded grains (per Recommend).")
        {
            users, silos, shards, hopCpu, hopMs,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await RunAsync(parse.GetValue(users), parse.GetValue(silos), parse.GetValue(shards), parse.GetValue(hopCpu), parse.GetValue(hopMs), cancellationToken);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int userCount, int silos, int shards, double hopCpuMicros, double hopMillis, CancellationToken cancellationToken)
    {
        await using var temporary = await TemporaryServer.StartAsync("seg-bench-replicas-", ["--Segmentation:SqliteSynchronous=NORMAL"], cancellationToken);
        var server = temporary.Server;
        var recommender = server.Services.GetRequiredService<LiveRecommender>();
        var options = server.Options.Recommendations;
        // Every change the shop's users make to the recommenders, as a silo records them for its peers.
        var outbox = new RecommenderOutbox();
        recommender.Outbox = outbox;
        var seeded = await ShopSeeder.SeedIfEmptyAsync(server, userCount, NullLogger.Instance, cancellationToken);
        recommender.Outbox = null;
        var changes = outbox.Drain();
        var observed = changes.Count(c => c.Kind == RecommenderChangeKind.Observed);
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {Scenarios.Failover.LoadAverage()}; seeded {seeded!.Events:N0} events of {userCount:N0} users: {changes.Length:N0} recommender changes ({observed:N0} observed events)");

        // Replica, write side: serialization of the batches sent and Apply on a fresh replica, best of three.
        var serializer = server.Services.GetRequiredService<Serializer>();
        const int batch = 1_000;
        long bytes = 0;
        var serialize = double.MaxValue;
        var apply = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            bytes = 0;
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < changes.Length; i += batch)
            {
                var payload = serializer.SerializeToArray(changes[i..Math.Min(i + batch, changes.Length)]);
                bytes += payload.Length;
                _ = serializer.Deserialize<RecommenderChange[]>(payload);
            }

            serialize = Math.Min(serialize, watch.Elapsed.TotalMicroseconds / changes.Length);
            var replica = new LiveRecommender(options);
            watch.Restart();
            replica.Apply(changes);
            apply = Math.Min(apply, watch.Elapsed.TotalMicroseconds / changes.Length);
        }

        // What each replica holds: the heap a replica built from every change keeps.
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var held = new LiveRecommender(options);
        held.Apply(changes);
        var replicaBytes = GC.GetTotalMemory(forceFullCollection: true) - before;
        GC.KeepAlive(held);

        var perEventPerPeer = (serialize + apply) * changes.Length / observed;
        var replicaPerEvent = perEventPerPeer * (silos - 1);

        // Replica, read side: Recommend answered from this silo's memory (the user's grain call included).
        var sample = Math.Min(userCount, 2_000);
        var requests = Enumerable.Range(0, sample).Select(i => new RecommendRequest { UserId = SyntheticShop.UserId(i), Count = 10 }).ToArray();
        foreach (var request in requests)
        {
            await server.Recommendations.RecommendAsync(request, cancellationToken);
        }

        var read = Stopwatch.StartNew();
        foreach (var request in requests)
        {
            await server.Recommendations.RecommendAsync(request, cancellationToken);
        }

        var replicaRecommendMicros = read.Elapsed.TotalMicroseconds / sample;

        // Sharded, read side: the item shards her history reaches (at most MaxItemsPerUser items, each item's row on
        // the shard its id hashes to) and her popularity keys (ML segment, lifecycle stage, everyone).
        var histories = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var change in changes)
        {
            if (change.Kind == RecommenderChangeKind.Observed && change.ItemId.Length > 0)
            {
                if (!histories.TryGetValue(change.UserId, out var items))
                {
                    histories[change.UserId] = items = new HashSet<string>(StringComparer.Ordinal);
                }

                if (items.Count < options.MaxItemsPerUser)
                {
                    items.Add(change.ItemId);
                }
            }
        }

        var touched = histories.Values.Select(items => items.Select(id => (uint)StringComparer.Ordinal.GetHashCode(id) % (uint)shards).Distinct().Count() + 3).Order().ToArray();
        var meanCalls = touched.Average();
        var shardedCpu = meanCalls * hopCpuMicros;

        Console.WriteLine($"replicas ({silos} silos): per event, on each of the {silos - 1} other silos: serialize+deserialize {serialize * changes.Length / observed:F2} µs + apply {apply * changes.Length / observed:F2} µs; {(double)bytes / observed:F0} bytes sent per event per peer");
        Console.WriteLine($"replicas: {replicaPerEvent:F2} µs CPU per event cluster-wide; Recommend from memory {replicaRecommendMicros:F1} µs in-process (no remote call); each replica holds {replicaBytes / 1048576.0:F1} MiB for this shop ({silos - 1} extra copies)");
        Console.WriteLine($"sharded ({shards} item shards): remote calls per Recommend median {touched[touched.Length / 2]}, p90 {touched[touched.Length * 9 / 10]}, mean {meanCalls:F1} over {touched.Length:N0} users; at {hopCpuMicros:F0} µs CPU and {hopMillis:F2} ms per remote call: {shardedCpu:F0} µs CPU per Recommend (calls in parallel: at least {hopMillis:F2} ms added latency)");
        Console.WriteLine($"break-even: replicas cost less CPU while Recommend calls per ingested event exceed {replicaPerEvent / shardedCpu:F4} (one Recommend per {shardedCpu / replicaPerEvent:F0} events)");
    }
}
