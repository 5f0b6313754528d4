namespace Segmentation.Rpc;

/// <summary>
/// A call ended with a non-OK status. Thrown by handlers to answer with that status (the detail is sent to the
/// client, so it must say what is wrong without leaking internals), and by the client when a call fails.
/// </summary>
public sealed class RpcException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RpcException(StatusCode statusCode, string detail, Metadata? trailers = null)
        : base($"Status({statusCode}, \"{detail}\")")
    {
        StatusCode = statusCode;
        Detail = detail;
        Trailers = trailers ?? new Metadata();
    }

    /// <summary>The status.</summary>
    public StatusCode StatusCode { get; }

    /// <summary>The status message.</summary>
    public string Detail { get; }

    /// <summary>Trailing metadata (client side: what the server sent).</summary>
    public Metadata Trailers { get; }
}
