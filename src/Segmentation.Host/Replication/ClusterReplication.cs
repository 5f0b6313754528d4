using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Internal;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Replication;

/// <summary>
/// Keeps what each silo of a cluster holds in memory the same cluster-wide (DESIGN.md section 2), through the other
/// silos' <see cref="ISiloPeerGrain"/>s:
/// <list type="bullet">
/// <item>Recommenders: each silo is a full replica. The changes this silo's user grains make to its
/// <see cref="LiveRecommender"/> (events observed, users activated and deactivated) are recorded in its
/// <see cref="RecommenderOutbox"/> and every <see cref="Interval"/> sent, in order, to every other active silo.</item>
/// <item>The segmentation model in force and the rule segments: stored once (snapshot store, ETag-fenced); the silo that
/// stored a new version tells the others, which load it, before its call returns.</item>
/// <item>ML segment statistics: one <c>SegmentGrain</c> per segment for the cluster, fed by every silo's flushes of its
/// users' moves; a read flushes every silo first, and a segment grain that activates again gathers every silo's
/// counted members.</item>
/// <item>Business metrics per segment: each silo keeps the users it refreshed, per tenant (<see cref="CustomerIndex"/>);
/// a tenant's read gathers every silo's users of that tenant.</item>
/// <item>Segment membership changes: relayed every <see cref="Interval"/> to the silos that have watchers
/// (<see cref="SegmentChangeRelay"/>), so a watcher connected to any silo or gateway sees every silo's users.</item>
/// </list>
/// A silo that joins loads all of them at start (recommenders rebuilt from the event log) and receives the others'
/// changes from then on.
/// </summary>
/// <remarks>
/// Why replicas rather than sharded grains for the recommenders: a <c>Recommend</c> reads co-occurrence neighbours of
/// up to a hundred items and popularity in two or three segments; sharded, that is several remote grain calls per
/// request, while a replica answers from memory and pays for each event once per silo (one
/// <see cref="LiveRecommender.Apply"/>). Measured by <c>bench/run.sh bench-replicas</c>: about 6 µs per event per peer
/// against a median of 25 remote calls per sharded <c>Recommend</c>. A batch a peer failed to take (it died, or the call timed out) is not sent
/// again: a silo that died rebuilds from the log when it comes back; failures are counted
/// (<c>segmentation.recommenders.replication_failures</c>) and logged.
/// </remarks>
internal sealed partial class ClusterReplication : BackgroundService
{
    private readonly SiloPeers _peers;
    private readonly ILogger _logger;
    private readonly RecommenderOutbox _outbox = new();
    private readonly SegmentChangeFeed _changes;
    private readonly SegmentChangeRelay _relay;
    private readonly TimeProvider _time;
    private DateTimeOffset _announcedWatching = DateTimeOffset.MinValue;

    public ClusterReplication(SiloPeers peers, TenantRecommenders recommenders, TenantSegmentations segmentations, CustomerIndex customers, TenantRules rules, UserEmbeddings embeddings,
        SegmentChangeFeed changes, SegmentChangeRelay relay, TimeProvider time, TimeSpan interval, ILogger<ClusterReplication> logger)
    {
        _peers = peers;
        _logger = logger;
        _changes = changes;
        _relay = relay;
        _time = time;
        Interval = interval;
        changes.Forward = relay.Record;
        changes.WatchingChanged = watching => _ = AnnounceWatchingAsync(watching);
        // Recorded from the start, before the silo joins: a peer that is already up must receive every change this
        // silo makes once it serves.
        recommenders.Outbox = _outbox;
        rules.Changed = () => TellAsync("rule segments", peer => peer.ReloadRuleSegmentsAsync());
        // A user encoder version served by this (inference) silo: the others ask for it at their next embedding.
        embeddings.ServingAnnounced = () => TellAsync("user encoder", peer => peer.UserEncoderChangedAsync());
        // Every tenant's segmentation: a published version is loaded by every silo; ML segment statistics: one segment
        // grain per segment in the cluster, fed by every silo's flushes.
        segmentations.ConfigureEach(ml =>
        {
            ml.Published = () => TellAsync("segmentation model", peer => peer.ReloadSegmentationModelAsync());
            ml.FlushPeers = () => TellAsync("segment moves to flush", peer => peer.FlushSegmentMovesAsync());
            ml.PeerCountedMembers = async segmentId =>
            {
                var members = new List<SegmentJoin>();
                foreach (var silo in _peers.Others())
                {
                    try
                    {
                        members.AddRange(await _peers.Of(silo).GetCountedMembersAsync(ml.Tenant, segmentId));
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        // Its users come back into the segment's sums as they are assigned again.
                        LogTellFailed(_logger, "segment members", silo.ToString(), ex);
                    }
                }

                return members;
            };
        });
        // Business metrics per segment: every silo's users of the tenant read, gathered at each read.
        customers.PeerEntries = async tenant =>
        {
            var entries = new List<CustomerEntry>();
            foreach (var silo in _peers.Others())
            {
                try
                {
                    entries.AddRange(await _peers.Of(silo).GetCustomerEntriesAsync(tenant));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Its users are missing from this read's metrics; the next read asks again.
                    LogTellFailed(_logger, "customer entries", silo.ToString(), ex);
                }
            }

            return entries;
        };
    }

