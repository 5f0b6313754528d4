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

    /// <summary>Per test key ("text" of the request): whether the handler's token fired.</summary>
    public ConcurrentDictionary<string, TaskCompletionSource<bool>> TokenFired { get; } = new();

    public int Intercepted;

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
        registry.AddUnary<Ping, Ping>(Method("Slow"), async (request, context) =>
        {
            var fired = TokenFired.GetOrAdd(request.Text, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
            using var registration = context.CancellationToken.Register(() => fired.TrySetResult(true));
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
            }

            return new Ping { Count = sum };
        });
        registry.AddServerStreaming<Ping, Ping>(Method("Repeat"), async (request, writer, context) =>
        {
            for (var i = 0; i < request.Count; i++)
            {
                await writer.WriteAsync(new Ping { Text = request.Text, Count = i });
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
        Server = await GrpcServer.StartAsync(registry, new IPEndPoint(IPAddress.Loopback, 0));
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

/// <summary>Raw HTTP/2 requests for malformed input the GrpcClient would never send.</summary>
internal static class Raw
{
    public static HttpClient NewHttpClient() => new(new SocketsHttpHandler { UseProxy = false })
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public static byte[] Frame(IMessage message) => Frame(0, message.ToByteArray());

    public static byte[] Frame(byte flag, byte[] payload, uint? declaredLength = null)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flag;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declaredLength ?? (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(5));
        return frame;
    }

    public static async Task<(int Http, string? Status, string? Message, HttpResponseMessage Response)> PostAsync(
        HttpClient http, Uri server, string path, byte[] body, string contentType = "application/grpc", params (string Key, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, path)) { Content = new ByteArrayContent(body), Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        request.Headers.TE.ParseAdd("trailers");
        foreach (var (key, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(key, value);
        }

        var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        var status = Header(response, "grpc-status");
        var message = Header(response, "grpc-message");
        return ((int)response.StatusCode, status, message, response);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.First()
        : response.TrailingHeaders.TryGetValues(name, out var trailers) ? trailers.First() : null;
}
