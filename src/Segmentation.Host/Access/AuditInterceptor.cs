using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Segmentation.Host.Access;

/// <summary>
/// Writes every audited call (<see cref="RpcRequirement.Audited"/>: the admin actions that change what is served) to the
/// <see cref="AuditLog"/> once it has finished (<see cref="AuditRecorder"/>), with its status, whether it succeeded or
/// failed. Sits outside the error mapping, so it records the status the caller got. A failure to write the entry is
/// logged at Error and does not change the call's result: the action has already happened.
/// </summary>
internal sealed class AuditInterceptor : Interceptor
{
    private readonly AuditRecorder _recorder;

    public AuditInterceptor(AuditRecorder recorder) => _recorder = recorder;

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

    private Task RecordAsync(ServerCallContext context, object? request, StatusCode status, string message) =>
        _recorder.RecordAsync(
            context.GetHttpContext().Features.Get<ApiCaller>() ?? ApiCaller.Anonymous, context.Method, request as IMessage, status, message, AuditRecorder.ViaApi);
}
