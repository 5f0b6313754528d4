using System.Collections.Concurrent;
using Grpc.Core;
using Segmentation.Bench.Target;
using Segmentation.Contracts.V1;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// Steady load through a cluster's gateway for the failover scenario: writers ingest batches of random events for a
/// fixed set of users (a failed batch is sent again, same event ids, until acknowledged: ingest is idempotent), and
/// callers look those users up. Counts every call's outcome; a scenario reads <see cref="Snapshot"/> before and after a
/// window to count what failed inside it.
/// </summary>
internal sealed class ClusterLoad : IAsyncDisposable
{
    private const int BatchSize = 50;
    private readonly ServiceClients[] _clients;
    private readonly int _users;
    private readonly string _prefix;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _workers = [];
    private readonly DateTimeOffset _now = TimeProvider.System.GetUtcNow();
    private long _nextEvent;
    private long _lookups;
    private long _failedLookups;
    private long _batches;
    private long _failedBatches;
    private long _unacknowledged;
    private string? _firstError;

    public ClusterLoad(Uri gateway, int users, string prefix)
    {
        // Two connections, as a storefront's client pool would have; each survives a silo's death (the gateway stays).
        _clients = [new ServiceClients(gateway), new ServiceClients(gateway)];
        _users = users;
        _prefix = prefix;
    }

    /// <summary>Event ids the cluster acknowledged (accepted or duplicate).</summary>
    public ConcurrentDictionary<string, bool> Acknowledged { get; } = new(StringComparer.Ordinal);

    /// <summary>The users the writers write to and the callers look up.</summary>
    public IEnumerable<string> Users => Enumerable.Range(0, _users).Select(UserId);

    /// <summary>Counts so far: lookups, failed lookups, ingest batches, failed ingest attempts.</summary>
    public LoadCounts Snapshot() => new(Interlocked.Read(ref _lookups), Interlocked.Read(ref _failedLookups), Interlocked.Read(ref _batches), Interlocked.Read(ref _failedBatches));

    /// <summary>Events of batches never acknowledged when the load stopped (indeterminate: maybe stored, maybe not).</summary>
    public long Unacknowledged => Interlocked.Read(ref _unacknowledged);

    /// <summary>The first failure seen, to say what failed.</summary>
    public string? FirstError => _firstError;

    /// <summary>Writes one event for every user (so lookups find them), then starts the writers and callers.</summary>
    public async Task StartAsync(int writers, int callers, int seed, CancellationToken cancellationToken)
    {
        var first = new Random(seed);
        for (var from = 0; from < _users; from += 500)
        {
            var request = new IngestEventsRequest();
            for (var u = from; u < Math.Min(_users, from + 500); u++)
            {
                request.Events.Add(AuditEvents.Random(first, _prefix, Interlocked.Increment(ref _nextEvent), UserId(u), _now));
            }

            await IngestUntilAcknowledgedAsync(_clients[0], request, cancellationToken);
        }

        for (var w = 0; w < writers; w++)
        {
            var random = new Random((seed * 31) + w);
            var client = _clients[w % _clients.Length];
            _workers.Add(Task.Run(() => WriteAsync(client, random), CancellationToken.None));
        }

        for (var c = 0; c < callers; c++)
        {
            var random = new Random((seed * 57) + c);
            var client = _clients[c % _clients.Length];
            _workers.Add(Task.Run(() => LookUpAsync(client, random), CancellationToken.None));
        }
    }

