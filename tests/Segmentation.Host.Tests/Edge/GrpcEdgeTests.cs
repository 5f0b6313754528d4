using System.Net;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Segmentation.Contracts.Bench.V1;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Tests.Edge;

/// <summary>
/// The gRPC edge's protocol behaviour against the real host on loopback (HTTP/2, h2c): the statuses clients see for
/// bad input are part of the contract and must not change with the stack underneath.
/// </summary>
public sealed class GrpcEdgeTests : IClassFixture<EdgeServerFixture>
{
    private const string IngestPath = "/segmentation.v1.EventService/IngestEvents";
    private readonly EdgeServerFixture _fixture;

    public GrpcEdgeTests(EdgeServerFixture fixture) => _fixture = fixture;

    private Uri Address => _fixture.Address;

    private async Task AssertStillServingAsync()
    {
        var echo = new EchoService.EchoServiceClient(_fixture.Channel);
        Assert.Equal("alive", (await echo.EchoAsync(new EchoMessage { Text = "alive" })).Text);
    }

    [Fact]
    public async Task UnknownMethodAndService_AreUnimplemented_TrailersOnly()
    {
        using var http = RawGrpc.NewHttpClient();
        var method = await RawGrpc.PostAsync(http, Address, "/segmentation.v1.EventService/Nope", RawGrpc.Frame(new IngestEventsRequest()));
        var service = await RawGrpc.PostAsync(http, Address, "/no.Such/Method", RawGrpc.Frame(new IngestEventsRequest()));

        Assert.Equal((200, "12"), (method.Http, method.Status));
        Assert.Equal((200, "12"), (service.Http, service.Status));
        // Trailers-only: the status is in the response headers.
        Assert.True(method.Response.Headers.Contains("grpc-status"));
        Assert.True(service.Response.Headers.Contains("grpc-status"));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task UnknownMethod_FromAGeneratedClient_IsUnimplemented()
    {
        var invoker = _fixture.Channel.CreateCallInvoker();
        var marshaller = Marshallers.Create<EchoMessage>(m => m.ToByteArray(), EchoMessage.Parser.ParseFrom);
        var nope = new Method<EchoMessage, EchoMessage>(MethodType.Unary, "segmentation.v1.ProfileService", "Nope", marshaller, marshaller);
        var error = await Assert.ThrowsAsync<RpcException>(() => invoker.AsyncUnaryCall(nope, null, default, new EchoMessage()).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    [Theory]
    [InlineData("application/json", 415)]
    [InlineData("text/plain", 415)]
    [InlineData(null, 415)]
    [InlineData("application/grpc", 200)]
    [InlineData("application/grpc+proto", 200)]
    [InlineData("application/grpc; charset=utf-8", 200)]
    public async Task ContentType_DecidesBetween415AndGrpc(string? contentType, int expectedHttp)
    {
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.bench.v1.EchoService/Echo", RawGrpc.Frame(new EchoMessage { Text = "x" }), contentType);
        Assert.Equal(expectedHttp, result.Http);
        if (expectedHttp == 200)
        {
            Assert.Equal("0", result.Status);
        }

        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Http11Request_Is426_AndH2cStillWorksOnTheSameEndpoint()
    {
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, Address.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST {IngestPath} HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\nContent-Length: 0\r\n\r\n"));
            var buffer = new byte[256];
            var read = await stream.ReadAsync(buffer);
            Assert.StartsWith("HTTP/1.1 426", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        }

        using var http11 = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var response = await http11.PostAsync(new Uri(Address, IngestPath), new ByteArrayContent(RawGrpc.Frame(new IngestEventsRequest())));
        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
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
            await stream.WriteAsync(RawGrpc.Frame(0, new byte[10], declaredLength: 1024u * 1024 * 1024));
            await stream.FlushAsync();
            await bodyOpen.Task;
        });
        using var http = RawGrpc.NewHttpClient();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var result = await RawGrpc.PostAsync(http, Address, IngestPath, content);
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
        bodyOpen.SetResult();

        Assert.Equal((200, "8"), (result.Http, result.Status));
        // Nothing the size of the claimed message was allocated (the whole process allocates far less meanwhile).
        Assert.True(allocated < 256L * 1024 * 1024, $"allocated {allocated} bytes");
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task MessageOver4MiB_IsResourceExhausted_AndJustUnderTheLimitIsServed()
    {
        var events = new EventService.EventServiceClient(_fixture.Channel);
        var over = new IngestEventsRequest { Events = { new Event { EventId = "big", UserId = "big-user", ItemId = new string('i', (4 * 1024 * 1024) + 16) } } };
        var error = await Assert.ThrowsAsync<RpcException>(() => events.IngestEventsAsync(over).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);

        // 4 MiB less a little: the message is read and answered (the event itself is rejected for its item id).
        var under = new IngestEventsRequest { Events = { new Event { EventId = "almost", UserId = "big-user", ItemId = new string('i', (4 * 1024 * 1024) - 1024) } } };
        Assert.True(under.CalculateSize() < 4 * 1024 * 1024);
        var response = await events.IngestEventsAsync(under);
        Assert.Equal(1, response.Rejected);
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("truncated-header")]
    [InlineData("two-messages")]
    [InlineData("compressed-without-encoding")]
    [InlineData("empty")]
    public async Task BrokenFrames_AreInternal(string kind)
    {
        var ping = RawGrpc.Frame(new EchoMessage { Text = "x" });
        var body = kind switch
        {
            "truncated" => ping[..^1],
            "truncated-header" => ping[..3],
            "two-messages" => [.. ping, .. ping],
            "compressed-without-encoding" => RawGrpc.Frame(1, new EchoMessage { Text = "x" }.ToByteArray()),
            _ => [],
        };
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.bench.v1.EchoService/Echo", body);
        Assert.Equal((200, "13"), (result.Http, result.Status));
        Assert.False(string.IsNullOrEmpty(result.Message));
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("not-protobuf")]
    [InlineData("corrupt-gzip")]
    public async Task UndecodableMessages_AreUnknown_AndTheHostKeepsServing(string kind)
    {
        // A whole frame whose payload cannot be decoded: grpc-dotnet answers UNKNOWN ("Exception was thrown by
        // handler."); the hand-written layer before it answered INTERNAL. Either way the call fails cleanly.
        var (body, headers) = kind == "not-protobuf"
            ? (RawGrpc.Frame(0, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]), Array.Empty<(string, string)>())
            : (RawGrpc.Frame(1, [1, 2, 3, 4, 5, 6]), [("grpc-encoding", "gzip")]);
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.bench.v1.EchoService/Echo", body, headers: headers);
        Assert.Equal((200, "2"), (result.Http, result.Status));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task CompressedMessage_ThatInflatesOverTheLimit_IsResourceExhausted()
    {
        // 5 MiB of zeros gzip to a few KiB: the limit applies to the inflated message, not to the bytes on the wire.
        var bomb = RawGrpc.Gzip(new EchoMessage { Text = new string('0', 5 * 1024 * 1024) }.ToByteArray());
        Assert.True(bomb.Length < 64 * 1024);
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.bench.v1.EchoService/Echo", RawGrpc.Frame(1, bomb), headers: ("grpc-encoding", "gzip"));
        Assert.Equal((200, "8"), (result.Http, result.Status));
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("99999999S")]
    [InlineData("99999999H")]
    public async Task FarDeadline_IsAccepted(string timeout)
    {
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.bench.v1.EchoService/Echo", RawGrpc.Frame(new EchoMessage { Text = "later" }), headers: ("grpc-timeout", timeout));
        Assert.Equal((200, "0"), (result.Http, result.Status));
    }

    [Fact]
    public async Task EmptyMessage_IsAValidRequest()
    {
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.v1.AdminService/GetServerStats", RawGrpc.Frame(0, []));
        Assert.Equal((200, "0"), (result.Http, result.Status));
        Assert.True(result.Body.Length > 5);
    }

    [Fact]
    public async Task MessageArrivingByteByByte_IsReassembled()
    {
        var frame = RawGrpc.Frame(new EchoMessage { Text = "one byte at a time" });
        var content = new ScriptedContent(async stream =>
        {
            foreach (var b in frame)
            {
                await stream.WriteAsync(new[] { b });
                await stream.FlushAsync();
            }
        });
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.bench.v1.EchoService/Echo", content);
        Assert.Equal((200, "0"), (result.Http, result.Status));
        Assert.Equal("one byte at a time", EchoMessage.Parser.ParseFrom(result.Body.AsSpan(5).ToArray()).Text);
    }

    [Fact]
    public async Task GzipRequest_FromGrpcNetClient_IsAccepted()
    {
        var echo = new EchoService.EchoServiceClient(_fixture.Channel);
        var text = new string('z', 10_000);
        var headers = new Metadata { { "grpc-internal-encoding-request", "gzip" } };
        var response = await echo.EchoAsync(new EchoMessage { Text = text }, headers);
        Assert.Equal(text, response.Text);
    }

    [Fact]
    public async Task GzipFrame_FromARawClient_IsDecompressed()
    {
        var payload = new EchoMessage { Text = new string('g', 5_000) }.ToByteArray();
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.bench.v1.EchoService/Echo", RawGrpc.Frame(1, RawGrpc.Gzip(payload)), headers: ("grpc-encoding", "gzip"));
        Assert.Equal((200, "0"), (result.Http, result.Status));
        Assert.Equal(5_000, EchoMessage.Parser.ParseFrom(result.Body.AsSpan(5).ToArray()).Text.Length);
    }

    [Fact]
    public async Task UnknownEncoding_IsUnimplemented_WithAcceptEncoding()
    {
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.bench.v1.EchoService/Echo", RawGrpc.Frame(1, [1, 2, 3]), headers: ("grpc-encoding", "snappy"));
        Assert.Equal("12", result.Status);
        Assert.Contains("gzip", string.Join(",", result.Response.Headers.GetValues("grpc-accept-encoding")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deadline_IsDeadlineExceeded_AndTheHandlersTokenFires()
    {
        // A watch never ends by itself: only the deadline (200 ms) can end it, and its handler must let go.
        var before = _fixture.Server.Server.SegmentChanges.WatcherCount;
        using var http = RawGrpc.NewHttpClient();
        var result = await RawGrpc.PostAsync(
            http, Address, "/segmentation.v1.SegmentService/WatchSegmentChanges", RawGrpc.Frame(new WatchSegmentChangesRequest { SegmentId = "rule:" }), headers: ("grpc-timeout", "200m"));
        Assert.Equal((200, "4"), (result.Http, result.Status));
        await WaitUntilAsync(() => _fixture.Server.Server.SegmentChanges.WatcherCount == before);
    }

    [Fact]
    public async Task ClientDeadline_SurfacesAsDeadlineExceeded()
    {
        var segments = new SegmentService.SegmentServiceClient(_fixture.Channel);
        using var call = segments.WatchSegmentChanges(new WatchSegmentChangesRequest { SegmentId = "lifecycle:" }, deadline: DateTime.UtcNow.AddMilliseconds(200));
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task ClientCancellation_IsCancelled_AndTheHandlersTokenFires()
    {
        var before = _fixture.Server.Server.SegmentChanges.WatcherCount;
        var segments = new SegmentService.SegmentServiceClient(_fixture.Channel);
        using var cancel = new CancellationTokenSource();
        using var call = segments.WatchSegmentChanges(new WatchSegmentChangesRequest { SegmentId = "ml:" }, cancellationToken: cancel.Token);
        var next = call.ResponseStream.MoveNext(CancellationToken.None);
        await WaitUntilAsync(() => _fixture.Server.Server.SegmentChanges.WatcherCount > before);
        await cancel.CancelAsync();
        var error = await Assert.ThrowsAsync<RpcException>(() => next);
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        await WaitUntilAsync(() => _fixture.Server.Server.SegmentChanges.WatcherCount == before);
    }

    [Fact]
    public async Task ClientStreaming_WithNoMessages_StillAnswers()
    {
        var events = new EventService.EventServiceClient(_fixture.Channel);
        using var call = events.StreamEvents();
        await call.RequestStream.CompleteAsync();
        var summary = await call.ResponseAsync;
        Assert.Equal(0, summary.Received);
    }

    [Fact]
    public async Task StatusMessages_QuotingHugeInput_AreCut()
    {
        var recommendations = new RecommendationService.RecommendationServiceClient(_fixture.Channel);
        var placement = new string('p', 200_000);
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            recommendations.RecommendAsync(new RecommendRequest { Count = 5, Context = new RecommendationContext { Placement = placement, Category = "home" } }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("context.placement: unknown placement 'ppp", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1_024, error.Status.Detail.Length);
        Assert.EndsWith("...", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StatusMessages_ArePercentEncoded_OnTheWire()
    {
        using var http = RawGrpc.NewHttpClient();
        var request = new GetUserSegmentsRequest { UserId = "nobody-ü%" };
        var result = await RawGrpc.PostAsync(http, Address, "/segmentation.v1.SegmentService/GetUserSegments", RawGrpc.Frame(request));
        Assert.Equal("5", result.Status);
        Assert.Contains("nobody-%C3%BC%25", result.Message, StringComparison.Ordinal);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "the condition did not hold within 5 s");
    }
}
