using System.Globalization;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Access;

/// <summary>
/// Spends the caller's ingest quota before an ingest call runs (<see cref="KeyRateLimiters"/>): each event of a batch
/// counts (for <c>StreamEvents</c>, batch by batch as they arrive). Over quota: RESOURCE_EXHAUSTED, with the wait in the
/// message and in the <c>grpc-retry-pushback-ms</c> trailer (gRPC's server pushback). Batches of a stream before the
/// refused one stay stored. Other calls are metered before they reach grpc-dotnet (<see cref="QueryQuotaMiddleware"/>);
/// calls without a key (the open loopback default) are not limited.
/// </summary>
internal sealed class RateLimitInterceptor : Interceptor
{
    private readonly KeyRateLimiters _limiters;

    public RateLimitInterceptor(KeyRateLimiters limiters) => _limiters = limiters;

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (IngestBucket(context) is { } bucket)
        {
            Spend(bucket, request is IngestEventsRequest batch ? batch.Events.Count : 1, context);
        }

        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        IngestBucket(context) is { } bucket
            ? continuation(new MeteredReader<TRequest>(requestStream, bucket, context), context)
            : continuation(requestStream, context);

    // Only ingest methods are metered here, and both are unary or client-streaming.
    private KeyBucket? IngestBucket(ServerCallContext context) =>
        context.GetHttpContext().Features.Get<ApiCaller>()?.Key is { } key && RpcAccess.For(context.Method).Scope == AccessScope.Ingest
            ? _limiters.For(key, ingest: true)
            : null;

    private static void Spend(KeyBucket bucket, int permits, ServerCallContext context)
    {
        if (permits == 0)
        {
            return;
        }

        var caller = context.GetHttpContext().Features.Get<ApiCaller>()!;
        var burst = bucket.TokenLimit;
        if (permits > burst)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"events: a batch of {permits:N0} is more than API key {caller.KeyId} may send at once ({burst:N0} events); split it"));
        }

        using var lease = bucket.Acquire(permits);
        if (lease.IsAcquired)
        {
            return;
        }

        var pushbackMs = bucket.PushbackMilliseconds(lease, permits);
        // HTTP/JSON clients read the standard header (transcoding answers the status below with 429); gRPC clients the
        // pushback trailer.
        context.GetHttpContext().Response.Headers.RetryAfter = Hosting.Internal.JsonCalls.RetryAfterSeconds(pushbackMs);
        throw new RpcException(
            new Status(StatusCode.ResourceExhausted, QuotaRefusal.Message(caller, ingest: true, pushbackMs)),
            new Metadata { { QuotaRefusal.PushbackHeader, pushbackMs.ToString(CultureInfo.InvariantCulture) } });
    }

    /// <summary>A request stream that spends each batch's events from the ingest bucket as it is read.</summary>
    private sealed class MeteredReader<T> : IAsyncStreamReader<T>
    {
        private readonly IAsyncStreamReader<T> _inner;
        private readonly KeyBucket _bucket;
        private readonly ServerCallContext _context;

        public MeteredReader(IAsyncStreamReader<T> inner, KeyBucket bucket, ServerCallContext context)
        {
            _inner = inner;
            _bucket = bucket;
            _context = context;
        }

        public T Current => _inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!await _inner.MoveNext(cancellationToken))
            {
                return false;
            }

            Spend(_bucket, _inner.Current is IngestEventsRequest batch ? batch.Events.Count : 1, _context);
            return true;
        }
    }
}
