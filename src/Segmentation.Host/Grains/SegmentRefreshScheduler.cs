using Microsoft.Extensions.Hosting;
using Segmentation.Grains;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Grains;

/// <summary>
/// The silo's one clock for the deferred segment refreshes of its user grains: a grain that starts owing a refresh
/// queues a <see cref="SegmentRefreshScheduler.Entry"/>, and one loop calls <see cref="IUserGrain.RefreshDueAsync"/> on
/// it once <see cref="SegmentOptions.RefreshDelay"/> has passed — instead of a grain timer per refresh, whose creation
/// and disposal (timer queue locks, the activation's timer list) cost more than the call. A grain that owes nothing
/// has no entry, so an idle user carries no timer.
/// </summary>
/// <remarks>
/// <para>Thread-safe: grains queue from any thread; one loop dequeues. Every entry waits the same delay, so the queue's
/// order is due order and the loop only ever looks at its head.</para>
/// <para>An entry cancelled before it is due (a query or the deactivation refreshed first) is dropped unread; one
/// cancelled after its call was sent finds nothing owed in the grain. The loop stops at
/// <see cref="IHostApplicationLifetime.ApplicationStopping"/>: refreshes still owed then are not run (the silo's
/// shutdown deactivates without refreshing; the start-up sweep rebuilds derived state).</para>
/// </remarks>
// Schedules this process's user grains; each silo of a cluster runs its own.
internal sealed class SegmentRefreshScheduler : BackgroundService
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<Entry> _queue = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly long _delay;

    // 1 while the loop waits for an entry on _wake: the first producer after it releases _wake once.
    private int _sleeping;

    public SegmentRefreshScheduler(SegmentationOptions options, IHostApplicationLifetime lifetime)
        : this(options.Segments.RefreshDelay, TimeProvider.System, lifetime)
    {
    }

    internal SegmentRefreshScheduler(TimeSpan delay, TimeProvider time, IHostApplicationLifetime lifetime)
    {
        _time = time;
        _lifetime = lifetime;
        _delay = (long)(Math.Max(0, delay.TotalSeconds) * time.TimestampFrequency);
    }

    /// <summary>Refreshes queued and not yet called (cancelled ones included until the loop reaches them).</summary>
    public int Queued => _queue.Count;

    /// <summary>Now, on the scheduler's clock (what <see cref="RefreshesInTurn"/> compares).</summary>
    public long Timestamp() => _time.GetTimestamp();

    /// <summary>
    /// Whether a grain that has just folded new events refreshes in the same turn instead of queuing a refresh: when it
    /// owes none and its last refresh ran at least the delay ago (<paramref name="lastRefresh"/>, a <see cref="Timestamp"/>;
    /// 0: never), or when the one it owes (<paramref name="owed"/>) is due. So an ingest costs its user one grain call,
    /// and a burst of ingests one refresh per delay.
    /// </summary>
    public bool RefreshesInTurn(Entry? owed, long lastRefresh)
    {
        var now = _time.GetTimestamp();
        return owed is null ? lastRefresh == 0 || now - lastRefresh >= _delay : now >= owed.DueAt;
    }

    /// <summary>Calls <paramref name="entry"/>'s grain once the delay has passed from now, unless it is cancelled first.</summary>
    public void Schedule(Entry entry)
    {
        entry.DueAt = _time.GetTimestamp() + _delay;
        _queue.Enqueue(entry);
        // Enqueue before the exchange, and the loop's IsEmpty check after its own: one of the two sees the other, so an
        // entry never waits on a sleeping loop.
        if (Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            _wake.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _lifetime.ApplicationStopping);
        var cancellationToken = stopping.Token;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!_queue.TryPeek(out var head))
                {
                    Interlocked.Exchange(ref _sleeping, 1);
                    if (_queue.IsEmpty)
                    {
                        await _wake.WaitAsync(cancellationToken);
                    }

                    Volatile.Write(ref _sleeping, 0);
                    continue;
                }

                var wait = head.DueAt - _time.GetTimestamp();
                if (wait > 0)
                {
                    // Everything behind the head is due later still.
                    await Task.Delay(TimeSpan.FromSeconds((double)wait / _time.TimestampFrequency), _time, cancellationToken);
                    continue;
                }

                _queue.TryDequeue(out _);
                if (!head.Cancelled)
                {
                    // One-way: the grain runs the refresh in its own turn and queues itself again when it fails.
                    _ = head.Grain.RefreshDueAsync();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    /// <summary>A refresh owed by <see cref="Grain"/>: queued by <see cref="Schedule"/>, skipped once <see cref="Cancelled"/>.</summary>
    internal class Entry(IUserGrain grain)
    {
        public IUserGrain Grain { get; } = grain;

        /// <summary>When it is due (a <see cref="TimeProvider.GetTimestamp"/> value).</summary>
        public long DueAt { get; set; }

        /// <summary>Set by the grain when the refresh ran otherwise or is no longer owed.</summary>
        public bool Cancelled
        {
            get => Volatile.Read(ref _cancelled);
            set => Volatile.Write(ref _cancelled, value);
        }

        private bool _cancelled;
    }
}
