using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Segmentation.Rpc.Internal;

/// <summary>A bound method: reads its requests, runs the handler, writes its responses.</summary>
internal abstract class ServerMethod(MethodDescriptor descriptor)
{
    public MethodDescriptor Descriptor { get; } = descriptor;

    public string Path { get; } = GrpcServiceRegistry.PathOf(descriptor);

    public abstract Task RunAsync(ServerCall call, ServerCallContext context);
}

internal sealed class UnaryMethod<TRequest, TResponse>(MethodDescriptor descriptor, Func<TRequest, ServerCallContext, Task<TResponse>> handler)
    : ServerMethod(descriptor)
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>
{
    private static readonly MessageParser<TRequest> s_parser = new(() => new TRequest());

    public override async Task RunAsync(ServerCall call, ServerCallContext context)
    {
        var request = await call.ReadSingleMessageAsync(s_parser, context.CancellationToken);
        var response = await handler(request, context);
        await call.WriteMessageAsync(response, flush: false, context.CancellationToken);
    }
}

internal sealed class ClientStreamingMethod<TRequest, TResponse>(MethodDescriptor descriptor, Func<IAsyncEnumerable<TRequest>, ServerCallContext, Task<TResponse>> handler)
    : ServerMethod(descriptor)
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>
{
    private static readonly MessageParser<TRequest> s_parser = new(() => new TRequest());

    public override async Task RunAsync(ServerCall call, ServerCallContext context)
    {
        var response = await handler(call.ReadAllAsync(s_parser, context.CancellationToken), context);
        await call.WriteMessageAsync(response, flush: false, context.CancellationToken);
    }
}

internal sealed class ServerStreamingMethod<TRequest, TResponse>(MethodDescriptor descriptor, Func<TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
    : ServerMethod(descriptor)
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>
{
    private static readonly MessageParser<TRequest> s_parser = new(() => new TRequest());

    public override async Task RunAsync(ServerCall call, ServerCallContext context)
    {
        var request = await call.ReadSingleMessageAsync(s_parser, context.CancellationToken);
        await handler(request, new ServerStreamWriter<TResponse>(call), context);
    }
}

internal sealed class DuplexStreamingMethod<TRequest, TResponse>(MethodDescriptor descriptor, Func<IAsyncEnumerable<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
    : ServerMethod(descriptor)
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>
{
    private static readonly MessageParser<TRequest> s_parser = new(() => new TRequest());

    public override Task RunAsync(ServerCall call, ServerCallContext context) =>
        handler(call.ReadAllAsync(s_parser, context.CancellationToken), new ServerStreamWriter<TResponse>(call), context);
}
