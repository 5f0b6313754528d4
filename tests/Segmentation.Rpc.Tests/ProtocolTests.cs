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
        // The header claims 1 GiB and only 10 bytes follow, and the body stays open: the answer can only come from
        // the header, before any body is buffered (a server that waited for the body would never answer).
        var bodyOpen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var content = new ScriptedContent(async stream =>
        {
            await stream.WriteAsync(Raw.Frame(0, new byte[10], declaredLength: 1024u * 1024 * 1024));
            await stream.FlushAsync();
            await bodyOpen.Task;
        });
        using var http = Raw.NewHttpClient();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", content);
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
        bodyOpen.SetResult();

        Assert.Equal((200, "8"), (result.Http, result.Status));
        Assert.Contains("larger than max", result.Message, StringComparison.Ordinal);
        Assert.True(result.Response.Headers.Contains("grpc-status"), "an error before any message is trailers-only");
        // Nothing the size of the claimed message was allocated (the whole process allocates far less meanwhile).
        Assert.True(allocated < 256L * 1024 * 1024, $"allocated {allocated} bytes");
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
        using var cancel = new CancellationTokenSource();
        var call = Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Slow"), new Ping { Text = key, DelayMs = 30_000 }, new CallOptions(CancellationToken: cancel.Token));
        await _server.StartedSignal(key).Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancel.CancelAsync();
        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.True(await _server.TokenFired[key].Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Metadata_RoundTrips_TextAndBinary_AcceptingUnpaddedBase64()
    {
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
    public async Task Http11Request_FromHttpClient_Is426_AndH2cStillWorksOnTheSameEndpoint()
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false })
        {
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var content = new ByteArrayContent(Raw.Frame(new Ping()));
        content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
        using var response = await http.PostAsync(new Uri(_server.Server.Address, "/rpctest.v1.Tester/Echo"), content);

        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.Equal("h2c", response.Headers.Upgrade.Single().Name);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task GetRequest_Is405()
    {
        using var http = Raw.NewHttpClient();
        using var response = await http.GetAsync(new Uri(_server.Server.Address, "/rpctest.v1.Tester/Echo"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Theory]
    [InlineData(null, 415)]
    [InlineData("text/plain", 415)]
    [InlineData("application/grpc-web", 415)]
    [InlineData("application/grpc+proto", 200)]
    [InlineData("application/grpc; charset=utf-8", 200)]
    public async Task ContentType_DecidesBetween415AndGrpc(string? contentType, int expectedHttp)
    {
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", Raw.Frame(new Ping { Text = "ct" }), contentType);
        Assert.Equal(expectedHttp, result.Http);
        Assert.Equal(expectedHttp == 200 ? "0" : null, result.Status);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/rpctest.v1.Tester")]
    [InlineData("/rpctest.v1.Tester/")]
    [InlineData("/rpctest.v1.tester/Echo")]
    public async Task MalformedPaths_AreUnimplemented(string path)
    {
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, path, Raw.Frame(new Ping()));
        Assert.Equal((200, "12"), (result.Http, result.Status));
    }

    [Fact]
    public async Task EmptyMessage_IsAValidRequest()
    {
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", Raw.Frame(0, []));
        Assert.Equal((200, "0"), (result.Http, result.Status));
    }

    [Fact]
    public async Task MessageArrivingByteByByte_IsReassembled()
    {
        var frame = Raw.Frame(new Ping { Text = "drip", Payload = ByteString.CopyFrom(new byte[300]) });
        var content = new ScriptedContent(async stream =>
        {
            for (var i = 0; i < frame.Length; i++)
            {
                await stream.WriteAsync(frame.AsMemory(i, 1));
                await stream.FlushAsync();
            }
        });
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", content);
        Assert.Equal((200, "0"), (result.Http, result.Status));
    }

    [Fact]
    public async Task GzipFrame_FromARawClient_IsDecompressed_AndAcceptEncodingIsAdvertised()
    {
        var compressed = Raw.Frame(1, Raw.Gzip(new Ping { Text = "zipped" }.ToByteArray()));
        using var http = Raw.NewHttpClient();
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_server.Server.Address, "/rpctest.v1.Tester/Echo"))
        {
            Content = new ByteArrayContent(compressed),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
        request.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("0", Raw.Header(response, "grpc-status"));
        Assert.Equal("zipped", Ping.Parser.ParseFrom(body.AsSpan(5)).Text);
        Assert.Contains("gzip", response.Headers.GetValues("grpc-accept-encoding").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorruptGzip_IsInternal()
    {
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Echo", Raw.Frame(1, [1, 2, 3, 4, 5, 6]), headers: ("grpc-encoding", "gzip"));
        Assert.Equal("13", result.Status);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task HandlerError_BeforeAnyMessage_IsTrailersOnly_WithPercentEncodedMessage()
    {
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Fail", Raw.Frame(new Ping { Text = "x" }));

        Assert.Equal("3", result.Response.Headers.GetValues("grpc-status").Single());
        Assert.Equal("text: x is not welcome %C3%BCn%C3%AFcode", result.Response.Headers.GetValues("grpc-message").Single());
        Assert.Equal("because", result.Response.Headers.GetValues("why").Single());
        Assert.Equal(new byte[] { 1, 2, 3 }, Convert.FromBase64String(result.Response.Headers.GetValues("detail-bin").Single()));
        Assert.Empty(result.Response.TrailingHeaders);
    }

    [Fact]
    public async Task Context_CarriesMethodPeerDeadlineAndMetadata()
    {
        var headers = new Metadata { { "x-tenant", "shop-1" }, { "trace-bin", [0, 1, 254, 255] } };
        var withTimeout = await Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Inspect"), new Ping(), new CallOptions(Timeout: TimeSpan.FromMinutes(5), Headers: headers));
        var withoutTimeout = await Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Inspect"), new Ping());

        var parts = withTimeout.Text.Split('|');
        Assert.Equal("/rpctest.v1.Tester/Inspect", parts[0]);
        Assert.StartsWith("ipv4:127.0.0.1:", parts[1], StringComparison.Ordinal);
        Assert.Contains("x-tenant=shop-1;", parts[2], StringComparison.Ordinal);
        Assert.Contains("trace-bin=0001FEFF;", parts[2], StringComparison.Ordinal);
        Assert.DoesNotContain("grpc-timeout", parts[2], StringComparison.Ordinal);
        Assert.DoesNotContain("content-type", parts[2], StringComparison.Ordinal);
        var remaining = withTimeout.Deadline.ToDateTime() - DateTime.UtcNow;
        Assert.InRange(remaining, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5));
        Assert.Null(withoutTimeout.Deadline);
    }

    [Theory]
    [InlineData("99999999H")]
    [InlineData("99999999S")]
    public async Task FarDeadline_IsAcceptedAsNoDeadline(string timeout)
    {
        using var http = Raw.NewHttpClient();
        var result = await Raw.PostAsync(http, _server.Server.Address, "/rpctest.v1.Tester/Inspect", Raw.Frame(new Ping()), headers: ("grpc-timeout", timeout));
        Assert.Equal((200, "0"), (result.Http, result.Status));
    }

    [Fact]
    public async Task LargeMessages_JustUnderTheLimit_RoundTrip()
    {
        var payload = new byte[(4 * 1024 * 1024) - 64];
        new Random(7).NextBytes(payload);
        var response = await EchoAsync(new Ping { Payload = ByteString.CopyFrom(payload) });
        Assert.Equal(payload, response.Payload.ToByteArray());
    }

    [Fact]
    public async Task ServerStreaming_ErrorAfterMessages_ArrivesInTrailers()
    {
        var received = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in Client.ServerStreamingAsync<Ping, Ping>(TesterServer.Method("Repeat"), new Ping { Text = "fail", Count = 3 }))
            {
                received++;
            }
        });

        Assert.Equal(3, received);
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Equal("stopped after 3", error.Detail);
        Assert.Equal("3", error.Trailers.GetValue("sent"));
    }

    [Fact]
    public async Task DuplexStreaming_IsFullDuplex_EachReplyArrivesBeforeTheNextRequest()
    {
        var requests = System.Threading.Channels.Channel.CreateUnbounded<Ping>();
        var replies = new List<string>();
        await requests.Writer.WriteAsync(new Ping { Text = "one" });
        await foreach (var reply in Client.DuplexStreamingAsync<Ping, Ping>(TesterServer.Method("Chat"), requests.Reader.ReadAllAsync()))
        {
            replies.Add(reply.Text);
            // The next request is only produced once the previous reply is in: a half-duplex transport would hang.
            if (replies.Count == 1)
            {
                await requests.Writer.WriteAsync(new Ping { Text = "two" });
            }
            else
            {
                requests.Writer.Complete();
            }
        }

        Assert.Equal(["ONE", "TWO"], replies);
    }

    [Fact]
    public async Task ClientStreaming_WithNoMessages_StillAnswers()
    {
        var sum = await Client.ClientStreamingAsync<Ping, Ping>(TesterServer.Method("Sum"), AsyncEnumerable.Empty<Ping>());
        Assert.Equal(0, sum.Count);
    }

    [Fact]
    public async Task ClientStreaming_Cancellation_FiresTheHandlersToken()
    {
        var key = "stream-cancel" + Guid.NewGuid();
        var requests = System.Threading.Channels.Channel.CreateUnbounded<Ping>();
        await requests.Writer.WriteAsync(new Ping { Text = key, Count = 1 });
        using var cancel = new CancellationTokenSource();
        var call = Client.ClientStreamingAsync<Ping, Ping>(TesterServer.Method("Sum"), requests.Reader.ReadAllAsync(), new CallOptions(CancellationToken: cancel.Token));

        // Wait until the handler holds the first message, then cancel while the request stream is still open.
        await _server.StartedSignal(key).Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancel.CancelAsync();
        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.True(await _server.Fired(key).Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Cancellation_IsLoggedAtInformation_AndCrashesAtError()
    {
        using var cancel = new CancellationTokenSource();
        var key = "log-cancel" + Guid.NewGuid();
        var call = Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Slow"), new Ping { Text = key, DelayMs = 30_000 }, new CallOptions(CancellationToken: cancel.Token));
        await _server.StartedSignal(key).Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancel.CancelAsync();
        await Assert.ThrowsAsync<RpcException>(() => call);
        await Assert.ThrowsAsync<RpcException>(() => Client.UnaryAsync<Ping, Ping>(TesterServer.Method("Crash"), new Ping()));

        // The cancelled call's log entry is written when its handler unwinds: wait for it.
        await TesterServer.WaitUntilAsync(() => _server.Logs.Entries.Any(e => e.EventId == 4002 && e.Message.Contains("/Slow", StringComparison.Ordinal)));

        var cancelled = _server.Logs.Entries.First(e => e.EventId == 4002 && e.Message.Contains("/Slow", StringComparison.Ordinal));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Information, cancelled.Level);
        Assert.DoesNotContain(_server.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error && e.Message.Contains("/Slow", StringComparison.Ordinal));
        var crash = _server.Logs.Entries.First(e => e.Message.Contains("/Crash", StringComparison.Ordinal));
        Assert.Equal((Microsoft.Extensions.Logging.LogLevel.Error, 4001), (crash.Level, crash.EventId));
        Assert.Contains("secret internal detail", crash.Exception?.Message, StringComparison.Ordinal);
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
}
