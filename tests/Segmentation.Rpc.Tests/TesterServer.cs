using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Segmentation.Rpc.Tests.Protos;

namespace Segmentation.Rpc.Tests;

/// <summary>A real Kestrel server on loopback serving the test service, health and reflection.</summary>
public sealed class TesterServer : IAsyncLifetime
{
    public static readonly ServiceDescriptor Service = TesterReflection.Descriptor.Services[0];

    public GrpcServer Server { get; private set; } = null!;

    public GrpcClient Client { get; private set; } = null!;

    public HealthService Health { get; } = new();

    /// <summary>What the server logged.</summary>
    public LogCollector Logs { get; } = new();

    /// <summary>Per test key ("text" of the request): whether the handler's token fired.</summary>
    public ConcurrentDictionary<string, TaskCompletionSource<bool>> TokenFired { get; } = new();

    /// <summary>Per test key: the handler has the request (so a cancellation now reaches a running handler).</summary>
    public ConcurrentDictionary<string, TaskCompletionSource> Started { get; } = new();

    public int Intercepted;

    public TaskCompletionSource<bool> Fired(string key) =>
        TokenFired.GetOrAdd(key, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));

    public TaskCompletionSource StartedSignal(string key) =>
        Started.GetOrAdd(key, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test after 10 s instead of hanging.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(20, limit.Token);
        }
    }

    public static MethodDescriptor Method(string name) => Service.FindMethodByName(name);

    public async Task InitializeAsync()
    {
        var registry = new GrpcServiceRegistry();
        registry.AddUnary<Ping, Ping>(Method("Echo"), (request, context) =>
        {
            var response = request.Clone();
            foreach (var entry in context.RequestHeaders)
            {
                if (entry.IsBinary)
                {
                    context.ResponseTrailers.Add(entry.Key, entry.ValueBytes!);
                }
                else
                {
                    context.ResponseTrailers.Add(entry.Key, entry.Value!);
                }
            }

            return Task.FromResult(response);
        });
        registry.AddUnary<Ping, Ping>(Method("Inspect"), (request, context) =>
        {
            var headers = new System.Text.StringBuilder();
            foreach (var entry in context.RequestHeaders)
            {
                headers.Append(entry.Key).Append('=').Append(entry.IsBinary ? Convert.ToHexString(entry.ValueBytes!) : entry.Value).Append(';');
            }

            var response = new Ping { Text = context.Method + "|" + context.Peer + "|" + headers };
            if (context.Deadline != DateTime.MaxValue)
            {
                response.Deadline = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(context.Deadline);
            }

            return Task.FromResult(response);
        });
        registry.AddUnary<Ping, Ping>(Method("Slow"), async (request, context) =>
        {
            var fired = Fired(request.Text);
            using var registration = context.CancellationToken.Register(() => fired.TrySetResult(true));
            StartedSignal(request.Text).TrySetResult();
            await Task.Delay(request.DelayMs, context.CancellationToken);
            return request;
        });
        registry.AddUnary<Ping, Ping>(Method("Stubborn"), async (request, context) =>
        {
            // Ignores its token: the server must still answer at the deadline.
            var fired = TokenFired.GetOrAdd(request.Text, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
            using var registration = context.CancellationToken.Register(() => fired.TrySetResult(true));
            await Task.Delay(request.DelayMs, CancellationToken.None);
            return request;
        });
        registry.AddUnary<Ping, Ping>(Method("Fail"), (request, context) =>
        {
            var trailers = new Metadata { { "why", "because" }, { "detail-bin", [1, 2, 3] } };
            throw new RpcException(StatusCode.InvalidArgument, "text: " + request.Text + " is not welcome ünïcode", trailers);
        });
        registry.AddUnary<Ping, Ping>(Method("Crash"), (_, _) => throw new InvalidOperationException("secret internal detail"));
        registry.AddClientStreaming<Ping, Ping>(Method("Sum"), async (requests, context) =>
        {
            var sum = 0;
            await foreach (var request in requests)
            {
                sum += request.Count;
                if (request.Text.Length > 0)
                {
                    // Lets a test see that cancelling a streaming call fires the handler's token.
                    var fired = Fired(request.Text);
                    context.CancellationToken.Register(() => fired.TrySetResult(true));
                    StartedSignal(request.Text).TrySetResult();
                }
            }

            return new Ping { Count = sum };
        });
        registry.AddServerStreaming<Ping, Ping>(Method("Repeat"), async (request, writer, context) =>
        {
            for (var i = 0; i < request.Count; i++)
            {
                await writer.WriteAsync(new Ping { Text = request.Text, Count = i });
            }

            if (request.Text == "fail")
            {
                context.ResponseTrailers.Add("sent", request.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                throw new RpcException(StatusCode.FailedPrecondition, "stopped after " + request.Count);
            }
        });
        registry.AddDuplexStreaming<Ping, Ping>(Method("Chat"), async (requests, writer, context) =>
        {
            await foreach (var request in requests)
            {
                await writer.WriteAsync(new Ping { Text = request.Text.ToUpperInvariant() });
            }
        });
        Health.Bind(registry);
        new ReflectionService(registry.Services).Bind(registry);
        registry.AddInterceptor(new CountingInterceptor(this));
        Server = await GrpcServer.StartAsync(registry, new IPEndPoint(IPAddress.Loopback, 0), loggerFactory: Logs);
        Client = new GrpcClient(Server.Address);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }

    private sealed class CountingInterceptor(TesterServer server) : IServerInterceptor
    {
        public Task InterceptAsync(ServerCallContext context, Func<Task> next)
        {
            Interlocked.Increment(ref server.Intercepted);
            return next();
        }
    }
}

/// <summary>A logger factory that keeps every entry, so tests can check levels and event ids.</summary>
public sealed class LogCollector : Microsoft.Extensions.Logging.ILoggerFactory, Microsoft.Extensions.Logging.ILogger
{
    public ConcurrentQueue<(Microsoft.Extensions.Logging.LogLevel Level, int EventId, string Message, Exception? Exception)> Entries { get; } = new();

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, eventId.Id, formatter(state, exception), exception));
}

