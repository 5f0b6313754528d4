using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace Segmentation.Rpc.Internal;

/// <summary>
/// One server call's use of its HTTP/2 stream: reading request frames, writing response frames, and ending with a
/// status. Response writes and the final status are serialized by one gate, and nothing is written after the status
/// (a handler still running past its deadline cannot touch the finished response).
/// </summary>
internal sealed class ServerCall
{
    private readonly HttpContext _http;
    private readonly PipeReader _body;
    private readonly int _maxReceive;
    private readonly int _maxSend;
    private readonly bool _compressedRequests;
    private readonly GrpcCallStatistics _statistics;
    private readonly SemaphoreSlim _responseGate = new(1, 1);
    private bool _responseStarted;
    private bool _finished;

    public ServerCall(HttpContext http, GrpcServerOptions options, bool compressedRequests, ServerCallContext context, GrpcCallStatistics statistics)
    {
        _http = http;
        _body = http.Request.BodyReader;
        _maxReceive = options.MaxReceiveMessageSize;
        _maxSend = options.MaxSendMessageSize;
        _compressedRequests = compressedRequests;
        _statistics = statistics;
        Context = context;
    }

    public ServerCallContext Context { get; }

    /// <summary>Reads the next request message; null at the end of the request stream.</summary>
    public async ValueTask<T?> ReadMessageAsync<T>(MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        while (true)
        {
            var result = await _body.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            MessageCodec.FrameStatus status;
            ReadOnlySequence<byte> payload;
            bool compressed;
            try
            {
                // The header is judged as soon as its 5 bytes are here: an oversized or malformed frame ends the call
                // before any of its body is buffered.
                status = MessageCodec.TryReadFrame(buffer, _maxReceive, _compressedRequests, out compressed, out payload);
            }
            catch (RpcException)
            {
                _body.AdvanceTo(buffer.Start);
                throw;
            }

            if (status == MessageCodec.FrameStatus.Complete)
            {
                try
                {
                    return MessageCodec.Parse(parser, payload, compressed, _maxReceive);
                }
                finally
                {
                    _body.AdvanceTo(payload.End);
                }
            }

            if (result.IsCompleted)
            {
                _body.AdvanceTo(buffer.End);
                if (buffer.Length == 0)
                {
                    return null;
                }

                throw new RpcException(StatusCode.Internal, "Request ended in the middle of a message frame.");
            }

            if (result.IsCanceled)
            {
                throw new OperationCanceledException(cancellationToken);
            }

            _body.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads the only message of a unary or server-streaming request.</summary>
    public async ValueTask<T> ReadSingleMessageAsync<T>(MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        var message = await ReadMessageAsync(parser, cancellationToken)
            ?? throw new RpcException(StatusCode.Internal, "Request has no message; a unary request carries exactly one.");
        if (await ReadMessageAsync(parser, cancellationToken) is not null)
        {
            throw new RpcException(StatusCode.Internal, "Request has more than one message; a unary request carries exactly one.");
        }

        return message;
    }

    /// <summary>All request messages of a streaming request.</summary>
    public async IAsyncEnumerable<T> ReadAllAsync<T>(MessageParser<T> parser, [EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        while (await ReadMessageAsync(parser, cancellationToken) is { } message)
        {
            yield return message;
        }
    }

    /// <summary>
    /// Sends one response message (headers go with the first). <paramref name="flush"/> false leaves it buffered, so
    /// the single response of a unary call leaves with its trailers in one write when the call completes.
    /// </summary>
    public async Task WriteMessageAsync(IMessage message, bool flush, CancellationToken cancellationToken)
    {
        await _responseGate.WaitAsync(cancellationToken);
        try
        {
            if (_finished)
            {
                throw new OperationCanceledException("The call has already ended (deadline or cancellation).");
            }

            _responseStarted = true;
            MessageCodec.WriteFrame(_http.Response.BodyWriter, message, _maxSend);
            if (flush)
            {
                await _http.Response.BodyWriter.FlushAsync(cancellationToken);
            }
        }
        finally
        {
            _responseGate.Release();
        }
    }

    /// <summary>
    /// Ends the call with a status: in trailers, or in the headers of a trailers-only response when no message was
    /// sent. Only the first status counts.
    /// </summary>
    public async Task FinishAsync(StatusCode status, string detail, Metadata? trailers)
    {
        await _responseGate.WaitAsync();
        try
        {
            if (_finished)
            {
                return;
            }

            _finished = true;
            _statistics.Record(status);
            if (_http.RequestAborted.IsCancellationRequested)
            {
                return; // The client is gone: nobody to tell.
            }

            var target = _responseStarted ? _http.Response.GetTrailers() : _http.Response.Headers;
            target[GrpcProtocol.StatusTrailer] = GrpcProtocol.StatusToString(status);
            if (detail.Length > 0)
            {
                target[GrpcProtocol.MessageTrailer] = GrpcProtocol.EncodeMessage(detail);
            }

            if (trailers is not null)
            {
                foreach (var entry in trailers)
                {
                    target.Append(entry.Key, entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes!) : entry.Value);
                }
            }
        }
        finally
        {
            _responseGate.Release();
        }
    }
}

/// <summary>The response trailers of an HTTP/2 response.</summary>
internal static class TrailerExtensions
{
    public static IHeaderDictionary GetTrailers(this HttpResponse response) =>
        response.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseTrailersFeature>()?.Trailers
        ?? throw new InvalidOperationException("The transport does not support response trailers (HTTP/2 is required).");
}

/// <summary>The stream writer handed to streaming handlers.</summary>
internal sealed class ServerStreamWriter<T>(ServerCall call) : IServerStreamWriter<T>
    where T : IMessage<T>
{
    public Task WriteAsync(T message, CancellationToken cancellationToken = default) =>
        call.WriteMessageAsync(message, flush: true, cancellationToken.CanBeCanceled ? cancellationToken : call.Context.CancellationToken);
}
