using System.Buffers.Binary;
using System.Text.Json;
using Segmentation.Core;
using Segmentation.Storage;

namespace Segmentation.Host.Internal;

/// <summary>
/// Keeps the event-time clocks across restarts: every tenant's kept votes (user, newest event time; see
/// <see cref="EventTimeClock"/>), loaded at start, saved every few seconds while they change and at shutdown. After a
/// crash a clock may lag by the last few seconds of ingest; the next events move it on.
/// </summary>
/// <remarks>
/// <para>Format: JSON <c>{"tenant": [["user", ticks], …], …}</c> under one key; the first format (8 bytes, the newest
/// event time of the one tenant) still loads, as one vote of the default tenant.</para>
/// <para>Several silos of a cluster share the checkpoint: a write fenced by another process's (a stale ETag) reads theirs,
/// adds its votes to ours (each user's newest counts) and writes again.</para>
/// </remarks>
internal sealed class ClockCheckpoint
{
    private static readonly string s_key = Segmentation.Grains.TenantKeys.Storage("clock/event-time");

    private readonly ISnapshotStore _store;
    private readonly EventTimeClocks _clocks;
    private string? _etag;
    private string _saved = "";

    public ClockCheckpoint(ISnapshotStore store, EventTimeClocks clocks)
    {
        _store = store;
        _clocks = clocks;
    }

    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var snapshot = await _store.ReadAsync(s_key, cancellationToken);
        if (snapshot is null)
        {
            return;
        }

        _etag = snapshot.ETag;
        var data = snapshot.Data.Span;
        if (data.Length == sizeof(long))
        {
            _clocks.For(Segmentation.Grains.TenantKeys.DefaultTenant).Observe(new DateTimeOffset(BinaryPrimitives.ReadInt64LittleEndian(data), TimeSpan.Zero));
            return;
        }

        var tenants = JsonSerializer.Deserialize<Dictionary<string, List<JsonElement[]>>>(data) ?? [];
        foreach (var (tenant, votes) in tenants)
        {
            var clock = _clocks.For(tenant);
            foreach (var vote in votes)
            {
                clock.Observe(vote[0].GetString() ?? "", new DateTimeOffset(vote[1].GetInt64(), TimeSpan.Zero));
            }
        }

        _saved = Encode();
    }

    public async Task SaveAsync(CancellationToken cancellationToken)
    {
        // Before any event a clock reads the wall clock: saving that would pin a later replay of old data to today, so
        // only votes are saved.
        var json = Encode();
        if (json == _saved || json == "{}")
        {
            return;
        }

        for (var attempt = 0; ; attempt++)
        {
            try
            {
                _etag = await _store.WriteAsync(s_key, System.Text.Encoding.UTF8.GetBytes(json), 0, _etag, cancellationToken);
                _saved = json;
                return;
            }
            catch (InconsistentStateException) when (attempt < 3)
            {
                // Another silo saved since we read: take its votes into our clocks, then save the union.
                await LoadAsync(cancellationToken);
                json = Encode();
                if (json == _saved)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Takes erased users' names off their clocks' votes (<see cref="EventTimeClock.Forget"/>) and replaces the stored
    /// checkpoint: deleted (the stores scrub a deleted snapshot's bytes) and written again without them.
    /// </summary>
    public async Task ForgetAsync(IReadOnlyCollection<string> userKeys, CancellationToken cancellationToken)
    {
        foreach (var key in userKeys)
        {
            _clocks.For(Segmentation.Grains.TenantKeys.TenantOf(key)).Forget(Segmentation.Grains.TenantKeys.UserIdOf(key));
        }

        if (await _store.ReadAsync(s_key, cancellationToken) is { } stored)
        {
            try
            {
                await _store.DeleteAsync(s_key, stored.ETag, cancellationToken);
            }
            catch (InconsistentStateException)
            {
                // Another silo saved meanwhile: delete what it saved (its own copy of the erasure forgets her there too).
                if (await _store.ReadAsync(s_key, cancellationToken) is { } again)
                {
                    await _store.DeleteAsync(s_key, again.ETag, cancellationToken);
                }
            }
        }

        _etag = null;
        _saved = "";
        await SaveAsync(cancellationToken);
    }

    private string Encode()
    {
        var tenants = new SortedDictionary<string, object[][]>(StringComparer.Ordinal);
        foreach (var (tenant, clock) in _clocks.All)
        {
            var votes = clock.Votes();
            if (votes.Count > 0)
            {
                tenants[tenant] = [.. votes.Select(v => new object[] { v.User, v.Time.UtcTicks })];
            }
        }

        return JsonSerializer.Serialize(tenants);
    }

    /// <summary>Saves every <paramref name="period"/> until cancelled.</summary>
    public async Task RunAsync(TimeSpan period, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await SaveAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
