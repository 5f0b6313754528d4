using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Segmentation.Rpc.Internal;

namespace Segmentation.Rpc;

/// <summary>
/// The gRPC server: an ASP.NET Core request delegate (<c>app.Run(dispatcher.HandleAsync)</c>) that checks the
/// protocol, finds the method, applies the deadline, runs interceptors and handler, and ends every call with a status.
/// </summary>
/// <remarks>
/// Errors before any response message are sent trailers-only (status in the HEADERS frame). Handler failures map to
/// statuses: <see cref="RpcException"/> → its own; the deadline → DEADLINE_EXCEEDED (also when the handler ignores its
/// token: the status is sent at the deadline); the client going away → CANCELLED, logged at Information; anything else
/// → UNKNOWN with a generic message, logged with the exception. Thread-safe.
/// </remarks>
public sealed class GrpcDispatcher
{
    private static readonly StringValues s_acceptEncoding = new(GrpcProtocol.SupportedEncodings);

    private readonly GrpcServiceRegistry _registry;
    private readonly GrpcServerOptions _options;
    private readonly ILogger _logger;
    private int _inFlight;
    private volatile bool _draining;

    // Completed and cleared when the in-flight count reaches zero; null while nobody waits (the usual case, so the
    // per-call path only reads a field).
    private TaskCompletionSource? _idleWaiter;

    /// <summary>Creates the dispatcher over a finished registry; <paramref name="statistics"/> receives every call's status.</summary>
    public GrpcDispatcher(GrpcServiceRegistry registry, GrpcServerOptions options, ILoggerFactory loggerFactory, GrpcCallStatistics? statistics = null)
    {
        Statistics = statistics ?? new GrpcCallStatistics();
        _registry = registry;
        _options = options;
        _logger = loggerFactory.CreateLogger<GrpcDispatcher>();
    }

    /// <summary>Finished calls by status code since the dispatcher was created.</summary>
    public GrpcCallStatistics Statistics { get; }

    /// <summary>Calls in flight (accepted and not yet finished).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Graceful shutdown: new calls get UNAVAILABLE from now on; calls in flight continue. Idempotent.</summary>
    public void BeginDrain() => _draining = true;

    /// <summary>
    /// Completes when no call is in flight: at once if none is, else when the count next reaches zero. Call it after
    /// <see cref="BeginDrain"/>, or new calls may keep arriving.
    /// </summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        if (InFlight == 0)
        {
            return Task.CompletedTask;
        }

        var waiter = Volatile.Read(ref _idleWaiter);
        if (waiter is null)
        {
            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waiter = Interlocked.CompareExchange(ref _idleWaiter, created, null) ?? created;
        }