    /// <summary>Stops the writers and callers and waits for them (each writer's batch in flight is answered first).</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
    }

    /// <summary>Sends <paramref name="request"/> until the cluster acknowledges it (or the load stops); true when it did.</summary>
    public async Task<bool> IngestUntilAcknowledgedAsync(ServiceClients client, IngestEventsRequest request, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        var sent = false;
        while (!stop.IsCancellationRequested)
        {
            sent = true;
            try
            {
                // Not cancelled when the load stops: a batch in flight finishes (or fails) on its own, so stopping the
                // load leaves no batch indeterminate; the deadline bounds it.
                var response = await client.Events.IngestEventsAsync(request, deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: cancellationToken);
                foreach (var result in response.Results)
                {
                    if (result.Outcome != IngestOutcome.Rejected)
                    {
                        Acknowledged[result.EventId] = true;
                    }
                }

                Interlocked.Increment(ref _batches);
                return true;
            }
            catch (Exception ex) when (ex is RpcException { StatusCode: not (StatusCode.InvalidArgument or StatusCode.Unimplemented or StatusCode.PermissionDenied or StatusCode.Unauthenticated) }
                or HttpRequestException or IOException or OperationCanceledException)
            {
                // Transient (a silo died or moved its grains, a deadline passed): send the same batch again; its event
                // ids make that safe. A request the server can never accept is thrown to the scenario instead.
                if (stop.IsCancellationRequested)
                {
                    break;
                }

                Interlocked.Increment(ref _failedBatches);
                Interlocked.CompareExchange(ref _firstError, $"ingest: {Describe(ex)}", null);
                await Task.Delay(50, CancellationToken.None);
            }
        }

        if (sent)
        {
            Interlocked.Add(ref _unacknowledged, request.Events.Count);
        }

        return false;
    }

    /// <summary>One lookup through <paramref name="client"/>; true when it succeeded (<paramref name="counted"/>: in <see cref="Snapshot"/>).</summary>
    public async Task<bool> TryLookUpAsync(ServiceClients client, string userId, TimeSpan timeout, bool counted = true)
    {
        try
        {
            await client.Segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = userId }, deadline: DateTime.UtcNow.Add(timeout));
            if (counted)
            {
                Interlocked.Increment(ref _lookups);
            }

            return true;
        }
        catch (Exception ex) when (ex is RpcException or HttpRequestException or IOException)
        {
            if (counted)
            {
                Interlocked.Increment(ref _failedLookups);
            }

            Interlocked.CompareExchange(ref _firstError, $"lookup: {Describe(ex)}", null);
            return false;
        }
    }

    /// <summary>A client on the gateway (the load's own connections).</summary>
    public ServiceClients Client => _clients[0];

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        foreach (var client in _clients)
        {
            client.Dispose();
        }

        _stop.Dispose();
    }

    private string UserId(int u) => $"{_prefix}-u{u}";

    private async Task WriteAsync(ServiceClients client, Random random)
    {
        while (!_stop.IsCancellationRequested)
        {
            var request = new IngestEventsRequest();
            for (var i = 0; i < BatchSize; i++)
            {
                request.Events.Add(AuditEvents.Random(random, _prefix, Interlocked.Increment(ref _nextEvent), UserId(random.Next(_users)), _now));
            }

            await IngestUntilAcknowledgedAsync(client, request, CancellationToken.None);
        }
    }

    private async Task LookUpAsync(ServiceClients client, Random random)
    {
        while (!_stop.IsCancellationRequested)
        {
            if (!await TryLookUpAsync(client, UserId(random.Next(_users)), TimeSpan.FromSeconds(5)))
            {
                await Task.Delay(20);
            }
        }
    }

    private static string Describe(Exception ex) => ex is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : $"{ex.GetType().Name}: {ex.Message}";
}

/// <summary>Cumulative call counts of a <see cref="ClusterLoad"/>; subtract two to count a window.</summary>
public readonly record struct LoadCounts(long Lookups, long FailedLookups, long Batches, long FailedBatches)
{
    /// <summary>What happened between <paramref name="before"/> and <paramref name="after"/>.</summary>
    public static LoadCounts operator -(LoadCounts after, LoadCounts before) =>
        new(after.Lookups - before.Lookups, after.FailedLookups - before.FailedLookups, after.Batches - before.Batches, after.FailedBatches - before.FailedBatches);
}
