using System.Collections.Concurrent;
using Segmentation.Storage;

namespace Segmentation.Grains.Tests;

/// <summary>A clock the test moves by hand; its timers fire when it passes their due time.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly object _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_gate)
        {
            _timers.Add(timer);
            timer.Change(dueTime, period);
        }

        return timer;
    }

    public void Advance(TimeSpan by)
    {
        List<ManualTimer> due;
        lock (_gate)
        {
            _now += by;
            due = _timers.Where(t => t.Due is { } d && d <= _now).ToList();
            foreach (var timer in due)
            {
                timer.Due = timer.Period > TimeSpan.Zero ? _now + timer.Period : null;
            }
        }

        foreach (var timer in due)
        {
            timer.Fire();
        }
    }

    private sealed class ManualTimer(ManualTimeProvider clock, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? Due { get; set; }

        public TimeSpan Period { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime == Timeout.InfiniteTimeSpan ? null : clock._now + dueTime;
            Period = period == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : period;
            return true;
        }

        public void Dispose()
        {
            lock (clock._gate)
            {
                clock._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>A grain that records what happens to it.</summary>
internal sealed class CounterGrain(GrainJournal journal) : Grain
{
    private int _inTurn;
    private int _count;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        journal.Events.Enqueue($"activate {Key}");
        if (journal.FailActivations > 0 && Interlocked.Decrement(ref journal.FailActivations) >= 0)
        {
            throw new InvalidOperationException("activation failed");
        }

        _count = journal.Stored.GetValueOrDefault(Key);
        await Task.Yield();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        journal.Events.Enqueue($"deactivate {Key} {reason}");
        await Task.Delay(journal.DeactivationDelayMs, cancellationToken);
        if (reason != DeactivationReason.InconsistentState)
        {
            journal.Stored[Key] = _count;
        }

        journal.Events.Enqueue($"deactivated {Key}");
    }

    public async Task<int> AddAsync(int delayMs = 0)
    {
        if (Interlocked.Increment(ref _inTurn) != 1)
        {
            journal.Overlaps++;
        }

        var running = Interlocked.Increment(ref journal.Running);
        InterlockedMax(ref journal.MaxRunning, running);
        await Task.Delay(delayMs);
        Interlocked.Decrement(ref journal.Running);
        var value = ++_count;
        Interlocked.Decrement(ref _inTurn);
        return value;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current && Interlocked.CompareExchange(ref target, value, current) != current)
        {
            current = Volatile.Read(ref target);
        }
    }

    public Task<int> FenceAsync() => throw new InconsistentStateException(Key, "a", "b");

    public Task StartTimer(TimeSpan period, int tickDelayMs)
    {
        RegisterTimer(async _ =>
        {
            if (Interlocked.Increment(ref _inTurn) != 1)
            {
                journal.Overlaps++;
            }

            Interlocked.Increment(ref journal.Ticks);
            await Task.Delay(tickDelayMs, CancellationToken.None);
            Interlocked.Decrement(ref _inTurn);
        }, period, period);
        return Task.CompletedTask;
    }

    public Task<int> LeaveAsync()
    {
        DeactivateOnIdle();
        return Task.FromResult(_count);
    }
}

internal sealed class GrainJournal
{
    public ConcurrentQueue<string> Events { get; } = new();

    public ConcurrentDictionary<string, int> Stored { get; } = new();

    public int Overlaps;
    public int Running;
    public int MaxRunning;
    public int Ticks;
    public int FailActivations;
    public int DeactivationDelayMs;
}

public sealed class GrainRuntimeTests : IAsyncLifetime
{
    private readonly GrainJournal _journal = new();
    private readonly ManualTimeProvider _clock = new();
    private GrainRuntime _runtime = null!;

    public Task InitializeAsync()
    {
        _runtime = NewRuntime(maxActivations: 1000);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _runtime.DisposeAsync();

    private GrainRuntime NewRuntime(int maxActivations)
    {
        var runtime = new GrainRuntime(new GrainRuntimeOptions
        {
            IdleTimeout = TimeSpan.FromMinutes(5),
            CollectionInterval = TimeSpan.FromMinutes(1),
            MaxActivations = maxActivations,
            TimeProvider = _clock,
        });
        runtime.Register(_ => new CounterGrain(_journal));
        return runtime;
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), what);
    }

    [Fact]
    public async Task FirstCall_Activates_AndLaterCallsReuseTheActivation()
    {
        Assert.Equal(0, _runtime.ActivationCount);
        Assert.Equal(1, await _runtime.Get<CounterGrain>("a").InvokeAsync(g => g.AddAsync()));
        Assert.Equal(2, await _runtime.Get<CounterGrain>("a").InvokeAsync(g => g.AddAsync()));
        Assert.Equal(1, _runtime.ActivationCount);
        Assert.Single(_journal.Events, e => e == "activate a");
    }

    [Fact]
    public async Task CallsToOneGrain_RunOneAtATime_InArrivalOrder()
    {
        var grain = _runtime.Get<CounterGrain>("a");
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => grain.InvokeAsync(g => g.AddAsync(1))));
        Assert.Equal(0, _journal.Overlaps);
        Assert.Equal(Enumerable.Range(1, 50), results);
    }

    [Fact]
    public async Task DifferentGrains_RunInParallel()
    {
        var calls = Enumerable.Range(0, 20).Select(i => _runtime.Get<CounterGrain>($"g{i}").InvokeAsync(g => g.AddAsync(200)));
        var results = await Task.WhenAll(calls);
        Assert.All(results, r => Assert.Equal(1, r));
        Assert.Equal(20, _runtime.ActivationCount);
        Assert.Equal(0, _journal.Overlaps);
        Assert.True(_journal.MaxRunning > 1, "turns of different grains never overlapped");
    }

    [Fact]
    public async Task IdleGrains_AreDeactivated_AndWriteTheirState()
    {
        await _runtime.Get<CounterGrain>("idle").InvokeAsync(g => g.AddAsync());
        _clock.Advance(TimeSpan.FromMinutes(3));
        await _runtime.Get<CounterGrain>("busy").InvokeAsync(g => g.AddAsync());
        _clock.Advance(TimeSpan.FromMinutes(3));

        await EventuallyAsync(() => _runtime.ActivationCount == 1, "the idle grain was not collected: " + string.Join(" | ", _journal.Events) + " count " + _runtime.ActivationCount);
        Assert.Equal(1, _journal.Stored["idle"]);
        Assert.Contains("deactivate idle Idle", _journal.Events);
        Assert.Equal(2, await _runtime.Get<CounterGrain>("idle").InvokeAsync(g => g.AddAsync()));
    }

    [Fact]
    public async Task ActivationBound_DeactivatesTheLeastRecentlyUsed()
    {
        await using var runtime = NewRuntime(maxActivations: 20);
        for (var i = 0; i < 60; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            await runtime.Get<CounterGrain>($"u{i}").InvokeAsync(g => g.AddAsync());
        }

        await EventuallyAsync(() => runtime.ActivationCount <= 20, $"{runtime.ActivationCount} activations exceed the bound");
        await EventuallyAsync(() => _journal.Stored.Count >= 40, "deactivated grains did not write their state");
        await EventuallyAsync(() => _journal.Events.Contains("deactivate u0 CapacityExceeded"), "the least recently used grain was not deactivated");
        Assert.DoesNotContain("deactivate u59 CapacityExceeded", _journal.Events);
    }

    [Fact]
    public async Task Timers_RunAsTurns_AndSkipTicksWhileBusy()
    {
        var grain = _runtime.Get<CounterGrain>("t");
        await grain.InvokeAsync(g => g.StartTimer(TimeSpan.FromSeconds(10), tickDelayMs: 300));
        var calls = new List<Task<int>>();
        for (var i = 0; i < 5; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(10));
            calls.Add(grain.InvokeAsync(g => g.AddAsync(5)));
        }

        await Task.WhenAll(calls);
        await EventuallyAsync(() => Volatile.Read(ref _journal.Ticks) >= 1, "the timer never ticked");
        Assert.True(_journal.Ticks < 5, "ticks were queued while the previous tick was still pending");
        Assert.Equal(0, _journal.Overlaps);
    }

    [Fact]
    public async Task InconsistentState_DeactivatesWithoutWriting_AndTheNextCallReloads()
    {
        var grain = _runtime.Get<CounterGrain>("f");
        await grain.InvokeAsync(g => g.AddAsync());
        await Assert.ThrowsAsync<InconsistentStateException>(() => grain.InvokeAsync(g => g.FenceAsync()));

        await EventuallyAsync(() => _journal.Events.Contains("deactivated f"), "the fenced grain was not deactivated");
        Assert.Contains("deactivate f InconsistentState", _journal.Events);
        Assert.False(_journal.Stored.ContainsKey("f"));
        Assert.Equal(1, await grain.InvokeAsync(g => g.AddAsync()));
        Assert.Equal(2, _journal.Events.Count(e => e == "activate f"));
    }

    [Fact]
    public async Task CallsDuringDeactivation_AreNotLost_AndRunAfterStateIsWritten()
    {
        _journal.DeactivationDelayMs = 300;
        var grain = _runtime.Get<CounterGrain>("d");
        await grain.InvokeAsync(g => g.AddAsync());
        var leaving = grain.InvokeAsync(g => g.LeaveAsync());
        var during = Enumerable.Range(0, 10).Select(_ => grain.InvokeAsync(g => g.AddAsync())).ToList();

        Assert.Equal(1, await leaving);
        var results = await Task.WhenAll(during);
        Assert.Equal(Enumerable.Range(2, 10), results.Order());
        var events = _journal.Events.ToList();
        Assert.True(events.IndexOf("deactivated d") < events.LastIndexOf("activate d"), string.Join(" | ", events));
    }

    [Fact]
    public async Task FailedActivation_FailsTheCall_AndTheNextCallRetries()
    {
        _journal.FailActivations = 1;
        var grain = _runtime.Get<CounterGrain>("x");
        await Assert.ThrowsAsync<InvalidOperationException>(() => grain.InvokeAsync(g => g.AddAsync()));
        Assert.Equal(1, await grain.InvokeAsync(g => g.AddAsync()));
    }

    [Fact]
    public async Task CallCancelledBeforeItsTurn_IsDropped()
    {
        var grain = _runtime.Get<CounterGrain>("c");
        var blocker = grain.InvokeAsync(g => g.AddAsync(300));
        using var cancel = new CancellationTokenSource();
        var dropped = grain.InvokeAsync(g => g.AddAsync(), cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dropped);
        Assert.Equal(1, await blocker);
        Assert.Equal(2, await grain.InvokeAsync(g => g.AddAsync()));
    }

    [Fact]
    public async Task DeactivateAll_WritesEveryGrainsState()
    {
        for (var i = 0; i < 10; i++)
        {
            await _runtime.Get<CounterGrain>($"s{i}").InvokeAsync(g => g.AddAsync());
        }

        await _runtime.DeactivateAllAsync(CancellationToken.None);
        Assert.Equal(0, _runtime.ActivationCount);
        Assert.Equal(10, _journal.Stored.Count);
        Assert.All(Enumerable.Range(0, 10), i => Assert.Contains($"deactivate s{i} Shutdown", _journal.Events));
    }

    [Fact]
    public async Task UnregisteredGrainType_Throws()
    {
        await using var runtime = new GrainRuntime(new GrainRuntimeOptions());
        await Assert.ThrowsAsync<InvalidOperationException>(() => runtime.Get<CounterGrain>("a").InvokeAsync(g => g.AddAsync()));
    }
}
