using Microsoft.Extensions.Logging;
using Segmentation.Storage;

namespace Segmentation.Grains.Internal;

/// <summary>
/// One live grain: a queue of turns drained by at most one thread-pool loop at a time.
/// </summary>
/// <remarks>
/// State machine, guarded by <c>_gate</c> (held only for a few instructions; never while grain code runs):
/// Active (accepting calls) → Deactivating (refusing calls; the last turn, OnDeactivateAsync, runs) → Deactivated
/// (removed from the catalog; <see cref="Deactivated"/> completes). A caller refused by a deactivating activation
/// waits for <see cref="Deactivated"/> and retries, so it lands on a fresh activation that starts only after the old
/// one wrote its state. Turns still queued when deactivation starts are redispatched the same way, in order.
/// </remarks>
internal sealed class Activation
{
    private readonly object _gate = new();
    private readonly Queue<WorkItem> _queue = new();
    private readonly Func<string, Grain> _activator;
    private readonly TaskCompletionSource _deactivated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<GrainTimer> _timers = [];
    private Grain? _grain;
    private bool _running;
    private bool _deactivating;
    private DeactivationReason? _requested;

    public Activation(GrainRuntime runtime, Type grainType, string key, Func<string, Grain> activator)
    {
        Runtime = runtime;
        GrainType = grainType;
        Key = key;
        _activator = activator;
        LastUsedTicks = runtime.TimeProvider.GetUtcNow().UtcTicks;
    }

    public GrainRuntime Runtime { get; }

    public Type GrainType { get; }

    public string Key { get; }

    /// <summary>When the last turn started (UTC ticks of the runtime's clock).</summary>
    public long LastUsedTicks { get; private set; }

    /// <summary>Completes when the activation is gone and its state written.</summary>
    public Task Deactivated => _deactivated.Task;

    /// <summary>Whether deactivation has started (the activation no longer takes calls).</summary>
    public bool IsDeactivating
    {
        get
        {
            lock (_gate)
            {
                return _deactivating;
            }
        }
    }

    /// <summary>Whether no turn is queued or running.</summary>
    public bool IsIdle
    {
        get
        {
            lock (_gate)
            {
                return !_running && _queue.Count == 0 && !_deactivating;
            }
        }
    }

    /// <summary>Queues a turn; false when the activation is deactivating (the caller retries elsewhere).</summary>
    public bool TryEnqueue(WorkItem item)
    {
        lock (_gate)
        {
            if (_deactivating)
            {
                return false;
            }

            _queue.Enqueue(item);
            if (_running)
            {
                return true;
            }

            _running = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static a => _ = a.RunAsync(), this, preferLocal: false);
        return true;
    }

    /// <summary>Starts deactivation if nothing is queued or running; false when busy.</summary>
    public bool TryDeactivateIdle(DeactivationReason reason)
    {
        lock (_gate)
        {
            if (_running || _deactivating || _queue.Count > 0)
            {
                return false;
            }

            _deactivating = true;
            _running = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.Activation.DeactivateAsync(s.Reason), (Activation: this, Reason: reason), preferLocal: false);
        return true;
    }

    /// <summary>Deactivates after the current turn (or at once when idle).</summary>
    public void RequestDeactivation(DeactivationReason reason)
    {
        lock (_gate)
        {
            _requested ??= reason;
        }

        TryDeactivateIdle(reason);
    }

    public IDisposable RegisterTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new GrainTimer(this, callback, dueTime, period);
        lock (_gate)
        {
            _timers.Add(timer);
        }

        return timer;
    }

    public void RemoveTimer(GrainTimer timer)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
        }
    }

    private async Task RunAsync()
    {
        while (true)
        {
            WorkItem? item;
            lock (_gate)
            {
                if (_requested is { } reason && !_deactivating)
                {
                    _deactivating = true;
                    _ = DeactivateAsync(reason);
                    return;
                }

                if (!_queue.TryDequeue(out item))
                {
                    _running = false;
                    return;
                }

                LastUsedTicks = Runtime.TimeProvider.GetUtcNow().UtcTicks;
            }

            if (_grain is null && !await TryActivateAsync(item))
            {
                continue;
            }

            var error = await item.RunAsync(_grain!);
            if (error is InconsistentStateException)
            {
                lock (_gate)
                {
                    _requested = DeactivationReason.InconsistentState;
                }
            }
        }
    }

    private async Task<bool> TryActivateAsync(WorkItem first)
    {
        Grain? grain = null;
        try
        {
            grain = _activator(Key);
            grain.Attach(this, Key);
            await grain.OnActivateAsync(CancellationToken.None);
            _grain = grain;
            return true;
        }
        catch (Exception ex)
        {
            GrainLog.ActivationFailed(Runtime.Logger, GrainType.Name, Key, ex);
            first.Fail(ex);
            return false; // The next queued call tries again with a new instance.
        }
    }

    private async Task DeactivateAsync(DeactivationReason reason)
    {
        GrainTimer[] timers;
        lock (_gate)
        {
            timers = [.. _timers];
        }

        foreach (var timer in timers)
        {
            timer.Dispose();
        }

        if (_grain is not null)
        {
            try
            {
                await _grain.OnDeactivateAsync(reason, CancellationToken.None);
            }
            catch (Exception ex)
            {
                GrainLog.DeactivationFailed(Runtime.Logger, GrainType.Name, Key, ex);
            }
        }

        WorkItem[] leftovers;
        lock (_gate)
        {
            leftovers = [.. _queue];
            _queue.Clear();
        }

        Runtime.Remove(this);
        _deactivated.TrySetResult();
        foreach (var item in leftovers)
        {
            item.Redispatch(Runtime, Key);
        }
    }
}

/// <summary>The runtime's log messages.</summary>
internal static partial class GrainLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Activation of {GrainType} '{Key}' failed")]
    public static partial void ActivationFailed(ILogger logger, string grainType, string key, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Deactivation of {GrainType} '{Key}' failed")]
    public static partial void DeactivationFailed(ILogger logger, string grainType, string key, Exception exception);
}
