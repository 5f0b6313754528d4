using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Segmentation.Host.Tests.Telemetry.Otlp;

namespace Segmentation.Host.Tests.Telemetry;

/// <summary>
/// An OTLP/HTTP receiver (binary protobuf on <c>/v1/traces</c> and <c>/v1/metrics</c>) on a free loopback port, keeping
/// what it was sent: a real peer for the host's exporter, in the test process.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>Every span received, with its scope (activity source) name.</summary>
    public ConcurrentQueue<(string Scope, Span Span)> Spans { get; } = new();

    /// <summary>Every metric name received, with its scope (meter) name.</summary>
    public ConcurrentDictionary<string, string> Metrics { get; } = new();

    /// <summary>The base address to give as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async context =>
        {
            var request = ExportTraceServiceRequest.Parser.ParseFrom(await ReadBodyAsync(context));
            foreach (var scopeSpans in request.ResourceSpans.SelectMany(r => r.ScopeSpans))
            {
                foreach (var span in scopeSpans.Spans)
                {
                    receiver.Spans.Enqueue((scopeSpans.Scope?.Name ?? "", span));
                }
            }

            await AnswerAsync(context);
        });
        app.MapPost("/v1/metrics", async context =>
        {
            var request = ExportMetricsServiceRequest.Parser.ParseFrom(await ReadBodyAsync(context));
            foreach (var scopeMetrics in request.ResourceMetrics.SelectMany(r => r.ScopeMetrics))
            {
                foreach (var metric in scopeMetrics.Metrics)
                {
                    receiver.Metrics[metric.Name] = scopeMetrics.Scope?.Name ?? "";
                }
            }

            await AnswerAsync(context);
        });
        app.MapPost("/v1/logs", AnswerAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        receiver.Endpoint = new Uri(address);
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    // An empty Export*ServiceResponse: full success.
    private static Task AnswerAsync(HttpContext context)
    {
        context.Response.ContentType = "application/x-protobuf";
        return context.Response.Body.WriteAsync(ReadOnlyMemory<byte>.Empty).AsTask();
    }
}
