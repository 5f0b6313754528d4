using System.Globalization;
using System.Threading.RateLimiting;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Access;

/// <summary>
/// Spends the caller's quota before a call runs (<see cref="KeyRateLimiters"/>): each event of an ingest batch counts
/// against the key's ingest bucket (for <c>StreamEvents</c>, batch by batch as they arrive), every other call one token
/// of its query bucket. Over quota: RESOURCE_EXHAUSTED, with the wait in the message and in the
/// <c>grpc-retry-pushback-ms</c> trailer (gRPC's server pushback). Batches of a stream before the refused one stay
/// stored. Calls without a key (the open loopback default) are not limited.
/// </summary>
internal sealed class RateLimitInterceptor : Interceptor
{
    private readonly KeyRateLimiters _limiters;

    public RateLimitInterceptor(KeyRateLimiters limiters) => _limiters = limiters;

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (Bucket(context, out var ingest) is { } bucket)
        {
            Spend(bucket, ingest && request is IngestEventsRequest batch ? batch.Events.Count : 1, ingest, context);
        }

        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (Bucket(context, out var ingest) is not { } bucket)
        {
            return continuation(requestStream, context);
        }

        if (!ingest)
        {
            Spend(bucket, 1, ingest, context);
            return continuation(requestStream, context);
        }

        return continuation(new MeteredReader<TRequest>(requestStream, bucket, context), context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (Bucket(context, out var ingest) is { } bucket)
        {
            Spend(bucket, 1, ingest, context);
        }

        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (Bucket(context, out var ingest) is { } bucket)
        {
            Spend(bucket, 1, ingest, context);
        }

        return continuation(requestStream, responseStream, context);
    }

    private KeyBucket? Bucket(ServerCallContext context, out bool ingest)
    {
        ingest = false;
        if (context.GetHttpContext().Features.Get<ApiCaller>()?.Key is not { } key)
        {
            return null;
        }

        ingest = RpcAccess.For(context.Method).Scope == AccessScope.Ingest;
        return _limiters.For(key, ingest);
    }

    internal static void Spend(KeyBucket bucket, int permits, bool ingest, ServerCallContext context)
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

        using var lease = bucket.Limiter.AttemptAcquire(permits);
        if (lease.IsAcquired)
        {
            return;
        }

        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        var pushbackMs = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalMilliseconds));
        throw new RpcException(
            new Status(StatusCode.ResourceExhausted,
                $"API key {caller.KeyId} is over its {(ingest ? "ingest quota (events/s)" : "query quota (calls/s)")}; retry after {pushbackMs} ms"),
            new Metadata { { "grpc-retry-pushback-ms", pushbackMs.ToString(CultureInfo.InvariantCulture) } });
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

            Spend(_bucket, _inner.Current is IngestEventsRequest batch ? batch.Events.Count : 1, ingest: true, _context);
            return true;
        }
    }
}
