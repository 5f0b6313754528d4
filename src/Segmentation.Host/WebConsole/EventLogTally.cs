using Segmentation.Storage;

namespace Segmentation.Host.WebConsole;

/// <summary>
/// The console tenant's (<c>Segmentation:ConsoleTenant</c>) record count in the event log for the overview — its users'
/// streams, <c>tenant/…</c>, never another shop's — without counting millions of rows on every page load (a SQLite
/// <c>COUNT(*)</c> over 6.9 M events took 0.7 s, more under load): the log is counted in the background at most every
/// <see cref="RecountEvery"/>, and between counts the tenant's events this process acknowledged since the count began
/// (<see cref="ConsoleActivity.EventsIngested"/>) are added.
/// </summary>
/// <remarks>
/// What the page says is honest about it: the time of the last count and how many were added since. Approximate by
/// design: an event acknowledged while a count runs may be in the count and in the added ones; other silos' events and
/// erasures show at the next count. A failed count keeps the previous one (and the page says when it was taken).
/// Thread-safe.
/// </remarks>
internal sealed class EventLogTally(IEventLog log, ConsoleActivity activity, string tenant, TimeProvider wallClock)
{
    // The tenant's user streams: TenantKeys.User(id, tenant) is "tenant/id".
    private readonly string _streamPrefix = Segmentation.Grains.TenantKeys.User("", tenant);

    /// <summary>How old a count may get before a page load starts another (in the background).</summary>
    public static readonly TimeSpan RecountEvery = TimeSpan.FromMinutes(1);

    /// <summary>How long a page load waits for a count it started (a small log is counted within it; a large one is not waited for).</summary>
    public static readonly TimeSpan WaitForCount = TimeSpan.FromMilliseconds(200);

    private readonly Lock _gate = new();
    private Counted? _last;
    private Task? _counting;

    /// <summary>
    /// The records in the log as last counted plus the events acknowledged here since, or null while the first count
    /// runs; starts a count when the last is older than <see cref="RecountEvery"/>.
    /// </summary>
    public async Task<EventTally?> ReadAsync(CancellationToken cancellationToken)
    {
        Task? started = null;
        lock (_gate)
        {
            if (_counting is null && (_last is null || wallClock.GetUtcNow() - _last.At >= RecountEvery))
            {
                // On the pool, so its end (which clears _counting under this lock) always comes after this assignment.
                _counting = started = Task.Run(CountAsync, CancellationToken.None);
            }
        }

        if (started is not null)
        {
            await Task.WhenAny(started, Task.Delay(WaitForCount, wallClock, cancellationToken));
        }

        var last = Volatile.Read(ref _last);
        var added = last is null ? 0 : activity.EventsIngested - last.IngestedBefore;
        return last is null ? null : new EventTally(last.Records + added, last.At, added, wallClock.GetUtcNow() - last.At);
    }

    private async Task CountAsync()
    {
        try
        {
            // Not the page's token: a count outlives the load that started it, for the next one to read.
            var ingestedBefore = activity.EventsIngested;
            var at = wallClock.GetUtcNow();
            var records = await log.CountAsync(_streamPrefix, CancellationToken.None).ConfigureAwait(false);
            Volatile.Write(ref _last, new Counted(records, at, ingestedBefore));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The previous count stands; the next load older than RecountEvery tries again.
        }
        finally
        {
            lock (_gate)
            {
                _counting = null;
            }
        }
    }

    private sealed record Counted(long Records, DateTimeOffset At, long IngestedBefore);
}

/// <summary>The event log's size as the overview shows it.</summary>
/// <param name="Records">Counted plus acknowledged here since.</param>
/// <param name="CountedAt">When the count began (wall clock).</param>
/// <param name="AddedSince">Events acknowledged by this process since then.</param>
/// <param name="Age">How long ago the count began.</param>
internal sealed record EventTally(long Records, DateTimeOffset CountedAt, long AddedSince, TimeSpan Age);
