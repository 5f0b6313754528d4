using System.Globalization;
using System.Threading.RateLimiting;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http;
using Segmentation.Host.Hosting.Internal;

namespace Segmentation.Host.Access;

/// <summary>
/// Caps the unary calls one key has running at once (<see cref="Configuration.RateLimitOptions.CallsInFlight"/>):
/// a call past the cap waits in the key's queue, oldest first, before grpc-dotnet reads its message, and a call past
/// the queue (<see cref="Configuration.RateLimitOptions.QueuedCalls"/>) is refused RESOURCE_EXHAUSTED with a retry hint
/// (HTTP/JSON: 429 with <c>Retry-After</c>). A key flooding the host with callers then has at most that many calls
/// being parsed, served and answered at any time, so other tenants' calls queue behind a few of its calls rather than
/// behind all of them. Runs after <see cref="QueryQuotaMiddleware"/>: a call over its quota is refused without waiting.
/// Streaming calls and calls without a stored key (the open loopback default) pass untouched.
/// </summary>
internal sealed class CallsInFlightMiddleware
{
    /// <summary>
    /// The hint given with a refusal for a full queue. The queue holds <see cref="Configuration.RateLimitOptions.QueuedCalls"/>
    /// calls ahead of the retry, each a few milliseconds at most; a tenth of a second lets most of them finish.
    /// </summary>
    public const long FullQueuePushbackMilliseconds = 100;

    private readonly RequestDelegate _next;
    private readonly KeyRateLimiters _limiters;

    public CallsInFlightMiddleware(RequestDelegate next, KeyRateLimiters limiters)
    {
        _next = next;
        _limiters = limiters;
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<ApiCaller>() is not { Key: { } key } caller
            || !IsUnary(context)
            || _limiters.CallsInFlight(key) is not { } limiter)
        {
            return _next(context);
        }

        // A free slot and nobody queued: no wait, no allocation beyond the lease.
        var lease = limiter.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return RunAsync(context, lease);
        }

        lease.Dispose();
        return WaitThenRunAsync(context, limiter, caller);
    }

    private async Task RunAsync(HttpContext context, RateLimitLease lease)
    {
        using (lease)
        {
            await _next(context);
        }
    }

    private async Task WaitThenRunAsync(HttpContext context, ConcurrencyLimiter limiter, ApiCaller caller)
    {
        RateLimitLease lease;
        try
        {
            lease = await limiter.AcquireAsync(1, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away while its call waited: nothing to answer (counted CANCELLED).
            return;
        }

        if (lease.IsAcquired)
        {
            await RunAsync(context, lease);
            return;
        }

        lease.Dispose();
        var message = $"API key {caller.KeyId} has as many calls in flight and waiting as it may; retry after {FullQueuePushbackMilliseconds} ms";
        if (JsonCalls.IsTranscoded(context))
        {
            await JsonCalls.RefuseAsync(context.Response, StatusCode.ResourceExhausted, message, FullQueuePushbackMilliseconds);
            return;
        }

        GrpcAuthorizationResultHandler.Refuse(context.Response, StatusCode.ResourceExhausted, message);
        context.Response.Headers[QuotaRefusal.PushbackHeader] = FullQueuePushbackMilliseconds.ToString(CultureInfo.InvariantCulture);
    }

    // Unary gRPC methods and their HTTP/JSON routes; a streaming call would hold its slot for as long as it stays open.
    private static bool IsUnary(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        if (metadata?.GetMetadata<GrpcMethodMetadata>() is { } grpc)
        {
            return grpc.Method.Type == MethodType.Unary;
        }

        return metadata?.GetMetadata<GrpcJsonTranscodingMetadata>() is { } json
            && !json.MethodDescriptor.IsClientStreaming && !json.MethodDescriptor.IsServerStreaming;
    }
}