    /// <summary>How often recommender changes are sent (<c>Segmentation:Recommendations:ReplicationInterval</c>).</summary>
    public TimeSpan Interval { get; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SendRecommenderChangesAsync();
                await RelaySegmentChangesAsync();
                if (_changes.WatcherCount > 0 && _time.GetUtcNow() - _announcedWatching >= SegmentChangeRelay.AnnounceEvery)
                {
                    await AnnounceWatchingAsync(true);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // What this silo's grains recorded while they deactivated goes out before the silo leaves.
        await SendRecommenderChangesAsync();
    }

    /// <summary>Sends what was recorded since the last send to every other active silo, waiting until each took it.</summary>
    internal async Task SendRecommenderChangesAsync()
    {
        var changes = _outbox.Drain();
        if (changes.Length == 0)
        {
            return;
        }

        var failed = await _peers.BroadcastAsync(peer => peer.ApplyRecommenderChangesAsync(changes));
        SegmentationDiagnostics.RecommenderChangesReplicated.Add(changes.Length);
        foreach (var (silo, error) in failed)
        {
            SegmentationDiagnostics.RecommenderReplicationFailures.Add(1);
            LogSendFailed(_logger, changes.Length, silo.ToString(), error);
        }
    }

    /// <summary>Sends the membership changes recorded since the last send to the active silos that have watchers.</summary>
    internal async Task RelaySegmentChangesAsync()
    {
        var (silos, changes) = _relay.Drain();
        if (changes.Length == 0)
        {
            return;
        }

        // A silo whose announcement still holds but that left the cluster is not called (the call would wait for a timeout).
        var active = _peers.Others().Select(SiloBoundPlacement.KeyOf).ToHashSet(StringComparer.Ordinal);
        var calls = silos.Where(active.Contains).Select(silo => (Silo: silo, Call: _peers.Of(silo).DeliverSegmentChangesAsync(changes))).ToList();
        foreach (var (silo, pending) in calls)
        {
            try
            {
                await pending;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Its watchers miss these changes; they learn of the gap only by re-reading, as after an overflow.
                LogTellFailed(_logger, "segment changes", silo, ex);
            }
        }
    }

    // Tells every other silo that this one has watchers (or no longer has), so that they relay their users' changes here.
    private async Task AnnounceWatchingAsync(bool watching)
    {
        if (watching)
        {
            _announcedWatching = _time.GetUtcNow();
        }

        try
        {
            var self = _peers.SelfKey;
            await TellAsync("watchers of segment changes", peer => peer.SegmentWatchersChangedAsync(self, watching));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The next announcement (every SegmentChangeRelay.AnnounceEvery while there are watchers) tries again.
            LogTellFailed(_logger, "watchers of segment changes", "every", ex);
        }
    }

    private async Task TellAsync(string what, Func<ISiloPeerGrain, Task> call)
    {
        foreach (var (silo, error) in await _peers.BroadcastAsync(call))
        {
            LogTellFailed(_logger, what, silo.ToString(), error);
        }
    }

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "{Changes} recommender changes could not be sent to silo {Silo}")]
    private static partial void LogSendFailed(ILogger logger, int changes, string silo, Exception exception);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Silo {Silo} could not be told of new {What}; it loads them at its next start")]
    private static partial void LogTellFailed(ILogger logger, string what, string silo, Exception exception);
}
