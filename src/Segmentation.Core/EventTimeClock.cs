namespace Segmentation.Core;

/// <summary>
/// Domain "now" of one tenant (a shop), from the event times its users' events carry, robust to outliers:
/// <list type="bullet">
/// <item>Each distinct user votes with her newest event time. The watermark is the newest vote at most
/// <see cref="EventTimeClockOptions.SupportWindow"/> beyond the <see cref="EventTimeClockOptions.Support"/>-th newest
/// vote: a time counts once that many users have been active within the window before it. So one user's row from two
/// years later (fewer than Support users that far ahead) moves nobody's "now"; a real day of traffic, many users at
/// once, does. It is a function of the users' newest times, so of the events, not of their arrival order, and it never
/// goes back once Support users have voted. With fewer users it is the newest vote (nothing to outvote it).</item>
/// <item>Replays of history run on the watermark: stages are as of the data's own last day. Once the watermark comes
/// within <see cref="EventTimeClockOptions.LiveWithin"/> of the wall clock the shop is live and stays live: "now" is the
/// wall clock (or the watermark, if ahead), so a quiet night does not freeze it.</item>
/// <item>Before any event it reads the wall clock.</item>
/// </list>
/// Events more than <see cref="EventValidator.MaxFutureSkew"/> ahead of the wall clock never reach it (rejected at the edge).
/// </summary>
/// <remarks>
/// Thread-safe. Only the newest Support votes matter, so only they are kept; <see cref="Observe(string, DateTimeOffset)"/>
/// takes a lock only when the vote is newer than the oldest of them; <see cref="GetUtcNow"/> reads two fields. Only <see cref="GetUtcNow"/> follows event time;
/// timers and timestamps are the system's.
/// </remarks>
public sealed class EventTimeClock : TimeProvider
{
    private readonly TimeProvider _wall;
    private readonly EventTimeClockOptions _options;
    private readonly object _gate = new();

    // The newest vote of each of the newest `Support` users, newest first. A user pushed out can only come back with a
    // vote newer than the oldest kept, so this is exactly the top of all users' newest times.
    private readonly List<(string User, long Ticks)> _votes = [];
    private long _floorTicks = long.MinValue;

    // A function of _votes (never a running maximum, which would remember what an arrival order passed through).
    private long _watermarkTicks;
    private volatile bool _live;

