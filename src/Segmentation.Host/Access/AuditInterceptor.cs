using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Segmentation.Host.Access;

/// <summary>
/// Writes every audited call (<see cref="RpcRequirement.Audited"/>: the admin actions that change what is served) to the
/// <see cref="AuditLog"/> once it has finished, with its status, whether it succeeded or failed. Sits outside the
/// error mapping, so it records the status the caller got. A failure to write the entry is logged at Error and does
/// not change the call's result: the action has already happened.
/// </summary>
internal sealed partial class AuditInterceptor : Interceptor
{
    private const int MaxRequestLength = 1_024;

    private readonly AuditLog _log;
    private readonly TimeProvider _wallClock;
    private readonly ILogger _logger;

    public AuditInterceptor(AuditLog log, TimeProvider wallClock, ILoggerFactory loggers)
    {
        _log = log;
        _wallClock = wallClock;
        _logger = loggers.CreateLogger("Segmentation.Audit");
    }

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (!RpcAccess.For(context.Method).Audited)
        {
            return await continuation(request, context);
        }

        try
        {
            var response = await continuation(request, context);
            await RecordAsync(context, request, StatusCode.OK, "");
            return response;
        }
        catch (RpcException ex)
        {
            await RecordAsync(context, request, ex.StatusCode, ex.Status.Detail);
            throw;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (!RpcAccess.For(context.Method).Audited)
        {
            return await continuation(requestStream, context);
        }

        try
        {
            var response = await continuation(requestStream, context);
            await RecordAsync(context, null, StatusCode.OK, "");
            return response;
        }
        catch (RpcException ex)
        {
            await RecordAsync(context, null, ex.StatusCode, ex.Status.Detail);
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (!RpcAccess.For(context.Method).Audited)
        {
            await continuation(request, responseStream, context);
            return;
        }

        try
        {
            await continuation(request, responseStream, context);
            await RecordAsync(context, request, StatusCode.OK, "");
        }
        catch (RpcException ex)
        {
            await RecordAsync(context, request, ex.StatusCode, ex.Status.Detail);
            throw;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (!RpcAccess.For(context.Method).Audited)
        {
            await continuation(requestStream, responseStream, context);
            return;
        }

        try
        {
            await continuation(requestStream, responseStream, context);
            await RecordAsync(context, null, StatusCode.OK, "");
        }
        catch (RpcException ex)
        {
            await RecordAsync(context, null, ex.StatusCode, ex.Status.Detail);
            throw;
        }
    }

    private async Task RecordAsync(ServerCallContext context, object? request, StatusCode status, string message)
    {
        var caller = context.GetHttpContext().Features.Get<ApiCaller>() ?? ApiCaller.Anonymous;
        var json = request is IMessage message1 ? JsonFormatter.Default.Format(message1) : "(stream)";
        if (json.Length > MaxRequestLength)
        {
            json = json[..MaxRequestLength] + "...";
        }

        var entry = new AuditRecord(_wallClock.GetUtcNow(), caller.Tenant, caller.KeyId, caller.KeyName, context.Method, json, Hosting.GrpcCallStatistics.StatusName(status), message);
        Audited(_logger, entry.Tenant, entry.KeyId, entry.Method, entry.Status, entry.Request);
        try
        {
            // Not the call's token: a caller that hung up after the action must not keep it out of the log.
            await _log.AppendAsync(entry, CancellationToken.None);
        }
        catch (Exception ex)
        {
            AuditWriteFailed(_logger, ex, entry.Tenant, entry.Method);
        }
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Audit: tenant {Tenant}, key {KeyId}, {Method} -> {Status}; request {Request}")]
    private static partial void Audited(ILogger logger, string tenant, string keyId, string method, string status, string request);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Error, Message = "Audit entry of tenant {Tenant} for {Method} could not be stored")]
    private static partial void AuditWriteFailed(ILogger logger, Exception exception, string tenant, string method);
}
