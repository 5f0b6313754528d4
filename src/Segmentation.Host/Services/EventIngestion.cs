using Google.Protobuf.Collections;
using Microsoft.Extensions.Logging;
using Segmentation.Core;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Storage;
using V1 = Segmentation.Contracts.V1;

namespace Segmentation.Host.Services;

/// <summary>
/// The ingest walk (DESIGN.md section 3): validate each event, group the valid ones by user, hand each group to its
/// <see cref="IUserGrain"/> (which appends durably and folds), and report a result per event. Returns only after every
/// accepted event is durable.
/// </summary>
internal sealed class EventIngestion
{
    /// <summary>Most events one request may carry.</summary>
    public const int MaxEventsPerRequest = 10_000;

    private readonly GrainReferences<IUserGrain> _users;
    private readonly TimeProvider _wallClock;
    private readonly DateTimeOffset _earliest;
    private readonly ILogger _logger;

    public EventIngestion(IGrainFactory grains, TimeProvider wallClock, DateTimeOffset earliest, ILogger logger)
    {
        _users = new GrainReferences<IUserGrain>(grains);
        _wallClock = wallClock;
        _earliest = earliest;
        _logger = logger;
    }

    /// <summary>Ingests one batch. <paramref name="indexOffset"/> is added to each result's index (streams count from their start).</summary>
    public async Task<V1.IngestEventsResponse> IngestAsync(RepeatedField<V1.Event> events, long indexOffset, CancellationToken cancellationToken)
    {
        if (events.Count > MaxEventsPerRequest)
        {
            throw new InvalidRequestException($"events: at most {MaxEventsPerRequest:N0} events per request, got {events.Count:N0}");
        }

        var results = new V1.EventResult[events.Count];
        var groups = new Dictionary<string, UserBatch>(StringComparer.Ordinal);
        // Validation's "now" is the wall clock: it guards against clients with broken clocks (events from the future).
        var now = _wallClock.GetUtcNow();
        for (var i = 0; i < events.Count; i++)
        {
            var wire = events[i];
            var domain = ProtoMapper.ToDomain(wire, out var wireError);
            var error = wireError ?? EventValidator.Validate(domain, now, _earliest);
            if (error is { } rejection)
            {
                results[i] = Result(i + indexOffset, wire.EventId, V1.IngestOutcome.Rejected, rejection.Field, rejection.Reason);
                continue;
            }

            if (!groups.TryGetValue(domain.UserId, out var batch))
            {
                batch = new UserBatch();
                groups.Add(domain.UserId, batch);
            }

            batch.Indexes.Add(i);
            batch.Events.Add(EventCodec.Encode(wire));
        }

        var calls = new List<Task>(groups.Count);
        foreach (var (userId, batch) in groups)
        {
            calls.Add(ApplyAsync(userId, batch, cancellationToken));
        }

        try
        {
            await Task.WhenAll(calls);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not SegmentationException)
        {
            HostLog.IngestFailed(_logger, ex);
            throw new ServiceUnavailableException("events: storage failed while appending; nothing in this batch is acknowledged. Retry it: event ids make retries idempotent.");
        }

        var response = new V1.IngestEventsResponse();
        foreach (var batch in groups.Values)
        {
            for (var j = 0; j < batch.Indexes.Count; j++)
            {
                var index = batch.Indexes[j];
                var outcome = batch.Outcomes![j] ? V1.IngestOutcome.Accepted : V1.IngestOutcome.Duplicate;
                results[index] = Result(index + indexOffset, events[index].EventId, outcome, "", "");
            }
        }

        foreach (var result in results)
        {
            switch (result.Outcome)
            {
                case V1.IngestOutcome.Accepted: response.Accepted++; break;
                case V1.IngestOutcome.Duplicate: response.Duplicates++; break;
                default: response.Rejected++; break;
            }
        }

        response.Results.Add(results);
        SegmentationDiagnostics.BatchSize.Record(events.Count);
        SegmentationDiagnostics.EventsIngested.Add(response.Accepted);
        SegmentationDiagnostics.EventsDuplicate.Add(response.Duplicates);
        SegmentationDiagnostics.EventsRejected.Add(response.Rejected);
        return response;
    }

    private async Task ApplyAsync(string userId, UserBatch batch, CancellationToken cancellationToken) =>
        batch.Outcomes = (await _users.Get(TenantKeys.User(userId)).ApplyAsync(new EventBatch([.. batch.Events])).WaitAsync(cancellationToken)).Appended;

    private static V1.EventResult Result(long index, string eventId, V1.IngestOutcome outcome, string field, string reason) => new()
    {
        Index = (int)Math.Min(index, int.MaxValue),
        EventId = eventId,
        Outcome = outcome,
        Field = field,
        Reason = reason,
    };

    private sealed class UserBatch
    {
        public List<int> Indexes { get; } = [];

        public List<byte[]> Events { get; } = [];

        public bool[]? Outcomes { get; set; }
    }
}
