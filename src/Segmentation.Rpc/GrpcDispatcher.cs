using Microsoft.AspNetCore.Http;
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
    private static readonly StringValues s_contentType = new(GrpcProtocol.ContentType);
    private static readonly StringValues s_acceptEncoding = new(GrpcProtocol.SupportedEncodings);

    private readonly GrpcServiceRegistry _registry;
    private readonly GrpcServerOptions _options;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private volatile bool _draining;

    /// <summary>Creates the dispatcher over a finished registry.</summary>
    public GrpcDispatcher(GrpcServiceRegistry registry, GrpcServerOptions options, ILoggerFactory loggerFactory)
    {
        _registry = registry;
        _options = options;
        _logger = loggerFactory.CreateLogger<GrpcDispatcher>();
    }

    /// <summary>Calls in flight.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Graceful shutdown: new calls get UNAVAILABLE from now on; calls in flight continue.</summary>
    public void BeginDrain()
    {
        _draining = true;
        if (InFlight == 0)
        {
            _idle.TrySetResult();
        }
    }

    /// <summary>Completes when draining and no call is in flight.</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken) => _idle.Task.WaitAsync(cancellationToken);

    /// <summary>Serves one HTTP request as a gRPC call.</summary>
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

        if (_draining)
        {
            TrailersOnly(response, StatusCode.Unavailable, "The server is shutting down.");
            return;
        }

        var encoding = request.Headers[GrpcProtocol.EncodingHeader].ToString();
        var compressed = encoding.Length > 0 && !encoding.Equals(GrpcProtocol.IdentityEncoding, StringComparison.OrdinalIgnoreCase);
        if (compressed && !encoding.Equals(GrpcProtocol.GzipEncoding, StringComparison.OrdinalIgnoreCase))
        {
            TrailersOnly(response, StatusCode.Unimplemented, $"Unsupported grpc-encoding '{encoding}'; supported: {GrpcProtocol.SupportedEncodings}.");
            return;
        }

        var timeoutHeader = request.Headers[GrpcProtocol.TimeoutHeader];
        TimeSpan? timeout = null;
        if (timeoutHeader.Count > 0)
        {
            if (!GrpcProtocol.TryParseTimeout(timeoutHeader.ToString(), out var parsed))
            {
                TrailersOnly(response, StatusCode.Internal, $"Malformed grpc-timeout '{timeoutHeader}'.");
                return;
            }

            timeout = parsed;
        }

        Interlocked.Increment(ref _inFlight);
        try
        {
            await RunCallAsync(http, method, compressed, timeout);
        }
        finally
        {
            if (Interlocked.Decrement(ref _inFlight) == 0 && _draining)
            {
                _idle.TrySetResult();
            }
        }
    }

    private async Task RunCallAsync(HttpContext http, ServerMethod method, bool compressed, TimeSpan? timeout)
    {
        using var deadlineSource = timeout is null ? null : new CancellationTokenSource(timeout.Value);
        using var callSource = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadlineSource?.Token ?? CancellationToken.None);
        var deadline = timeout is { } t ? TimeProvider.System.GetUtcNow().UtcDateTime.Add(t) : DateTime.MaxValue;
        var call = new ServerCall(http, _options, compressed);
        var context = new ServerCallContext(http, method.Path, deadline, callSource.Token, ReadMetadata(http.Request.Headers));
        call.Context = context;

        var handler = Invoke(method, call, context, 0);
        if (deadlineSource is not null)
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
            await call.FinishAsync(StatusCode.OK, "", context.ResponseTrailers);
        }
        catch (RpcException ex)
        {
            await call.FinishAsync(ex.StatusCode, ex.Detail, MergeTrailers(context.ResponseTrailers, ex.Trailers));
        }
        catch (OperationCanceledException) when (deadlineSource?.IsCancellationRequested == true)
        {
            await call.FinishAsync(StatusCode.DeadlineExceeded, "Deadline exceeded.", null);
        }
        catch (Exception ex) when (http.RequestAborted.IsCancellationRequested)
        {
            RpcLog.CallCancelled(_logger, method.Path, ex.GetType().Name);
            await call.FinishAsync(StatusCode.Cancelled, "Call cancelled by the client.", null);
        }
        catch (Exception ex)
        {
            RpcLog.HandlerFailed(_logger, method.Path, ex);
            await call.FinishAsync(StatusCode.Unknown, "Exception was thrown by handler.", null);
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

    private static void TrailersOnly(HttpResponse response, StatusCode status, string message)
    {
        response.Headers[GrpcProtocol.StatusTrailer] = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers[GrpcProtocol.MessageTrailer] = GrpcProtocol.EncodeMessage(message);
    }

    private static Metadata ReadMetadata(IHeaderDictionary headers)
    {
        var metadata = new Metadata();
        foreach (var (key, values) in headers)
        {
            foreach (var value in values)
            {
                metadata.AddFromWire(key, value);
            }
        }

        return metadata;
    }

    private static Metadata MergeTrailers(Metadata context, Metadata exception)
    {
        if (exception.Count == 0)
        {
            return context;
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
