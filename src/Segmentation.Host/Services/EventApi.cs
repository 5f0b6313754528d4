using Grpc.Core;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.v1.EventService</c>.</summary>
internal sealed class EventApi : EventService.EventServiceBase
{
    private const int SampleRejections = 100;
    private const int TopReasons = 10;

    private readonly EventIngestion _ingestion;

    public EventApi(EventIngestion ingestion) => _ingestion = ingestion;

    public override Task<IngestEventsResponse> IngestEvents(IngestEventsRequest request, ServerCallContext context) =>
        _ingestion.IngestAsync(request.Events, 0, Access.CallTenant.Of(context), context.CancellationToken);

    public override async Task<StreamEventsResponse> StreamEvents(IAsyncStreamReader<IngestEventsRequest> requests, ServerCallContext context)
    {
        var tenant = Access.CallTenant.Of(context);
        var summary = new StreamEventsResponse();
        var reasons = new Dictionary<string, long>(StringComparer.Ordinal);
        await foreach (var batch in requests.ReadAllAsync(context.CancellationToken))
        {
            var response = await _ingestion.IngestAsync(batch.Events, summary.Received, tenant, context.CancellationToken);
            summary.Received += batch.Events.Count;
            summary.Accepted += response.Accepted;
            summary.Duplicates += response.Duplicates;
            summary.Rejected += response.Rejected;
            if (response.Rejected == 0)
            {
                continue;
            }

            foreach (var result in response.Results)
            {
                if (result.Outcome != IngestOutcome.Rejected)
                {
                    continue;
                }

                var reason = result.Field + ": " + result.Reason;
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
                if (summary.SampleRejections.Count < SampleRejections)
                {
                    summary.SampleRejections.Add(result);
                }
            }
        }

        foreach (var (reason, count) in reasons.OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal).Take(TopReasons))
        {
            summary.TopRejectionReasons.Add(new RejectionCount { Reason = reason, Count = count });
        }

        return summary;
    }
}
