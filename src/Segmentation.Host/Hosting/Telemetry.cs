using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Segmentation.Host.Internal;
using Segmentation.Inference.Batching;

namespace Segmentation.Host.Hosting;

/// <summary>
/// OpenTelemetry for the host: traces, metrics and logs, exported over OTLP when the standard
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (environment or configuration), and off otherwise.
/// </summary>
/// <remarks>
/// Off means not registered at all: with no listener, <see cref="System.Diagnostics.ActivitySource.StartActivity(string, System.Diagnostics.ActivityKind)"/>
/// returns null and the ingest path pays nothing for its spans. The exporter reads the other standard variables itself
/// (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, <c>OTEL_SERVICE_NAME</c>, <c>OTEL_BSP_SCHEDULE_DELAY</c>,
/// <c>OTEL_METRIC_EXPORT_INTERVAL</c>, …).
/// </remarks>
public static class Telemetry
{
    /// <summary>The standard variable that turns export on.</summary>
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    // The logger behind ASP.NET Core's per-request Activity and logging scope.
    private const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>Orleans' sources and meter (from its own instrumentation).</summary>
    private static readonly string[] s_orleansSources =
    [
        // Grain calls, with AddActivityPropagation on the silo; the runtime source ticks a span every second
        // (timers, membership), so it is left out.
        "Microsoft.Orleans.Application",
        "Microsoft.Orleans.Lifecycle",
        "Microsoft.Orleans.Storage",
    ];

    /// <summary>Whether telemetry is on: <see cref="EndpointVariable"/> is set (environment or configuration).</summary>
    public static bool IsEnabled(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[EndpointVariable]);

    /// <summary>Adds OpenTelemetry when <see cref="EndpointVariable"/> is set; returns whether it did.</summary>
    public static bool AddSegmentationTelemetry(this WebApplicationBuilder builder)
    {
        if (!IsEnabled(builder.Configuration))
        {
            // ASP.NET Core starts an Activity and a logging scope for every request whenever its hosting logger is on at
            // any level, whether or not anything listens; nothing reads them here (its Information lines are filtered
            // out by default), and on a lookup they cost as much as the handler's own work. An operator who sets this
            // category's level gets it back.
            if (builder.Configuration[$"Logging:LogLevel:{HostingDiagnosticsCategory}"] is null)
            {
                builder.Logging.AddFilter(HostingDiagnosticsCategory, LogLevel.None);
            }

            return false;
        }

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName: "segmentation", serviceVersion: typeof(Telemetry).Assembly.GetName().Version?.ToString()))
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation()
                .AddSource(SegmentationDiagnostics.SourceName)
                .AddSource(s_orleansSources))
            .WithLogging(configureBuilder: null, configureOptions: logging =>
            {
                logging.IncludeFormattedMessage = true;
                logging.IncludeScopes = true;
            })
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                // Kestrel's connection and TLS meters, and the runtime's own meter (GC, thread pool, JIT) since .NET 9.
                .AddMeter("Microsoft.AspNetCore.Server.Kestrel", "System.Runtime", "Microsoft.Orleans")
                .AddMeter(SegmentationDiagnostics.MeterName, MicroBatchingEmbedder.MeterName))
            .UseOtlpExporter();
        return true;
    }
}
