using Google.Protobuf;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests.Telemetry;

/// <summary>
/// OpenTelemetry over real OTLP/HTTP: the host exports to a receiver in this process, and one ingest call is followable
/// end to end in one trace (gRPC server span → user grain call → log append, fold, and the deferred refresh's embed,
/// assign).
/// </summary>
public sealed class TelemetryTests
{
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddDays(-3);
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_admin = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");

    [Fact]
    public async Task OneIngestCall_IsOneTrace_FromTheServerSpanThroughTheGrainToAppendFoldEmbedAndAssign()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var server = await TestServer.StartAsync(
            null,
            $"--OTEL_EXPORTER_OTLP_ENDPOINT={receiver.Endpoint.ToString().TrimEnd('/')}",
            "--OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
            "--OTEL_BSP_SCHEDULE_DELAY=200",
            // The set-up (ingest, training, re-clustering's sweep) makes thousands of spans; under load the exporter
            // falls behind, and the default queue (2,048) would drop some, among them the traced call's.
            "--OTEL_BSP_MAX_QUEUE_SIZE=200000",
            "--OTEL_METRIC_EXPORT_INTERVAL=500",
            "--Segmentation:SegmentPublishInterval=00:00:00.200");
        try
        {
            // A served encoder and a published segmentation, so the ingest turn embeds and assigns.
            var events = new List<Event>();
            for (var u = 0; u < 8; u++)
            {
                for (var i = 0; i < 4; i++)
                {
                    events.Add(Events.Make($"t-{u}-{i}", $"home-{u}", EventType.Purchase, s_start.AddHours(u + i), $"h{(u + i) % 5}", category: "home.decor"));
                    events.Add(Events.Make($"s-{u}-{i}", $"toys-{u}", EventType.Purchase, s_start.AddHours(u + i), $"t{(u + i) % 5}", category: "toys.games"));
                }
            }

            await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch([.. events]));
            await server.Client.UnaryAsync<TrainModelRequest, ModelVersion>(s_admin.FindMethodByName("TrainModel"), new TrainModelRequest { Dimension = 4, Seed = 3, Activate = true });
            await server.Client.UnaryAsync<ReclusterRequest, ReclusterResponse>(s_admin.FindMethodByName("Recluster"), new ReclusterRequest { K = 2, Seed = 7 });

            var traced = await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(
                Events.Ingest, Events.Batch(Events.Make("traced-1", "home-0", EventType.Purchase, s_start.AddHours(30), "h9", category: "home.decor")));
            Assert.Equal(1, traced.Accepted);

            // Embedding and assignment follow the ack in the user's deferred refresh, a child of the traced call: wait
            // until no refresh is pending before the spans are flushed.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while ((await server.Client.UnaryAsync<GetServerStatsRequest, ServerStats>(s_admin.FindMethodByName("GetServerStats"), new GetServerStatsRequest())).PendingSegmentRefreshes > 0)
            {
                await Task.Delay(20, deadline.Token);
            }
        }
        finally
        {
            // Stopping disposes the providers, which flush what is batched.
            await server.DisposeAsync();
        }

        var spans = receiver.Spans.ToList();
        var byId = spans.GroupBy(s => s.Span.SpanId).ToDictionary(g => g.Key, g => g.First());
        // The traced call is the one ingest whose trace holds all four steps (the first batch came before any encoder
        // was served, so its refreshes neither embedded nor assigned). Chosen by content, not by the order in which
        // export batches arrived.
        string[] steps = ["log append", "fold", "embed", "assign"];
        var ingestTraces = spans
            .Where(s => s.Scope == "Microsoft.AspNetCore" && s.Span.ParentSpanId.IsEmpty && s.Span.Name.Contains("IngestEvents", StringComparison.Ordinal))
            .Select(root => spans.Where(s => s.Span.TraceId == root.Span.TraceId).ToList())
            .ToList();
        Assert.NotEmpty(ingestTraces);
        var trace = ingestTraces.FirstOrDefault(t => steps.All(step => t.Any(s => s.Span.Name == step)));
        Assert.True(trace is not null, "no IngestEvents trace holds " + string.Join(", ", steps) + "; traces seen: "
            + string.Join(" | ", ingestTraces.Select(t => string.Join(", ", t.Select(s => s.Span.Name).Distinct()))));
        Assert.NotNull(trace);

        var server_ = Assert.Single(trace, s => s.Scope == "Microsoft.AspNetCore" && s.Span.ParentSpanId.IsEmpty);
        Assert.Contains("IngestEvents", server_.Span.Name, StringComparison.Ordinal);
        var grainCall = trace.Where(s => s.Scope == "Microsoft.Orleans.Application").ToList();
        Assert.NotEmpty(grainCall);
        foreach (var name in new[] { "log append", "fold", "embed", "assign" })
        {
            var span = trace.First(s => s.Span.Name == name);
            var ancestors = Ancestors(span.Span, byId).ToList();
            Assert.Contains(ancestors, a => a.Scope == "Microsoft.Orleans.Application");
            Assert.Contains(ancestors, a => a.Span.SpanId == server_.Span.SpanId);
        }

        Assert.Contains("segmentation.events.ingested", receiver.Metrics.Keys);
        Assert.Contains(receiver.Metrics.Values, scope => scope == "Microsoft.Orleans");
        Assert.Contains("segmentation.inference.batch.size", receiver.Metrics.Keys);
    }

    private static IEnumerable<(string Scope, Otlp.Span Span)> Ancestors(Otlp.Span span, Dictionary<ByteString, (string Scope, Otlp.Span Span)> byId)
    {
        var current = span;
        while (!current.ParentSpanId.IsEmpty && byId.TryGetValue(current.ParentSpanId, out var parent))
        {
            yield return parent;
            current = parent.Span;
        }
    }
}
