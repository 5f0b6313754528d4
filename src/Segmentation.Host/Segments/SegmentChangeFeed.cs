using System.Threading.Channels;
using Segmentation.Core.Errors;
using Segmentation.Grains;

namespace Segmentation.Host.Segments;

/// <summary>A user entered or left a segment ("lifecycle:active", "rule:big-spenders").</summary>
/// <param name="UserId">The user.</param>
/// <param name="SegmentId">The segment, kind-prefixed.</param>
/// <param name="Entered">True when she entered it, false when she left.</param>
/// <param name="At">The domain time of the change (event time of the event that caused it).</param>
/// <param name="Reason">Why, in a few words (the rule's deciding comparisons, the lifecycle explanation).</param>
/// <param name="Tenant">Her tenant: a watcher sees its own tenant's users only.</param>
internal sealed record MembershipChange(string UserId, string SegmentId, bool Entered, DateTimeOffset At, string Reason, string Tenant = TenantKeys.DefaultTenant);

/// <summary>
/// Fans membership changes out to watchers (<c>WatchUserSegments</c>, <c>WatchSegmentChanges</c>). Publishing never
/// blocks the grain that publishes: each watcher has a bounded queue, and a watcher that falls a full queue behind is
/// ended with RESOURCE_EXHAUSTED (it must reconnect and re-read the state) instead of holding memory or slowing ingest.
/// Thread-safe: watchers come and go while changes are published (copy-on-write list).
/// </summary>
// In a cluster, ClusterReplication relays this silo's changes to the silos that have watchers (Forward) and hands the
// changes relayed by others to this silo's watchers (Deliver), so a watcher sees every silo's users.
internal sealed class SegmentChangeFeed
{
    /// <summary>Changes one watcher may have queued before it is ended.</summary>
    public const int WatcherCapacity = 10_000;

    private readonly Lock _gate = new();
    private Watcher[] _watchers = [];
    private bool _closed;

    /// <summary>Watchers now.</summary>
    public int WatcherCount => Volatile.Read(ref _watchers).Length;

    /// <summary>
    /// Where a change made by this silo's users also goes (the other silos' watchers, in a cluster); null on one silo.
    /// Called on the publishing grain's turn: it must not block.
    /// </summary>
    public Action<MembershipChange>? Forward { get; set; }

    /// <summary>
    /// Told, outside any lock, when this silo's first watcher arrives (true) and its last one leaves (false), so that in
    /// a cluster the other silos start or stop relaying their changes here.
    /// </summary>
    public Action<bool>? WatchingChanged { get; set; }

    /// <summary>Hands a change made by this silo's users to every watcher whose filter takes it, here and (in a cluster) elsewhere.</summary>
    public void Publish(MembershipChange change)
    {
        Deliver(change);
        Forward?.Invoke(change);
    }

    /// <summary>Hands <paramref name="change"/> to this silo's watchers whose filter takes it (and nowhere else).</summary>
    public void Deliver(MembershipChange change)
    {
        foreach (var watcher in Volatile.Read(ref _watchers))
        {
            if (watcher.Filter(change) && !watcher.Queue.Writer.TryWrite(change))
            {
                watcher.Queue.Writer.TryComplete(new CapacityExceededException($"watch fell {WatcherCapacity:N0} changes behind and was ended; reconnect and re-read the current segments"));
            }
        }
    }

    /// <summary>
    /// Streams the changes <paramref name="filter"/> takes until the call ends, the watcher overflows or the feed closes;
    /// <paramref name="userId"/>: the one user it watches, if so (<see cref="EndWatchesOf"/>).
    /// </summary>
    public async IAsyncEnumerable<MembershipChange> WatchAsync(Func<MembershipChange, bool> filter, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken, string? userId = null)
    {
        bool first;
        var watcher = new Watcher(filter, userId, Channel.CreateBounded<MembershipChange>(new BoundedChannelOptions(WatcherCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of blocking the publisher
            SingleReader = true,
        }));
        lock (_gate)
        {
            if (_closed)
            {
                throw new ServiceUnavailableException("server is shutting down");
            }

            _watchers = [.. _watchers, watcher];
            first = _watchers.Length == 1;
        }

        if (first)
        {
            WatchingChanged?.Invoke(true);
        }

        // The read is never cancelled itself: a cancelled wait on a bounded channel can race a writer's hand-off on this
        // runtime (dotnet/runtime#132094, fixed by #132230 after 10.0.12), and the writer here is a grain's publication.
        // The call's end completes the queue instead, which the read sees as its end.
        var registration = cancellationToken.UnsafeRegister(static state => ((Channel<MembershipChange>)state!).Writer.TryComplete(), watcher.Queue);
        try
        {
            await foreach (var change in watcher.Queue.Reader.ReadAllAsync(CancellationToken.None))
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return change;
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            registration.Dispose();
            bool last;
            lock (_gate)
            {
                _watchers = [.. _watchers.Where(w => w != watcher)];
                last = _watchers.Length == 0;
            }

            if (last)
            {
                WatchingChanged?.Invoke(false);
            }
        }
    }

    /// <summary>Ends the watches of one user's segments with NOT_FOUND (she was erased); returns how many there were.</summary>
    /// <param name="userId">Her tenant user key (<see cref="TenantKeys.User"/>), as the watch was opened with.</param>
    public int EndWatchesOf(string userId)
    {
        var ended = 0;
        foreach (var watcher in Volatile.Read(ref _watchers))
        {
            if (watcher.UserId == userId && watcher.Queue.Writer.TryComplete(new NotFoundException("user_id: the user was erased")))
            {
                ended++;
            }
        }

        return ended;
    }

    /// <summary>Ends every watch with UNAVAILABLE (shutdown) and refuses new ones.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            foreach (var watcher in _watchers)
            {
                watcher.Queue.Writer.TryComplete(new ServiceUnavailableException("server is shutting down; reconnect to another instance"));
            }
        }
    }

    private sealed record Watcher(Func<MembershipChange, bool> Filter, string? UserId, Channel<MembershipChange> Queue);
}
