using Microsoft.AspNetCore.Http;

namespace Segmentation.Rpc;

/// <summary>What a handler knows about its call.</summary>
public sealed class ServerCallContext
{
    internal ServerCallContext(HttpContext httpContext, string method, DateTime deadline, CancellationToken cancellationToken, Metadata requestHeaders)
    {
        HttpContext = httpContext;
        Method = method;
        Deadline = deadline;
        CancellationToken = cancellationToken;
        RequestHeaders = requestHeaders;
    }

    /// <summary>The method's path, <c>/package.Service/Method</c>.</summary>
    public string Method { get; }

    /// <summary>The client's address.</summary>
    public string Peer => $"{HttpContext.Connection.RemoteIpAddress}:{HttpContext.Connection.RemotePort}";

    /// <summary>The deadline (UTC); <see cref="DateTime.MaxValue"/> when the client set none.</summary>
    public DateTime Deadline { get; }

    /// <summary>Fires when the deadline passes, the client cancels or goes away, or the server aborts the call.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The client's custom metadata (protocol headers excluded).</summary>
    public Metadata RequestHeaders { get; }

    /// <summary>Metadata to send with the status at the end of the call.</summary>
    public Metadata ResponseTrailers { get; } = new();

    /// <summary>The underlying HTTP/2 exchange.</summary>
    public HttpContext HttpContext { get; }
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
}
