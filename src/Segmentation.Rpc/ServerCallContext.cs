using Microsoft.AspNetCore.Http;

namespace Segmentation.Rpc;

/// <summary>
/// What a handler knows about its call. One per call; valid until the handler's task completes. Not thread-safe:
/// <see cref="ResponseTrailers"/> is meant to be filled by the handler's own flow.
/// </summary>
public sealed class ServerCallContext
{
    private Metadata? _requestHeaders;
    private Metadata? _responseTrailers;

    internal ServerCallContext(HttpContext httpContext, string method, DateTime deadline, CancellationToken cancellationToken)
    {
        HttpContext = httpContext;
        Method = method;
        Deadline = deadline;
        CancellationToken = cancellationToken;
    }

    /// <summary>The method's path, <c>/package.Service/Method</c>.</summary>
    public string Method { get; }

    /// <summary>The client's address in gRPC's peer form: <c>ipv4:127.0.0.1:5000</c> or <c>ipv6:[::1]:5000</c>.</summary>
    public string Peer
    {
        get
        {
            var connection = HttpContext.Connection;
            return connection.RemoteIpAddress switch
            {
                null => "unknown",
                { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } ip => $"ipv6:[{ip}]:{connection.RemotePort}",
                var ip => $"ipv4:{ip}:{connection.RemotePort}",
            };
        }
    }

    /// <summary>The deadline (UTC); <see cref="DateTime.MaxValue"/> when the client set none.</summary>
    public DateTime Deadline { get; }

    /// <summary>Fires when the deadline passes, the client cancels or goes away, or the server aborts the call.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The client's custom metadata (protocol headers excluded; <c>-bin</c> values decoded).</summary>
    /// <remarks>Built from the HTTP/2 headers on first use, so calls that never look pay nothing.</remarks>
    public Metadata RequestHeaders => _requestHeaders ??= Metadata.FromHeaders(HttpContext.Request.Headers);

    /// <summary>Metadata to send with the status at the end of the call (also when the handler throws).</summary>
    public Metadata ResponseTrailers => _responseTrailers ??= new Metadata();

    /// <summary>The underlying HTTP/2 exchange.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>The trailers the handler added, or null when it added none.</summary>
    internal Metadata? ResponseTrailersOrNull => _responseTrailers;
}

/// <summary>Writes messages of a server-streaming or duplex call. One write at a time.</summary>
public interface IServerStreamWriter<in T>
{
    /// <summary>Sends one message.</summary>
    Task WriteAsync(T message, CancellationToken cancellationToken = default);
}

/// <summary>Runs around every call (logging, metrics). Exceptions propagate to the status mapping.</summary>
public interface IServerInterceptor
{
    /// <summary>Calls <paramref name="next"/> to continue the call.</summary>
    Task InterceptAsync(ServerCallContext context, Func<Task> next);
}

/// <summary>Server settings.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>Largest accepted request message; bigger ones get RESOURCE_EXHAUSTED before their body is read.</summary>
    public int MaxReceiveMessageSize { get; set; } = GrpcProtocol.DefaultMaxMessageSize;

    /// <summary>Largest response message sent; bigger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxSendMessageSize { get; set; } = int.MaxValue;

    /// <summary>The clock of call deadlines (<c>grpc-timeout</c>) and <see cref="ServerCallContext.Deadline"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