    /// <summary>Creates the clock; <paramref name="wall"/> answers until the first event is observed, and bounds a live shop.</summary>
    public EventTimeClock(TimeProvider wall, EventTimeClockOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(wall);
        _wall = wall;
        _options = options ?? new EventTimeClockOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Support, 1, nameof(options));
    }

    /// <summary>Creates the clock reading <paramref name="start"/> until the first event is observed.</summary>
    public EventTimeClock(DateTimeOffset start, EventTimeClockOptions? options = null)
        : this(new FixedTime(start), options)
    {
    }

    /// <summary>Whether any event time was observed.</summary>
    public bool HasObserved => Volatile.Read(ref _watermarkTicks) != 0;

    /// <summary>Whether the shop is live (its events reached the wall clock): "now" is the wall clock.</summary>
    public bool IsLive => _live;

    /// <summary>The watermark: event time as the users' votes back it (see the class remarks); null before any event.</summary>
    public DateTimeOffset? Watermark => Volatile.Read(ref _watermarkTicks) is var t and not 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>An event of an unnamed source (a restored checkpoint of the old format, tests): one vote of user "".</summary>
    public void Observe(DateTimeOffset eventTime) => Observe("", eventTime);

    /// <summary>Counts <paramref name="userId"/>'s event at <paramref name="eventTime"/> as her vote (her newest counts).</summary>
    public void Observe(string userId, DateTimeOffset eventTime)
    {
        ArgumentNullException.ThrowIfNull(userId);
        var ticks = eventTime.UtcTicks;
        if (ticks <= Volatile.Read(ref _floorTicks))
        {
            // Older than every tracked vote while the list is full: a tracked user's own vote is newer already.
            return;
        }

        lock (_gate)
        {
            var at = _votes.FindIndex(v => string.Equals(v.User, userId, StringComparison.Ordinal));
            if (at >= 0)
            {
                if (_votes[at].Ticks >= ticks)
                {
                    return;
                }

                _votes.RemoveAt(at);
            }
            else if (_votes.Count >= _options.Support)
            {
                _votes.RemoveAt(_votes.Count - 1);
            }

            var position = _votes.FindIndex(v => v.Ticks < ticks);
            _votes.Insert(position < 0 ? _votes.Count : position, (userId, ticks));
            if (_votes.Count >= _options.Support)
            {
                Volatile.Write(ref _floorTicks, _votes[^1].Ticks);
            }

            var watermark = Supported();
            Volatile.Write(ref _watermarkTicks, watermark);
            if (!_live && _options.LiveWithin > TimeSpan.Zero && watermark >= (_wall.GetUtcNow() - _options.LiveWithin).UtcTicks)
            {
                _live = true;
            }
        }
    }

    /// <summary>
    /// Takes <paramref name="userId"/>'s name off her vote (an erasure): the vote keeps its time, so "now" does not move,
    /// under a name that identifies nobody; her later events vote as anyone's would.
    /// </summary>
    public void Forget(string userId)
    {
        ArgumentNullException.ThrowIfNull(userId);
        lock (_gate)
        {
            var at = _votes.FindIndex(v => string.Equals(v.User, userId, StringComparison.Ordinal));
            if (at >= 0)
            {
                _votes[at] = ("erased-" + Guid.NewGuid().ToString("N"), _votes[at].Ticks);
            }
        }
    }

    /// <summary>The votes kept (user, newest time), newest first: what a checkpoint saves and <see cref="Observe(string, DateTimeOffset)"/> restores.</summary>
    public IReadOnlyList<(string User, DateTimeOffset Time)> Votes()
    {
        lock (_gate)
        {
            return _votes.ConvertAll(v => (v.User, new DateTimeOffset(v.Ticks, TimeSpan.Zero)));
        }
    }

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow()
    {
        var ticks = Volatile.Read(ref _watermarkTicks);
        if (ticks == 0)
        {
            return _wall.GetUtcNow();
        }

        var watermark = new DateTimeOffset(ticks, TimeSpan.Zero);
        if (!_live)
        {
            return watermark;
        }

        var wall = _wall.GetUtcNow();
        return wall > watermark ? wall : watermark;
    }

    // Caller holds the lock; _votes is newest first and holds at most Support votes.
    private long Supported()
    {
        if (_votes.Count < _options.Support)
        {
            return _votes[0].Ticks;
        }

        var bound = _votes[^1].Ticks + _options.SupportWindow.Ticks;
        foreach (var (_, ticks) in _votes)
        {
            if (ticks <= bound)
            {
                return ticks;
            }
        }

        return _votes[^1].Ticks;
    }

    private sealed class FixedTime(DateTimeOffset start) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => start;
    }
}

/// <summary>How an <see cref="EventTimeClock"/> decides "now" (setting <c>Segmentation:EventClock</c>).</summary>
public sealed class EventTimeClockOptions
{
    /// <summary>Distinct users whose events must back a time before "now" moves to it (default 3).</summary>
    public int Support { get; set; } = 3;

    /// <summary>How close below a time the backing users' newest events must be (default 1 day).</summary>
    public TimeSpan SupportWindow { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// A shop whose watermark comes this close to the wall clock is live: it runs on the wall clock from then on (default
    /// 1 hour; 0: never live, always the watermark).
    /// </summary>
    public TimeSpan LiveWithin { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// One <see cref="EventTimeClock"/> per tenant (the part of a key before its slash), made at the first use. Thread-safe.
/// </summary>
public sealed class EventTimeClocks(TimeProvider wall, EventTimeClockOptions? options = null)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, EventTimeClock> _clocks = new(StringComparer.Ordinal);

    /// <summary>The clock of <paramref name="tenant"/>.</summary>
    public EventTimeClock For(string tenant) => _clocks.GetOrAdd(tenant, static (_, state) => new EventTimeClock(state.wall, state.options), (wall, options));

    /// <summary>The tenants with a clock, and their clocks.</summary>
    public IEnumerable<KeyValuePair<string, EventTimeClock>> All => _clocks;
}
