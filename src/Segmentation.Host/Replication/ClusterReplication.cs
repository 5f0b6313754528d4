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
/// </list>
/// A silo that joins loads all of them at start (recommenders rebuilt from the event log) and receives the others'
/// changes from then on.
/// </summary>
/// <remarks>
/// Why replicas rather than sharded grains for the recommenders: a <c>Recommend</c> reads co-occurrence neighbours of
/// up to a hundred items and popularity in two or three segments; sharded, that is several remote grain calls per
/// request, while a replica answers from memory and pays for each event once per silo (one
/// <see cref="LiveRecommender.Apply"/>). A batch a peer failed to take (it died, or the call timed out) is not sent
/// again: a silo that died rebuilds from the log when it comes back; failures are counted
/// (<c>segmentation.recommenders.replication_failures</c>) and logged.
/// </remarks>
internal sealed partial class ClusterReplication : BackgroundService
{
    private readonly SiloPeers _peers;
    private readonly ILogger _logger;
    private readonly RecommenderOutbox _outbox = new();

    public ClusterReplication(SiloPeers peers, LiveRecommender recommender, MlSegmentation ml, RuleSegmentCatalog rules, UserEmbeddings embeddings, TimeSpan interval, ILogger<ClusterReplication> logger)
    {
        _peers = peers;
        _logger = logger;
        Interval = interval;
        // Recorded from the start, before the silo joins: a peer that is already up must receive every change this
        // silo makes once it serves.
        recommender.Outbox = _outbox;
        ml.Published = () => TellAsync("segmentation model", peer => peer.ReloadSegmentationModelAsync());
        rules.Changed = () => TellAsync("rule segments", peer => peer.ReloadRuleSegmentsAsync());
        // A user encoder version served by this (inference) silo: the others ask for it at their next embedding.
        embeddings.ServingAnnounced = () => TellAsync("user encoder", peer => peer.UserEncoderChangedAsync());
        // ML segment statistics: one segment grain per segment in the cluster, fed by every silo's flushes.
        ml.FlushPeers = () => TellAsync("segment moves to flush", peer => peer.FlushSegmentMovesAsync());
        ml.PeerCountedMembers = async segmentId =>
        {
            var members = new List<SegmentJoin>();
            foreach (var silo in _peers.Others())
            {
                try
                {
                    members.AddRange(await _peers.Of(silo).GetCountedMembersAsync(segmentId));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Its users come back into the segment's sums as they are assigned again.
                    LogTellFailed(_logger, "segment members", silo.ToString(), ex);
                }
            }

            return members;
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
