using System.Runtime.CompilerServices;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;

namespace Segmentation.Testing;

/// <summary>
/// Per-call settings for <see cref="ChannelCalls"/>: a timeout, headers, gzip of the request, cancellation. A call without
/// a timeout gets <see cref="HangGuard"/>: a server that never answers fails the test with DEADLINE_EXCEEDED instead of
/// holding the run.
/// </summary>
internal readonly record struct CallSettings(TimeSpan? Timeout = null, Metadata? Headers = null, bool Compress = false, CancellationToken CancellationToken = default)
{
    /// <summary>The deadline of a call that names none: far beyond any answer, a guard against a hang, not a measurement.</summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(3);

    public CallOptions ToCallOptions()
    {
        var headers = Headers;
        if (Compress)
        {
            // Grpc.Net.Client's way to ask for a compressed request message.
            headers = headers is null ? [] : [.. headers];
            headers.Add("grpc-internal-encoding-request", "gzip");
        }

        return new CallOptions(headers, DateTime.UtcNow.Add(Timeout ?? HangGuard), CancellationToken);
    }
}

/// <summary>
/// Calls any method of a generated contract by its protobuf descriptor, through Grpc.Net.Client's
/// <see cref="CallInvoker"/>: for tests that pick methods from descriptors. Typed code uses the generated clients.
/// </summary>
internal static class ChannelCalls
{
    public static async Task<TResponse> UnaryAsync<TRequest, TResponse>(this GrpcChannel channel, MethodDescriptor method, TRequest request, CallSettings settings = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        using var call = channel.CreateCallInvoker().AsyncUnaryCall(Method<TRequest, TResponse>(MethodType.Unary, method), null, settings.ToCallOptions(), request);
        return await call.ResponseAsync;
    }

    public static async Task<TResponse> ClientStreamingAsync<TRequest, TResponse>(this GrpcChannel channel, MethodDescriptor method, IAsyncEnumerable<TRequest> requests, CallSettings settings = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        using var call = channel.CreateCallInvoker().AsyncClientStreamingCall(Method<TRequest, TResponse>(MethodType.ClientStreaming, method), null, settings.ToCallOptions());
        await foreach (var request in requests.WithCancellation(settings.CancellationToken))
        {
            await call.RequestStream.WriteAsync(request, settings.CancellationToken);
        }

        await call.RequestStream.CompleteAsync();
        return await call.ResponseAsync;
    }

    public static async IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(
        this GrpcChannel channel, MethodDescriptor method, TRequest request, CallSettings settings = default, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        using var call = channel.CreateCallInvoker().AsyncServerStreamingCall(Method<TRequest, TResponse>(MethodType.ServerStreaming, method), null, settings.ToCallOptions(), request);
        await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            yield return response;
        }
    }

    private static Method<TRequest, TResponse> Method<TRequest, TResponse>(MethodType type, MethodDescriptor method)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        new(type, method.Service.FullName, method.Name, Codec<TRequest>.Instance, Codec<TResponse>.Instance);

    private static class Codec<T>
        where T : class, IMessage<T>, new()
    {
        public static readonly Marshaller<T> Instance = Marshallers.Create(static m => m.ToByteArray(), static bytes => new MessageParser<T>(() => new T()).ParseFrom(bytes));
    }
}
