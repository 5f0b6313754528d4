using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Host.Recommendations;

namespace Segmentation.Host.Replication;

/// <summary>
/// Keeps every silo's recommenders cluster-wide (DESIGN.md section 8): each silo is a full replica. The changes this
/// silo's user grains make to its <see cref="LiveRecommender"/> (events observed, users activated and deactivated) are
/// recorded in its <see cref="RecommenderOutbox"/>, and every <see cref="Interval"/> sent, in order, to the
/// <see cref="IRecommenderReplicaGrain"/> of every other active silo, which makes them there. A silo that joins rebuilds
/// its recommenders from the event log at start, like a single silo, and receives the others' changes from then on.
/// </summary>
/// <remarks>
/// Why replicas rather than sharded grains: a <c>Recommend</c> reads co-occurrence neighbours of up to a hundred
/// items and popularity in two or three segments; sharded, that is several remote grain calls per request, while a
/// replica answers from memory and pays for each event once per silo (one <see cref="LiveRecommender.Apply"/>), which
/// is cheap next to the grain call, log append and refresh the event already costs on its own silo.
/// A batch a peer failed to take (it died, or the call timed out) is not sent again: a silo that died rebuilds from the
/// log when it comes back; the failures are counted (<c>segmentation.recommenders.replication_failures</c>).
/// </remarks>
internal sealed partial class RecommenderReplication : BackgroundService
{
    private readonly LiveRecommender _recommender;
    private readonly IClusterMembershipService _membership;
    private readonly ILocalSiloDetails _local;
    private readonly IGrainFactory _grains;
    private readonly ILogger _logger;
    private readonly RecommenderOutbox _outbox = new();

    public RecommenderReplication(LiveRecommender recommender, IClusterMembershipService membership, ILocalSiloDetails local, IGrainFactory grains, TimeSpan interval, ILogger<RecommenderReplication> logger)
    {
        _recommender = recommender;
        _membership = membership;
        _local = local;
        _grains = grains;
        _logger = logger;
        Interval = interval;
        // Recorded from the start, before the silo joins: a peer that is already up must receive every change this
        // silo makes once it serves.
        _recommender.Outbox = _outbox;
    }

    /// <summary>How often the changes are sent (<c>Segmentation:Recommendations:ReplicationInterval</c>).</summary>
    public TimeSpan Interval { get; }

    /// <summary>Changes sent to peers (each change counted once per peer that took it).</summary>
    public long ChangesSent => Interlocked.Read(ref _changesSent);

    private long _changesSent;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SendAsync();
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
        await SendAsync();
    }

    /// <summary>Sends what was recorded since the last send to every other active silo, waiting until each took it.</summary>
    internal async Task SendAsync()
    {
        var changes = _outbox.Drain();
        if (changes.Length == 0)
        {
            return;
        }

        var self = _local.SiloAddress;
        var sends = new List<(SiloAddress Silo, Task Call)>();
        foreach (var (silo, member) in _membership.CurrentSnapshot.Members)
        {
            if (member.Status == SiloStatus.Active && !silo.Equals(self))
            {
                sends.Add((silo, _grains.GetGrain<IRecommenderReplicaGrain>(SiloBoundPlacement.KeyOf(silo)).ApplyAsync(changes)));
            }
        }

        foreach (var (silo, call) in sends)
        {
            try
            {
                await call;
                Interlocked.Add(ref _changesSent, changes.Length);
                SegmentationDiagnostics.RecommenderChangesReplicated.Add(changes.Length);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                SegmentationDiagnostics.RecommenderReplicationFailures.Add(1);
                LogSendFailed(_logger, changes.Length, silo.ToString(), ex);
            }
        }
    }

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "{Changes} recommender changes could not be sent to silo {Silo}")]
    private static partial void LogSendFailed(ILogger logger, int changes, string silo, Exception exception);
}