        // The last call may have finished between the count check and publishing the waiter, and then saw no waiter:
        // check again now that it is published (both sides use interlocked operations, so one of them sees the other).
        if (InFlight == 0)
        {
            SignalIdle();
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Serves one HTTP request as a gRPC call. Never throws for protocol errors: they become statuses.</summary>
    public async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        if (!HttpProtocol.IsHttp2(request.Protocol) && !HttpProtocol.IsHttp3(request.Protocol))
        {
            http.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            http.Response.Headers.Upgrade = "h2c";
            http.Response.Headers.Connection = "Upgrade";
            return;
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            http.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        if (!GrpcProtocol.IsGrpcContentType(request.ContentType))
        {
            http.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }

        var response = http.Response;
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.AcceptEncodingHeader] = s_acceptEncoding;

        var path = request.Path.Value ?? "";
        if (!_registry.TryGetMethod(path, out var method))
        {
            TrailersOnly(response, StatusCode.Unimplemented, UnimplementedMessage(path));
            return;
        }

        var encoding = request.Headers[GrpcProtocol.EncodingHeader];
        var compressed = false;
        if (encoding.Count > 0 && !string.Equals(encoding.ToString(), GrpcProtocol.IdentityEncoding, StringComparison.OrdinalIgnoreCase))
        {
            if (!string.Equals(encoding.ToString(), GrpcProtocol.GzipEncoding, StringComparison.OrdinalIgnoreCase))
            {
                TrailersOnly(response, StatusCode.Unimplemented, $"Unsupported grpc-encoding '{encoding}'; supported: {GrpcProtocol.SupportedEncodings}.");
                return;
            }

            compressed = true;
        }

        TimeSpan? timeout = null;
        var timeoutHeader = request.Headers[GrpcProtocol.TimeoutHeader];
        if (timeoutHeader.Count > 0)
        {
            if (!GrpcProtocol.TryParseTimeout(timeoutHeader.ToString(), out var parsed))
            {
                TrailersOnly(response, StatusCode.Internal, $"Malformed grpc-timeout '{timeoutHeader}'.");
                return;
            }

            timeout = parsed < GrpcProtocol.MaxDeadline ? parsed : null;
        }

        // Count the call before looking at the drain flag: BeginDrain sets the flag before WhenIdleAsync reads the
        // count, so a call either sees the flag and is refused, or is counted and waited for.
        Interlocked.Increment(ref _inFlight);
        try
        {
            if (_draining)
            {
                TrailersOnly(response, StatusCode.Unavailable, "The server is shutting down.");
                return;
            }

            ConfigureBodyLimits(http, method);
            await RunCallAsync(http, method, compressed, timeout);
        }
        finally
        {
            if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _idleWaiter) is not null)
            {
                SignalIdle();
            }
        }
    }

    private void SignalIdle() => Interlocked.Exchange(ref _idleWaiter, null)?.TrySetResult();

    private async Task RunCallAsync(HttpContext http, ServerMethod method, bool compressed, TimeSpan? timeout)
    {
        // Without a deadline the call's token is the request's own: no sources to allocate on the common path.
        using var deadlineSource = timeout is { } t ? new CancellationTokenSource(t, _options.TimeProvider) : null;
        using var callSource = deadlineSource is null ? null : CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadlineSource.Token);
        var deadline = timeout is { } d ? _options.TimeProvider.GetUtcNow().UtcDateTime.Add(d) : DateTime.MaxValue;
        var context = new ServerCallContext(http, method.Path, deadline, callSource?.Token ?? http.RequestAborted);
        var call = new ServerCall(http, _options, compressed, context, Statistics);

        var handler = Invoke(method, call, context, 0);
        if (deadlineSource is not null && !handler.IsCompleted)
        {
            // The status goes out at the deadline even if the handler ignores its token.
            var deadlineTask = Task.Delay(Timeout.Infinite, deadlineSource.Token);
            if (await Task.WhenAny(handler, deadlineTask) == deadlineTask && !handler.IsCompleted)
            {
                await call.FinishAsync(StatusCode.DeadlineExceeded, "Deadline exceeded.", null);
                await http.Response.CompleteAsync();
                // The client has its status. Wait for the handler before returning: Kestrel recycles the HttpContext
                // once this method returns, and a late handler must not touch a context serving another call.
                try
                {
                    await handler;
                }
                catch (Exception ex)
                {
                    RpcLog.LateHandlerEnded(_logger, method.Path, ex.GetType().Name);
                }

                return;
            }
        }

        try
        {
            await handler;
            await call.FinishAsync(StatusCode.OK, "", context.ResponseTrailersOrNull);
        }
        catch (RpcException ex)
        {
            await call.FinishAsync(ex.StatusCode, ex.Detail, MergeTrailers(context.ResponseTrailersOrNull, ex.Trailers));
        }
        catch (OperationCanceledException) when (deadlineSource?.IsCancellationRequested == true)
        {
            await call.FinishAsync(StatusCode.DeadlineExceeded, "Deadline exceeded.", context.ResponseTrailersOrNull);
        }
        catch (Exception ex) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client cancelled or went away (RST_STREAM, closed connection), or the server aborted the call:
            // an expected end, not a server fault.
            RpcLog.CallCancelled(_logger, method.Path, ex.GetType().Name);
            await call.FinishAsync(StatusCode.Cancelled, "Call cancelled by the client.", null);
        }
        catch (Exception ex)
        {
            RpcLog.HandlerFailed(_logger, method.Path, ex);
            await call.FinishAsync(StatusCode.Unknown, "Exception was thrown by handler.", context.ResponseTrailersOrNull);
        }
    }

    /// <summary>
    /// gRPC frames its own messages, so Kestrel's whole-body size limit does not apply (the per-message limit does);
    /// and a client-streaming call may rightly pause between messages, so no minimum upload rate either.
    /// </summary>
    private static void ConfigureBodyLimits(HttpContext http, ServerMethod method)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } maxSize)
        {
            maxSize.MaxRequestBodySize = null;
        }

        if (method.Descriptor.IsClientStreaming && http.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } minRate)
        {
            minRate.MinDataRate = null;
        }
    }

    private Task Invoke(ServerMethod method, ServerCall call, ServerCallContext context, int interceptor)
    {
        var interceptors = _registry.Interceptors;
        if (interceptor == interceptors.Count)
        {
            return method.RunAsync(call, context);
        }

        return interceptors[interceptor].InterceptAsync(context, () => Invoke(method, call, context, interceptor + 1));
    }

    private string UnimplementedMessage(string path)
    {
        var slash = path.LastIndexOf('/');
        var service = slash > 1 ? path[1..slash] : "";
        return _registry.HasService(service)
            ? $"Method '{path[(slash + 1)..]}' is not implemented by service '{service}'."
            : $"Service '{service}' is not implemented.";
    }

    private void TrailersOnly(HttpResponse response, StatusCode status, string message)
    {
        Statistics.Record(status);
        response.Headers[GrpcProtocol.StatusTrailer] = GrpcProtocol.StatusToString(status);
        response.Headers[GrpcProtocol.MessageTrailer] = GrpcProtocol.EncodeMessage(message);
    }

    private static Metadata? MergeTrailers(Metadata? context, Metadata exception)
    {
        if (exception.Count == 0)
        {
            return context;
        }

        if (context is null)
        {
            return exception;
        }

        foreach (var entry in exception)
        {
            if (entry.IsBinary)
            {
                context.Add(entry.Key, entry.ValueBytes!);
            }
            else
            {
                context.Add(entry.Key, entry.Value!);
            }
        }

        return context;
    }
}

internal static partial class RpcLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "Handler of {Method} threw; the client gets UNKNOWN")]
    public static partial void HandlerFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Debug, Message = "Handler of {Method} ended after its deadline ({Exception})")]
    public static partial void LateHandlerEnded(ILogger logger, string method, string exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Call {Method} was cancelled by the client ({Exception})")]
    public static partial void CallCancelled(ILogger logger, string method, string exception);
}
