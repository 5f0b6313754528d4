using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Segmentation.Host.Internal;

/// <summary>
/// The host's own activity source and meter. Spans: <c>log append</c>, <c>fold</c>, <c>embed</c>, <c>assign</c> inside a
/// user grain's ingest turn, so one ingest call reads end to end as gRPC server span → grain call → these.
/// </summary>
/// <remarks>
/// With no listener (telemetry off), <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null and
/// the instruments record nothing: the hot path pays a null check.
/// </remarks>
internal static class SegmentationDiagnostics
{
    /// <summary>Name of the activity source and meter.</summary>
    public const string SourceName = "Segmentation";

    /// <summary>Name of the meter.</summary>
    public const string MeterName = "Segmentation";

    public static readonly ActivitySource Source = new(SourceName);

    private static readonly Meter s_meter = new(MeterName);

    /// <summary>The tag that names the tenant of a measurement (on <see cref="EventsIngested"/>).</summary>
    public const string TenantTag = "segmentation.tenant";

    /// <summary>Events acknowledged as newly stored, tagged with their tenant (<see cref="TenantTag"/>).</summary>
    public static readonly Counter<long> EventsIngested = s_meter.CreateCounter<long>(
        "segmentation.events.ingested", "{event}", "Events acknowledged as newly stored (durable).");

    /// <summary>Events acknowledged as duplicates of stored ones (same event id).</summary>
    public static readonly Counter<long> EventsDuplicate = s_meter.CreateCounter<long>(
        "segmentation.events.duplicate", "{event}", "Events whose event id was already stored.");

    /// <summary>Events rejected by validation.</summary>
    public static readonly Counter<long> EventsRejected = s_meter.CreateCounter<long>(
        "segmentation.events.rejected", "{event}", "Events rejected by validation, by field.");

    /// <summary>Events per ingest request.</summary>
    public static readonly Histogram<int> BatchSize = s_meter.CreateHistogram<int>(
        "segmentation.ingest.batch_size", "{event}", "Events per ingest request.");

    /// <summary>
    /// User embeddings this process's encoder computed, tagged <c>silo</c> with its silo address: in a cluster, only the
    /// inference silos count any (DESIGN.md section 2).
    /// </summary>
    public static readonly Counter<long> EmbeddingsComputed = s_meter.CreateCounter<long>(
        "segmentation.embeddings.computed", "{embedding}", "User embeddings computed by this silo's encoder.");

    /// <summary>Segmentation model versions published.</summary>
    public static readonly Counter<long> SegmentPublications = s_meter.CreateCounter<long>(
        "segmentation.segments.publications", "{version}", "Segmentation model versions published.");

    /// <summary>Recommender changes a silo sent to another silo's replica (counted once per receiving silo).</summary>
    public static readonly Counter<long> RecommenderChangesReplicated = s_meter.CreateCounter<long>(
        "segmentation.recommenders.changes_replicated", "{change}", "Recommender changes sent to other silos' replicas.");

    /// <summary>Batches of recommender changes another silo did not take.</summary>
    public static readonly Counter<long> RecommenderReplicationFailures = s_meter.CreateCounter<long>(
        "segmentation.recommenders.replication_failures", "{batch}", "Batches of recommender changes another silo did not take.");

    /// <summary>Profiles folded again from the log because a late event came (see UserGrain.RefoldAsync).</summary>
    public static readonly Counter<long> ProfileRefolds = s_meter.CreateCounter<long>(
        "segmentation.profiles.refolds", "{refold}", "Profiles folded again in event-time order because a late event came.");

    /// <summary>Events folded again by those re-folds.</summary>
    public static readonly Counter<long> ProfileRefoldedEvents = s_meter.CreateCounter<long>(
        "segmentation.profiles.refolded_events", "{event}", "Events folded again by re-folds for late events.");

    private static long s_refolds;
    private static long s_refoldedEvents;

    /// <summary>Re-folds and events re-folded by this process since it started (for benchmarks and tests).</summary>
    public static (long Refolds, long Events) Refolds => (Interlocked.Read(ref s_refolds), Interlocked.Read(ref s_refoldedEvents));

    /// <summary>Counts one re-fold of <paramref name="events"/> events.</summary>
    public static void CountRefold(int events)
    {
        Interlocked.Increment(ref s_refolds);
        Interlocked.Add(ref s_refoldedEvents, events);
        ProfileRefolds.Add(1);
        ProfileRefoldedEvents.Add(events);
    }
}
