using System.Runtime.InteropServices;
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
    private readonly Hosting.TenantSchedules? _schedules;

    /// <param name="schedules">Told of every tenant a batch was stored for, so a tenant new since the start gets its schedules.</param>
    public EventIngestion(IGrainFactory grains, TimeProvider wallClock, DateTimeOffset earliest, ILogger logger, Hosting.TenantSchedules? schedules = null)
    {
        _schedules = schedules;
        _users = new GrainReferences<IUserGrain>(grains);
        _wallClock = wallClock;
        _earliest = earliest;
        _logger = logger;
    }

    /// <summary>Ingests one batch into tenant <c>default</c> (see the overload with a tenant).</summary>
    public Task<V1.IngestEventsResponse> IngestAsync(RepeatedField<V1.Event> events, long indexOffset, CancellationToken cancellationToken) =>
        IngestAsync(events, indexOffset, TenantKeys.DefaultTenant, cancellationToken);

    /// <summary>
    /// Ingests one batch into <paramref name="tenant"/>'s users. <paramref name="indexOffset"/> is added to each result's
    /// index (streams count from their start).
    /// </summary>
    public async Task<V1.IngestEventsResponse> IngestAsync(RepeatedField<V1.Event> events, long indexOffset, string tenant, CancellationToken cancellationToken)
    {
        if (events.Count > MaxEventsPerRequest)
        {
            throw new InvalidRequestException($"events: at most {MaxEventsPerRequest:N0} events per request, got {events.Count:N0}");
        }

        var results = new V1.EventResult[events.Count];
        // Two passes, so each user's arrays are allocated once at their final size: the first validates and numbers the
        // users (group[i] is event i's user, -1 when rejected), the second fills one batch per user.
        var group = new int[events.Count];
        var decoded = new BehaviorEvent[events.Count];
        var users = new Dictionary<string, int>(events.Count, StringComparer.Ordinal);
        var sizes = new List<int>(events.Count);
        // Validation's "now" is the wall clock: it guards against clients with broken clocks (events from the future).
        var now = _wallClock.GetUtcNow();
        for (var i = 0; i < events.Count; i++)
        {
            var wire = events[i];
            var domain = ProtoMapper.ToDomain(wire, out var wireError);
            var error = wireError ?? EventValidator.Validate(domain, now, _earliest);
            if (error is { } rejection)
            {
                group[i] = -1;
                results[i] = Result(i + indexOffset, wire.EventId, V1.IngestOutcome.Rejected, rejection.Field, rejection.Reason);
                continue;
            }

            ref var number = ref CollectionsMarshal.GetValueRefOrAddDefault(users, domain.UserId, out var known);
            if (!known)
            {
                number = sizes.Count;
                sizes.Add(0);
            }

            group[i] = number;
            sizes[number]++;
            decoded[i] = domain;
        }

        // Each user's stored payloads and decodings, in request order; filled[g] counts user g's so far.
        var payloads = new byte[sizes.Count][][];
        var decodings = new BehaviorEvent[sizes.Count][];
        var filled = new int[sizes.Count];
        for (var i = 0; i < events.Count; i++)
        {
            var g = group[i];
            if (g < 0)
            {
                continue;
            }

            var j = filled[g]++;
            if (j == 0)
            {
                payloads[g] = new byte[sizes[g]][];
                decodings[g] = new BehaviorEvent[sizes[g]];
            }

            payloads[g][j] = EventCodec.Encode(events[i]);
            decodings[g][j] = decoded[i];
        }

        var calls = new ValueTask<ApplyResult>[sizes.Count];
        var answered = new Countdown();
        foreach (var (userId, g) in users)
        {
            calls[g] = _users.Get(tenant, userId).ApplyAsync(new EventBatch(payloads[g]) { Decoded = decodings[g] });
            answered.Add(calls[g]);
        }

        var appended = new bool[calls.Length][];
        try
        {
            // One wait for the whole request: a cancelled request stops waiting (the grains still finish their turns).
            await answered.AllAsync().WaitAsync(cancellationToken);
            // Every call has answered: each answer (or its exception, the first in user order as Task.WhenAll would
            // throw) is read here, once, as a ValueTask allows.
            for (var g = 0; g < calls.Length; g++)
            {
                appended[g] = calls[g].Result.Appended;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not SegmentationException)
        {
            HostLog.IngestFailed(_logger, ex);
            throw new ServiceUnavailableException("events: an append failed (storage, or the silo hosting a user was lost); nothing in this batch is acknowledged. Retry it: event ids make retries idempotent.");
        }

        if (calls.Length > 0)
        {
            _schedules?.Seen(tenant);
        }

        // Event i is user group[i]'s next one, in the order her batch listed them.
        var response = new V1.IngestEventsResponse();
        Array.Clear(filled);
        for (var i = 0; i < events.Count; i++)
        {
            var g = group[i];
            if (g < 0)
            {
                continue;
            }

            var outcome = appended[g][filled[g]++] ? V1.IngestOutcome.Accepted : V1.IngestOutcome.Duplicate;
            results[i] = Result(i + indexOffset, events[i].EventId, outcome, "", "");
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
        SegmentationDiagnostics.EventsIngested.Add(response.Accepted, new KeyValuePair<string, object?>(SegmentationDiagnostics.TenantTag, tenant));
        SegmentationDiagnostics.EventsDuplicate.Add(response.Duplicates);
        SegmentationDiagnostics.EventsRejected.Add(response.Rejected);
        return response;
    }

    private static V1.EventResult Result(long index, string eventId, V1.IngestOutcome outcome, string field, string reason) => new()
    {
        Index = (int)Math.Min(index, int.MaxValue),
        EventId = eventId,
        Outcome = outcome,
        Field = field,
        Reason = reason,
    };

    /// <summary>
    /// Completes once every call added has answered, as <c>Task.WhenAll</c> would, without a task per call: each call's
    /// ValueTask is told to run one shared callback when it completes, which counts it off. Task.WhenAll needs a Task of
    /// each, one more object per user per batch. Reads no answer: the caller reads each once when this completes.
    /// </summary>
    private sealed class Countdown : TaskCompletionSource
    {
        private readonly Action _countOff;

        // Starts at one for AllAsync's own count-off, so the count cannot reach zero while calls are still being added.
        private int _pending = 1;

        public Countdown()
            : base(TaskCreationOptions.RunContinuationsAsynchronously) => _countOff = CountOff;

        public void Add(ValueTask<ApplyResult> call)
        {
            if (call.IsCompleted)
            {
                return;
            }

            Interlocked.Increment(ref _pending);
            // Unsafe: the callback only counts, so it needs neither this execution context nor a scheduler to run on.
            call.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_countOff);
        }

        /// <summary>Completes when every call added has answered; call once, after the last <see cref="Add"/>.</summary>
        public Task AllAsync()
        {
            CountOff();
            return Task;
        }

        private void CountOff()
        {
            if (Interlocked.Decrement(ref _pending) == 0)
            {
                TrySetResult();
            }
        }
    }
}
