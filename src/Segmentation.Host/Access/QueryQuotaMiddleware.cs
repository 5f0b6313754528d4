using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting.Internal;

namespace Segmentation.Host.Access;

/// <summary>
/// Spends one token of the caller's query bucket (<see cref="KeyRateLimiters"/>) for every call that is not ingest,
/// right after authorization and before grpc-dotnet reads the request: a key flooding over its quota is refused at
/// the least cost to everyone else (no message parsed, no handler run). Over quota, a call whose turn at the key's
/// rate is within <see cref="RateLimitOptions.QueryWait"/> is held until then and served; any other gets a
/// trailers-only RESOURCE_EXHAUSTED with the wait in the message and in <c>grpc-retry-pushback-ms</c>. Ingest is metered per event by
/// <see cref="RateLimitInterceptor"/>, which needs the message. Calls without a stored key's quota pass untouched.
/// HTTP/JSON (transcoded) calls spend the same bucket and are refused with HTTP 429, <c>Retry-After</c> and the JSON
/// error body.
/// </summary>
internal sealed class QueryQuotaMiddleware
{
    private readonly RequestDelegate _next;
    private readonly KeyRateLimiters _limiters;
    private readonly TimeSpan _wait;
    private readonly TimeSpan _refusalDelay;
    private readonly TimeProvider _clock;

    public QueryQuotaMiddleware(RequestDelegate next, KeyRateLimiters limiters, SegmentationOptions options, TimeProvider clock)
    {
        _next = next;
        _limiters = limiters;
        _wait = options.Auth.RateLimits.QueryWait;
        _refusalDelay = options.Auth.RateLimits.RefusalDelay;
        _clock = clock;
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<ApiCaller>() is { Key: { } key } caller
            && JsonCalls.MethodOf(context) is { } method
            && RpcAccess.For(method).Scope != AccessScope.Ingest
            && _limiters.For(key, ingest: false) is { } bucket)
        {
            using var lease = bucket.Acquire(1);
            if (!lease.IsAcquired)
            {
                return bucket.TryTakeSlot(lease, 1, _wait, out var waitMs)
                    ? HoldThenRunAsync(context, bucket, caller, waitMs)
                    : _refusalDelay > TimeSpan.Zero ? DelayThenRefuseAsync(context, caller, waitMs)
                    : RefuseAsync(context, caller, waitMs);
            }
        }

        return _next(context);
    }

    // The call's slot is near: wait for it (no thread held, the message not read), then take the token it was kept.
    private async Task HoldThenRunAsync(HttpContext context, KeyBucket bucket, ApiCaller caller, long waitMs)
    {
        // A millisecond more: timers count whole milliseconds and may fire a fraction early, before the token is whole.
        if (!await HoldAsync(context, TimeSpan.FromMilliseconds(waitMs + 1)))
        {
            return;
        }

        using (var lease = bucket.Acquire(1))
        {
            if (!lease.IsAcquired)
            {
                // A slot is a turn, not a reservation: a call that arrived on a token's heels took it. Refused once.
                await RefuseAsync(context, caller, bucket.PushbackMilliseconds(lease, 1));
                return;
            }
        }

        await _next(context);
    }

    // The refusal held for RefusalDelay (at most its own hint): a client that ignores hints gets its refusals no faster.
    private async Task DelayThenRefuseAsync(HttpContext context, ApiCaller caller, long pushbackMs)
    {
        var delay = TimeSpan.FromMilliseconds(pushbackMs) < _refusalDelay ? TimeSpan.FromMilliseconds(pushbackMs) : _refusalDelay;
        if (await HoldAsync(context, delay))
        {
            await RefuseAsync(context, caller, Math.Max(1, pushbackMs - (long)delay.TotalMilliseconds));
        }
    }

    // Holds the call (no thread, its message unread) for `delay`; false when the client went away meanwhile, and then
    // there is nothing to answer (counted CANCELLED).
    private async Task<bool> HoldAsync(HttpContext context, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _clock, context.RequestAborted);
            return true;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return false;
        }
    }

    private static Task RefuseAsync(HttpContext context, ApiCaller caller, long pushbackMs)
    {
        var message = QuotaRefusal.Message(caller, ingest: false, pushbackMs);
        if (JsonCalls.IsTranscoded(context))
        {
            // HTTP/JSON: 429 with the standard Retry-After (whole seconds) and the JSON error body.
            return JsonCalls.RefuseAsync(context.Response, StatusCode.ResourceExhausted, message, pushbackMs);
        }

        GrpcAuthorizationResultHandler.Refuse(context.Response, StatusCode.ResourceExhausted, message);
        context.Response.Headers[QuotaRefusal.PushbackHeader] = pushbackMs.ToString(CultureInfo.InvariantCulture);
        return Task.CompletedTask;
    }
}

/// <summary>How a call over its key's quota is told so.</summary>
internal static class QuotaRefusal
{
    /// <summary>gRPC's server pushback: how long the client should wait before trying again.</summary>
    public const string PushbackHeader = "grpc-retry-pushback-ms";

    /// <summary>The status message: which key, which quota, how long to wait.</summary>
    public static string Message(ApiCaller caller, bool ingest, long pushbackMs) =>
        $"API key {caller.KeyId} is over its {(ingest ? "ingest quota (events/s)" : "query quota (calls/s)")}; retry after {pushbackMs} ms";
}
