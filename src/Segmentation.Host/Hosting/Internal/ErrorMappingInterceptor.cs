using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using Segmentation.Core.Errors;

namespace Segmentation.Host.Hosting.Internal;

/// <summary>
/// The one place where errors become gRPC statuses. Code below the edge throws <see cref="SegmentationException"/>s;
/// each <see cref="ErrorKind"/> maps to the status of the same name with the exception's message as detail. A client
/// that went away is logged at Information (an expected end, not a fault); any other exception is logged at Error and
/// answered UNKNOWN with a generic message, so no internals leak. Every detail is capped at
/// <see cref="MaxStatusMessageLength"/> characters. Stateless and thread-safe.
/// </summary>
internal sealed class ErrorMappingInterceptor : Interceptor
{
    /// <summary>Longest status message sent; longer ones are cut and end with "...".</summary>
    public const int MaxStatusMessageLength = 1_024;

    /// <summary>The detail sent for an exception that is not a domain one (no internals leak).</summary>
    public const string UnknownMessage = "Exception was thrown by handler.";

    private readonly ILogger _logger;
    private readonly TimeProvider _clock;

    /// <param name="clock">The wall clock that gRPC deadlines are measured against (transport time, not domain time).</param>
    public ErrorMappingInterceptor(ILogger<ErrorMappingInterceptor> logger, TimeProvider? clock = null)
    {
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
    }

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (ToRpcException(ex, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception ex) when (ToRpcException(ex, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception ex) when (ToRpcException(ex, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception ex) when (ToRpcException(ex, context) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>Caps a status message at <see cref="MaxStatusMessageLength"/> characters.</summary>
    public static string Cap(string message) =>
        message.Length <= MaxStatusMessageLength ? message : string.Concat(message.AsSpan(0, MaxStatusMessageLength - 3), "...");

    /// <summary>
    /// The status to send instead of <paramref name="exception"/>, or null to let grpc-dotnet handle it as it is (a
    /// deadline: grpc-dotnet has already answered DEADLINE_EXCEEDED, and the handler's cancellation is its echo).
    /// Runs in an exception filter, so a mapped exception keeps the handler's stack for the log.
    /// </summary>
    private RpcException? ToRpcException(Exception exception, ServerCallContext context)
    {
        switch (exception)
        {
            case SegmentationException:
                return new RpcException(StatusOf(exception));
            case RpcException rpc when rpc.Status.Detail.Length > MaxStatusMessageLength:
                return new RpcException(StatusOf(rpc), rpc.Trailers);
            case RpcException:
                return null;
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested && context.Deadline > _clock.GetUtcNow().UtcDateTime:
                // The call was aborted before its deadline: the client cancelled or went away (RST_STREAM, closed
                // connection), or the server is stopping. An expected end, not a fault.
                GrpcEdgeLog.CallCancelled(_logger, context.Method, exception.GetType().Name);
                return new RpcException(new Status(StatusCode.Cancelled, "Call cancelled by the client."));
            case OperationCanceledException when context.Deadline <= _clock.GetUtcNow().UtcDateTime:
                return null;
            default:
                GrpcEdgeLog.HandlerFailed(_logger, context.Method, exception);
                return new RpcException(StatusOf(exception));
        }
    }

    /// <summary>
    /// The status a handler's <paramref name="exception"/> is answered with, cancellation apart (which depends on the
    /// call: see the handlers): a domain error's kind and message, an <see cref="RpcException"/>'s own status, UNKNOWN
    /// with <see cref="UnknownMessage"/> for anything else; every detail capped (<see cref="Cap"/>). Also what the web
    /// console audits for an admin action it ran in-process.
    /// </summary>
    public static Status StatusOf(Exception exception) => exception switch
    {
        SegmentationException domain => new Status(ToStatusCode(domain.Kind), Cap(domain.Message)),
        RpcException rpc => new Status(rpc.StatusCode, Cap(rpc.Status.Detail)),
        _ => new Status(StatusCode.Unknown, UnknownMessage),
    };

    /// <summary>The status an <see cref="ErrorKind"/> is answered with.</summary>
    public static StatusCode ToStatusCode(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        ErrorKind.NotFound => StatusCode.NotFound,
        ErrorKind.AlreadyExists => StatusCode.AlreadyExists,
        ErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        ErrorKind.ResourceExhausted => StatusCode.ResourceExhausted,
        ErrorKind.Unavailable => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };
}