/// <summary>Raw HTTP/2 requests for malformed input the GrpcClient would never send.</summary>
internal static class Raw
{
    public static HttpClient NewHttpClient() => new(new SocketsHttpHandler { UseProxy = false })
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public static byte[] Frame(IMessage message) => Frame(0, message.ToByteArray());

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var zip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(data);
        }

        return output.ToArray();
    }

    public static byte[] Frame(byte flag, byte[] payload, uint? declaredLength = null)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flag;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declaredLength ?? (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(5));
        return frame;
    }

    public static Task<(int Http, string? Status, string? Message, HttpResponseMessage Response)> PostAsync(
        HttpClient http, Uri server, string path, byte[] body, string? contentType = "application/grpc", params (string Key, string Value)[] headers) =>
        PostAsync(http, server, path, new ByteArrayContent(body), contentType, headers);

    public static async Task<(int Http, string? Status, string? Message, HttpResponseMessage Response)> PostAsync(
        HttpClient http, Uri server, string path, HttpContent body, string? contentType = "application/grpc", params (string Key, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, path)) { Content = body, Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        request.Headers.TE.ParseAdd("trailers");
        foreach (var (key, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(key, value);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await response.Content.ReadAsByteArrayAsync();
        var status = Header(response, "grpc-status");
        var message = Header(response, "grpc-message");
        return ((int)response.StatusCode, status, message, response);
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.First()
        : response.TrailingHeaders.TryGetValues(name, out var trailers) ? trailers.First() : null;
}

/// <summary>A request body written by a script, so a test controls when bytes go out and when the body ends.</summary>
internal sealed class ScriptedContent(Func<Stream, Task> script) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => script(stream);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
