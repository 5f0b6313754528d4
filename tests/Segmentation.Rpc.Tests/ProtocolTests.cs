using System.Net;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Grpc.Health.V1;
using Segmentation.Rpc.Tests.Protos;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Segmentation.Rpc.Tests;

/// <summary>The wire protocol of DESIGN.md section 9, against a real Kestrel server over HTTP/2.</summary>
public sealed class ProtocolTests : IClassFixture<TesterServer>
{
    private readonly TesterServer _server;

    public ProtocolTests(TesterServer server) => _server = server;

    private GrpcClient Client => _server.Client;

    private Task<Ping> EchoAsync(Ping request, CallOptions options = default) =>
        Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), request, options);

    private async Task AssertStillServingAsync() =>
        Assert.Equal("alive", (await EchoAsync(new Ping { Text = "alive" })).Text);

    [Fact]
    public async Task Unary_RoundTripsTheMessage_AndRunsInterceptors()
    {
        var before = Volatile.Read(ref _server.Intercepted);
        var response = await EchoAsync(new Ping { Text = "hello", Payload = ByteString.CopyFromUtf8("bytes") });
        Assert.Equal("hello", response.Text);
        Assert.Equal("bytes", response.Payload.ToStringUtf8());
        Assert.True(Volatile.Read(ref _server.Intercepted) > before);
    }

    [Fact]
    public async Task ClientStreaming_ReceivesEveryMessage()
    {
        static async IAsyncEnumerable<Ping> Numbers()
        {
            for (var i = 1; i <= 100; i++)
            {
                yield return new Ping { Count = i };
                await Task.Yield();
            }
        }

        var sum = await Client.ClientStreamingAsync<Ping, Ping>(TesterServer.Method("Sum"), Numbers());
        Assert.Equal(5050, sum.Count);
    }

    [Fact]
    public async Task ServerStreaming_YieldsEveryMessageInOrder()
    {
        var received = new List<int>();
        await foreach (var ping in Client.ServerStreamingAsync<Ping, Ping>(TesterServer.Method("Repeat"), new Ping { Text = "x", Count = 50 }))
        {
            received.Add(ping.Count);
        }

        Assert.Equal(Enumerable.Range(0, 50), received);
    }

    [Fact]
    public async Task DuplexStreaming_AnswersEachMessage()
    {
        static async IAsyncEnumerable<Ping> Words()
        {
            foreach (var word in new[] { "a", "b", "c" })
            {
                yield return new Ping { Text = word };
                await Task.Yield();
            }
        }

        var replies = new List<string>();
        await foreach (var ping in Client.DuplexStreamingAsync<Ping, Ping>(TesterServer.Method("Chat"), Words()))
        {
            replies.Add(ping.Text);
        }

        Assert.Equal(["A", "B", "C"], replies);
    }

    [Fact]
    public async Task UnknownMethodAndService_AreUnimplemented()
    {
        using var http = Raw.NewHttpClient();
        var method = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Nope", Raw.Frame(new Ping()));
        var service = await Raw.PostAsync(http, _server.Server.Address, "/no.Such/Method", Raw.Frame(new Ping()));

        Assert.Equal((200, "12"), (method.Http, method.Status));
        Assert.Contains("Nope", method.Message, StringComparison.Ordinal);
        Assert.Equal((200, "12"), (service.Http, service.Status));
        // Trailers-only: the status is in the response headers.
        Assert.True(method.Response.Headers.Contains("grpc-status"));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task NonGrpcContentType_Is415()
    {
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", Raw.Frame(new Ping()), "application/json");
        Assert.Equal(415, result.Http);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Http11Request_Is426()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.Server.Address.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /rpctest.v1.Tester/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\nContent-Length: 0\r\n\r\n"));
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer);
        Assert.StartsWith("HTTP/1.1 426", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task OversizedMessage_IsResourceExhausted_FromTheHeaderAlone()
    {
        using var http = Raw.NewHttpClient();
        // The header claims 64 MiB but only 10 bytes follow: the server must refuse on the header, not wait for the body.
        var body = Raw.Frame(0, new byte[10], declaredLength: 64u * 1024 * 1024);
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", body);
        Assert.Equal("8", result.Status);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task RealOversizedMessage_IsResourceExhausted()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => EchoAsync(new Ping { Payload = ByteString.CopyFrom(new byte[5 * 1024 * 1024]) }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("not-protobuf")]
    [InlineData("bad-flag")]
    [InlineData("two-messages")]
    [InlineData("compressed-without-encoding")]
    [InlineData("empty")]
    public async Task BrokenFrames_AreInternal(string kind)
    {
        var ping = Raw.Frame(new Ping { Text = "x" });
        var body = kind switch
        {
            "truncated" => ping[..^1],
            "not-protobuf" => Raw.Frame(0, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
            "bad-flag" => Raw.Frame(2, new Ping { Text = "x" }.ToByteArray()),
            "two-messages" => [.. ping, .. ping],
            "compressed-without-encoding" => Raw.Frame(1, new Ping { Text = "x" }.ToByteArray()),
            _ => [],
        };
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", body);
        Assert.Equal((200, "13"), (result.Http, result.Status));
        Assert.False(string.IsNullOrEmpty(result.Message));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task GzipRequest_IsDecompressed()
    {
        var text = new string('z', 10_000);
        var response = await EchoAsync(new Ping { Text = text }, new CallOptions(Compress: true));
        Assert.Equal(text, response.Text);
    }

    [Fact]
    public async Task UnknownEncoding_IsUnimplemented_WithAcceptEncoding()
    {
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", Raw.Frame(new Ping()), headers: ("grpc-encoding", "snappy"));
        Assert.Equal("12", result.Status);
        Assert.Contains("gzip", string.Join(",", result.Response.Headers.GetValues("grpc-accept-encoding")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Slow")]
    [InlineData("Stubborn")]
    public async Task Deadline_IsDeadlineExceeded_AndTheHandlersTokenFires(string method)
    {
        var key = method + Guid.NewGuid();
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, $"/rpctest.v1.Tester/{method}", Raw.Frame(new Ping { Text = key, DelayMs = 3_000 }), headers: ("grpc-timeout", "200m"));
        Assert.Equal("4", result.Status);
        var fired = _server.TokenFired[key].Task;
        Assert.True(await fired.WaitAsync(TimeSpan.FromSeconds(10)));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task ClientDeadline_SurfacesAsDeadlineExceeded()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Slow"), new Ping { Text = Guid.NewGuid().ToString(), DelayMs = 30_000 }, new CallOptions(Timeout: TimeSpan.FromMilliseconds(200))));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task MalformedTimeout_IsRejected()
    {
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", Raw.Frame(new Ping()), headers: ("grpc-timeout", "soon"));
        Assert.Equal("13", result.Status);
    }

    [Fact]
    public async Task ClientCancellation_FiresTheHandlersToken()
    {
        var key = "cancel" + Guid.NewGuid();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Slow"), new Ping { Text = key, DelayMs = 30_000 }, new CallOptions(CancellationToken: cancel.Token)));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.True(await _server.TokenFired[key].Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Metadata_RoundTrips_TextAndBinary()
    {
        var headers = new Metadata { { "x-tenant", "shop-1" }, { "trace-bin", [0, 1, 254, 255] } };
        using var http = Raw.NewHttpClient();
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_server.Server.Address, "/rpctest.v1.Tester/Echo")) { Content = new ByteArrayContent(Raw.Frame(new Ping())), Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
        request.Headers.TryAddWithoutValidation("x-tenant", "shop-1");
        request.Headers.TryAddWithoutValidation("trace-bin", Convert.ToBase64String(new byte[] { 0, 1, 254, 255 }).TrimEnd('='));
        var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.Equal("shop-1", response.TrailingHeaders.GetValues("x-tenant").Single());
        Assert.Equal(new byte[] { 0, 1, 254, 255 }, Convert.FromBase64String(response.TrailingHeaders.GetValues("trace-bin").Single()));
        _ = await EchoAsync(new Ping(), new CallOptions(Headers: headers));
    }

    [Fact]
    public async Task RpcException_CarriesStatusEncodedMessageAndTrailers()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Fail"), new Ping { Text = "50%" }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("text: 50% is not welcome ünïcode", error.Detail);
        Assert.Equal("because", error.Trailers.GetValue("why"));
        Assert.Equal(new byte[] { 1, 2, 3 }, error.Trailers.GetValueBytes("detail-bin"));
    }

    [Fact]
    public async Task HandlerException_IsUnknown_WithoutInternals()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Crash"), new Ping()));
        Assert.Equal(StatusCode.Unknown, error.StatusCode);
        Assert.DoesNotContain("secret", error.Detail, StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Health_CheckAndWatch_SeeStatusChanges()
    {
        var health = HealthReflection.Descriptor.Services[0];
        var check = await Client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(health.FindMethodByName("Check"), new HealthCheckRequest());
        Assert.Equal(ServingStatus.Serving, check.Status);

        _server.Health.SetStatus("watched", ServingStatus.Serving);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<ServingStatus>();
        await foreach (var update in Client.ServerStreamingAsync<HealthCheckRequest, HealthCheckResponse>(
            health.FindMethodByName("Watch"), new HealthCheckRequest { Service = "watched" }, new CallOptions(CancellationToken: cancel.Token)))
        {
            seen.Add(update.Status);
            if (seen.Count == 1)
            {
                _server.Health.SetStatus("watched", ServingStatus.NotServing);
            }
            else
            {
                break;
            }
        }

        Assert.Equal([ServingStatus.Serving, ServingStatus.NotServing], seen);
        var unknown = await Assert.ThrowsAsync<RpcException>(() =>
            Client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(health.FindMethodByName("Check"), new HealthCheckRequest { Service = "nope" }));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Reflection_ListsServicesAndFindsSymbols_V1AndV1Alpha()
    {
        static async IAsyncEnumerable<T> One<T>(T item)
        {
            yield return item;
            await Task.Yield();
        }

        var v1 = Grpc.Reflection.V1.ReflectionReflection.Descriptor.Services[0].FindMethodByName("ServerReflectionInfo");
        var list = await Client.DuplexStreamingAsync<Grpc.Reflection.V1.ServerReflectionRequest, Grpc.Reflection.V1.ServerReflectionResponse>(
            v1, One(new Grpc.Reflection.V1.ServerReflectionRequest { ListServices = "" })).SingleAsync();
        Assert.Contains("rpctest.v1.Tester", list.ListServicesResponse.Service.Select(s => s.Name));
        Assert.Contains("grpc.reflection.v1.ServerReflection", list.ListServicesResponse.Service.Select(s => s.Name));

        var symbol = await Client.DuplexStreamingAsync<Grpc.Reflection.V1.ServerReflectionRequest, Grpc.Reflection.V1.ServerReflectionResponse>(
            v1, One(new Grpc.Reflection.V1.ServerReflectionRequest { FileContainingSymbol = "rpctest.v1.Ping" })).SingleAsync();
        var file = Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(symbol.FileDescriptorResponse.FileDescriptorProto[0]);
        Assert.Equal("Tester", file.Service[0].Name);

        var missing = await Client.DuplexStreamingAsync<Grpc.Reflection.V1.ServerReflectionRequest, Grpc.Reflection.V1.ServerReflectionResponse>(
            v1, One(new Grpc.Reflection.V1.ServerReflectionRequest { FileContainingSymbol = "no.Such" })).SingleAsync();
        Assert.Equal((int)StatusCode.NotFound, missing.ErrorResponse.ErrorCode);

        var alpha = Grpc.Reflection.V1Alpha.ReflectionReflection.Descriptor.Services[0].FindMethodByName("ServerReflectionInfo");
        var alphaList = await Client.DuplexStreamingAsync<Grpc.Reflection.V1Alpha.ServerReflectionRequest, Grpc.Reflection.V1Alpha.ServerReflectionResponse>(
            alpha, One(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" })).SingleAsync();
        Assert.Contains("rpctest.v1.Tester", alphaList.ListServicesResponse.Service.Select(s => s.Name));
    }
}
