using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Segmentation.Rpc.Internal;

namespace Segmentation.Rpc;

/// <summary>Client settings.</summary>
public sealed class GrpcClientOptions
{
    /// <summary>Largest accepted response message.</summary>
    public int MaxReceiveMessageSize { get; set; } = GrpcProtocol.DefaultMaxMessageSize;

    /// <summary>Compress every request with gzip.</summary>
    public bool CompressRequests { get; set; }
}

/// <summary>Per-call options.</summary>
/// <param name="Timeout">Deadline from now (sent as grpc-timeout; the call fails with DEADLINE_EXCEEDED after it).</param>
/// <param name="Headers">Custom metadata.</param>
/// <param name="Compress">gzip the request messages.</param>
/// <param name="CancellationToken">Cancels the call (the stream is reset).</param>
public readonly record struct CallOptions(TimeSpan? Timeout = null, Metadata? Headers = null, bool Compress = false, CancellationToken CancellationToken = default);

/// <summary>
/// A gRPC client over HTTP/2 (<see cref="SocketsHttpHandler"/>, h2c prior knowledge for http:// addresses), for
/// internal calls, the CLI, tests and benchmarks. Thread-safe; one instance per server is meant to be shared.
/// </summary>
public sealed class GrpcClient : IDisposable
{
    private static readonly MediaTypeHeaderValue s_contentType = new(GrpcProtocol.ContentType);
    private readonly HttpClient _http;
    private readonly Uri _address;
    private readonly GrpcClientOptions _options;

    /// <summary>Creates a client for the server at <paramref name="address"/>.</summary>
    public GrpcClient(Uri address, GrpcClientOptions? options = null)
    {
        _address = address;
        _options = options ?? new GrpcClientOptions();
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        };
        _http = new HttpClient(handler)
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>A unary call.</summary>
    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(MethodDescriptor method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>, new()
    {
        using var call = await StartAsync(method, new SingleMessageContent(MessageCodec.Frame(request, Compress(options))), options);
        var response = await call.ReadMessageAsync<TResponse>() ?? throw await call.StatusErrorAsync(noMessage: true);
        await call.ExpectEndAsync();
        return response;
    }

    /// <summary>A client-streaming call: sends every request, then returns the single response.</summary>
    public async Task<TResponse> ClientStreamingAsync<TRequest, TResponse>(MethodDescriptor method, IAsyncEnumerable<TRequest> requests, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>, new()
    {
        using var call = await StartAsync(method, new StreamingContent<TRequest>(requests, Compress(options)), options);
        var response = await call.ReadMessageAsync<TResponse>() ?? throw await call.StatusErrorAsync(noMessage: true);
        await call.ExpectEndAsync();
        return response;
    }

    /// <summary>A server-streaming call: yields responses until the server ends the call.</summary>
    public async IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(MethodDescriptor method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>, new()
    {
        using var call = await StartAsync(method, new SingleMessageContent(MessageCodec.Frame(request, Compress(options))), options);
        while (await call.ReadMessageAsync<TResponse>() is { } response)
        {
            yield return response;
        }

        await call.ExpectEndAsync();
    }

    /// <summary>A bidirectional call: requests are sent as they are produced while responses are yielded.</summary>
    public async IAsyncEnumerable<TResponse> DuplexStreamingAsync<TRequest, TResponse>(MethodDescriptor method, IAsyncEnumerable<TRequest> requests, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>, new()
    {
        using var call = await StartAsync(method, new StreamingContent<TRequest>(requests, Compress(options)), options);
        while (await call.ReadMessageAsync<TResponse>() is { } response)
        {
            yield return response;
        }

        await call.ExpectEndAsync();
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private bool Compress(CallOptions options) => options.Compress || _options.CompressRequests;

    private async Task<ClientCall> StartAsync(MethodDescriptor method, HttpContent content, CallOptions options)
    {
        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);
        if (options.Timeout is { } timeout)
        {
            cancellation.CancelAfter(timeout);
        }

        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_address, "/" + method.Service.FullName + "/" + method.Name))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        content.Headers.ContentType = s_contentType;
        request.Headers.TryAddWithoutValidation(GrpcProtocol.TeHeader, "trailers");
        request.Headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, GrpcProtocol.SupportedEncodings);
        if (Compress(options))
        {
            request.Headers.TryAddWithoutValidation(GrpcProtocol.EncodingHeader, GrpcProtocol.GzipEncoding);
        }

        if (options.Timeout is { } t)
        {
            request.Headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcProtocol.FormatTimeout(t));
        }

        if (options.Headers is { } headers)
        {
            foreach (var entry in headers)
            {
                request.Headers.TryAddWithoutValidation(entry.Key, entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes!) : entry.Value);
            }
        }

