using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using Segmentation.Host.Internal;

namespace Segmentation.Host.Hosting.Internal;

/// <summary>
/// Logs every call that reaches a handler with its status and duration (off by default: <c>Segmentation:LogRequests</c>).
/// Registered outside <see cref="ErrorMappingInterceptor"/>, so it logs the status the client gets.
/// </summary>
internal sealed class RequestLogInterceptor : Interceptor
{
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;

    public RequestLogInterceptor(ILogger<RequestLogInterceptor> logger)
    {
        _logger = logger;
        _clock = TimeProvider.System;
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        LogAsync(context, () => continuation(request, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        LogAsync(context, () => continuation(requestStream, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        LogAsync(context, async () =>
        {
            await continuation(request, responseStream, context);
            return true;
        });

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        LogAsync(context, async () =>
        {
            await continuation(requestStream, responseStream, context);
            return true;
        });

    private async Task<T> LogAsync<T>(ServerCallContext context, Func<Task<T>> call)
    {
        var started = _clock.GetTimestamp();
        var status = "OK";
        try
        {
            return await call();
        }
        catch (RpcException ex)
        {
            status = GrpcCallStatistics.StatusName(ex.StatusCode);
            throw;
        }
        catch (Exception)
        {
            status = "error";
            throw;
        }
        finally
        {
            HostLog.Call(_logger, context.Method, status, _clock.GetElapsedTime(started).TotalMilliseconds);
        }
    }
}
