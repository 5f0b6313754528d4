using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Segmentation.Host.Hosting.Internal;

/// <summary>
/// In front of the gRPC endpoints: counts calls in flight and finished calls by the status actually sent, and refuses
/// new calls with UNAVAILABLE while draining (health and reflection still answer, so a probe sees NOT_SERVING). Calls
/// over HTTP/JSON (transcoded) count the same, by the gRPC status their HTTP status stands for
/// (<see cref="JsonCalls.StatusOf"/>), and are refused while draining with HTTP 503 and the JSON error body.
/// </summary>
internal sealed class CallAccountingMiddleware
{
    private const string StatusHeader = "grpc-status";
    private const string ShuttingDown = "The server is shutting down.";

    private readonly RequestDelegate _next;
    private readonly GrpcCallStatistics _statistics;

    public CallAccountingMiddleware(RequestDelegate next, GrpcCallStatistics statistics)
    {
        _next = next;
        _statistics = statistics;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var json = false;
        if (!IsGrpc(context.Request.ContentType) && !(json = JsonCalls.IsTranscoded(context)))
        {
            // Neither a gRPC call nor one of its HTTP/JSON routes (grpc-dotnet answers 415 or 426-style errors itself):
            // nothing to count.
            await _next(context);
            return;
        }

        _statistics.Enter();
        try
        {
            if (_statistics.Draining && !IsAlwaysServed(context.Request.Path))
            {
                if (json)
                {
                    await JsonCalls.RefuseAsync(context.Response, StatusCode.Unavailable, ShuttingDown);
                }
                else
                {
                    RefuseWhileDraining(context.Response);
                }

                _statistics.Record(StatusCode.Unavailable);
                return;
            }

            await _next(context);
            _statistics.Record(json ? JsonStatus(context) : SentStatus(context));
        }
        finally
        {
            _statistics.Exit();
        }
    }

    private static bool IsGrpc(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    // Probes and tooling keep working during the drain: that is how a load balancer learns to stop sending calls.
    private static bool IsAlwaysServed(PathString path) =>
        path.StartsWithSegments("/grpc.health.v1.Health", StringComparison.Ordinal)
        || path.StartsWithSegments("/grpc.reflection.v1.ServerReflection", StringComparison.Ordinal)
        || path.StartsWithSegments("/grpc.reflection.v1alpha.ServerReflection", StringComparison.Ordinal);

    private static void RefuseWhileDraining(HttpResponse response)
    {
        // Trailers-only response: the status travels in the HEADERS frame, no message follows.
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers[StatusHeader] = ((int)StatusCode.Unavailable).ToString(CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = ShuttingDown;
    }

    // An HTTP/JSON call's status: its HTTP status mapped back, CANCELLED when the client went away first.
    private static StatusCode JsonStatus(HttpContext context) =>
        context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? StatusCode.Cancelled : JsonCalls.StatusOf(context.Response.StatusCode);

    /// <summary>
    /// The status grpc-dotnet sent: in the trailers, or in the headers of a trailers-only response. A call whose client
    /// went away before any status was written counts as CANCELLED.
    /// </summary>
    private static StatusCode SentStatus(HttpContext context)
    {
        var value = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers[StatusHeader] ?? default;
        if (value.Count == 0)
        {
            value = context.Response.Headers[StatusHeader];
        }

        if (value.Count > 0 && int.TryParse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            return (StatusCode)code;
        }

        return context.RequestAborted.IsCancellationRequested ? StatusCode.Cancelled : StatusCode.Unknown;
    }
}