        try
        {
            var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation.Token);
            var call = new ClientCall(request, response, cancellation, _options.MaxReceiveMessageSize, options);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                var error = new RpcException(GrpcProtocol.FromHttpStatus((int)response.StatusCode), $"HTTP status {(int)response.StatusCode} {response.ReasonPhrase}");
                call.Dispose();
                throw error;
            }

            if (response.Headers.TryGetValues(GrpcProtocol.StatusTrailer, out _))
            {
                var error = call.StatusFrom(response.Headers);
                call.Dispose();
                throw error ?? new RpcException(StatusCode.Internal, "Trailers-only response with status OK and no message.");
            }

            if (!GrpcProtocol.IsGrpcContentType(response.Content.Headers.ContentType?.MediaType))
            {
                var error = new RpcException(StatusCode.Internal, $"Response content-type '{response.Content.Headers.ContentType}' is not gRPC.");
                call.Dispose();
                throw error;
            }

            return call;
        }
        catch (OperationCanceledException) when (options.Timeout is not null && !options.CancellationToken.IsCancellationRequested)
        {
            cancellation.Dispose();
            throw new RpcException(StatusCode.DeadlineExceeded, "Deadline exceeded.");
        }
        catch (OperationCanceledException) when (options.CancellationToken.IsCancellationRequested)
        {
            cancellation.Dispose();
            throw new RpcException(StatusCode.Cancelled, "Call cancelled.");
        }
        catch (HttpRequestException ex)
        {
            cancellation.Dispose();
            throw FromTransport(ex);
        }
    }

    /// <summary>A transport failure as a status: an HTTP/2 error code by the spec's mapping, else UNAVAILABLE.</summary>
    private static RpcException FromTransport(Exception ex)
    {
        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is HttpProtocolException protocol)
            {
                return new RpcException(GrpcProtocol.FromHttp2ErrorCode(protocol.ErrorCode), "HTTP/2 stream error: " + protocol.Message);
            }
        }

        return new RpcException(StatusCode.Unavailable, "Connection failed: " + ex.Message);
    }

    /// <summary>One call's response side.</summary>
    private sealed class ClientCall : IDisposable
    {
        private readonly HttpRequestMessage _request;
        private readonly HttpResponseMessage _response;
        private readonly CancellationTokenSource _cancellation;
        private readonly int _maxReceive;
        private readonly CallOptions _options;
        private readonly bool _gzip;
        private readonly byte[] _header = new byte[GrpcProtocol.FrameHeaderLength];
        private Stream? _body;

        public ClientCall(HttpRequestMessage request, HttpResponseMessage response, CancellationTokenSource cancellation, int maxReceive, CallOptions options)
        {
            _request = request;
            _response = response;
            _cancellation = cancellation;
            _maxReceive = maxReceive;
            _options = options;
            _gzip = response.Headers.TryGetValues(GrpcProtocol.EncodingHeader, out var encodings)
                && encodings.Contains(GrpcProtocol.GzipEncoding, StringComparer.OrdinalIgnoreCase);
        }

        public async Task<T?> ReadMessageAsync<T>()
            where T : class, IMessage<T>, new()
        {
            byte[]? rented = null;
            try
            {
                _body ??= await _response.Content.ReadAsStreamAsync(_cancellation.Token);
                var read = await ReadFullyAsync(_body, _header);
                if (read == 0)
                {
                    return null;
                }

                if (read < _header.Length || _header[0] > 1)
                {
                    throw new RpcException(StatusCode.Internal, "Response has a broken message frame.");
                }

                var length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(1));
                if (length > (uint)_maxReceive)
                {
                    throw new RpcException(StatusCode.ResourceExhausted, $"Received message larger than max ({length} vs. {_maxReceive}).");
                }

                rented = ArrayPool<byte>.Shared.Rent((int)length);
                var payload = rented.AsMemory(0, (int)length);
                if (await ReadFullyAsync(_body, payload) < payload.Length)
                {
                    throw new RpcException(StatusCode.Internal, "Response ended in the middle of a message.");
                }

                if (_header[0] == 0)
                {
                    return Parsers<T>.Parser.ParseFrom(payload.Span);
                }

                if (!_gzip)
                {
                    throw new RpcException(StatusCode.Internal, "Compressed response message without grpc-encoding.");
                }

                using var zip = new GZipStream(new MemoryStream(rented, 0, (int)length), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                await zip.CopyToAsync(plain, _cancellation.Token);
                if (plain.Length > _maxReceive)
                {
                    throw new RpcException(StatusCode.ResourceExhausted, $"Decompressed message larger than max ({_maxReceive}).");
                }

                return Parsers<T>.Parser.ParseFrom(plain.GetBuffer().AsSpan(0, (int)plain.Length));
            }
            catch (InvalidProtocolBufferException)
            {
                throw new RpcException(StatusCode.Internal, $"Failed to deserialize the response as {typeof(T).Name}.");
            }
            catch (InvalidDataException)
            {
                throw new RpcException(StatusCode.Internal, "Failed to decompress the response (not valid gzip).");
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
            {
                throw Translate(ex);
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }

        /// <summary>After the last message: the trailers must say OK.</summary>
        public async Task ExpectEndAsync()
        {
            try
            {
                _body ??= await _response.Content.ReadAsStreamAsync(_cancellation.Token);
                var extra = new byte[1];
                if (await _body.ReadAsync(extra, _cancellation.Token) > 0)
                {
                    throw new RpcException(StatusCode.Internal, "Response has more messages than the method allows.");
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
            {
                throw Translate(ex);
            }

            if (StatusFrom(_response.TrailingHeaders) is { } error)
            {
                throw error;
            }

            if (!_response.TrailingHeaders.TryGetValues(GrpcProtocol.StatusTrailer, out _))
            {
                throw new RpcException(StatusCode.Internal, "Response ended without grpc-status.");
            }
        }

        public async Task<RpcException> StatusErrorAsync(bool noMessage)
        {
            await ExpectEndAsync();
            return new RpcException(StatusCode.Internal, noMessage ? "Response has no message." : "Call failed.");
        }

        public RpcException? StatusFrom(HttpHeaders headers)
        {
            if (!headers.TryGetValues(GrpcProtocol.StatusTrailer, out var statuses)
                || !int.TryParse(statuses.FirstOrDefault(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var status))
            {
                return null;
            }

            if (status == 0)
            {
                return null;
            }

            var message = headers.TryGetValues(GrpcProtocol.MessageTrailer, out var messages) ? GrpcProtocol.DecodeMessage(messages.FirstOrDefault()) : "";
            var trailers = new Metadata();
            foreach (var (key, values) in headers)
            {
                foreach (var value in values)
                {
                    trailers.AddFromWire(key, value);
                }
            }

            return new RpcException((StatusCode)status, message, trailers);
        }

        public void Dispose()
        {
            _body?.Dispose();
            _response.Dispose();
            _request.Dispose();
            _cancellation.Dispose();
        }

        private RpcException Translate(Exception ex)
        {
            if (_options.CancellationToken.IsCancellationRequested)
            {
                return new RpcException(StatusCode.Cancelled, "Call cancelled.");
            }

            if (_cancellation.IsCancellationRequested)
            {
                return new RpcException(StatusCode.DeadlineExceeded, "Deadline exceeded.");
            }

            return FromTransport(ex);
        }

        private async Task<int> ReadFullyAsync(Stream stream, Memory<byte> buffer)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer[total..], _cancellation.Token);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }
    }

    /// <summary>One parser per message type.</summary>
    private static class Parsers<T>
        where T : class, IMessage<T>, new()
    {
        public static readonly MessageParser<T> Parser = new(() => new T());
    }

    /// <summary>A request body of one prepared frame.</summary>
    private sealed class SingleMessageContent(byte[] frame) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(frame).AsTask();

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            stream.WriteAsync(frame, cancellationToken).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = frame.Length;
            return true;
        }
    }

    /// <summary>A request body written message by message as the source produces them.</summary>
    private sealed class StreamingContent<T>(IAsyncEnumerable<T> messages, bool gzip) : HttpContent
        where T : IMessage<T>
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await foreach (var message in messages.WithCancellation(cancellationToken))
            {
                await stream.WriteAsync(MessageCodec.Frame(message, gzip), cancellationToken);
                await stream.FlushAsync(cancellationToken);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
