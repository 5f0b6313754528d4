using System.Net;
using Google.Protobuf;
using Grpc.Health.V1;
using Segmentation.Rpc.Tests.Protos;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Segmentation.Rpc.Tests;

/// <summary>Behaviour that needs a server of its own: size limits, interceptors, health shutdown, client failures.</summary>
public sealed class ServerOptionsTests
{
    private static readonly IPEndPoint s_loopback = new(IPAddress.Loopback, 0);

    private static GrpcServiceRegistry EchoRegistry(Func<Ping, ServerCallContext, Task<Ping>> echo)
    {
        var registry = new GrpcServiceRegistry();
        foreach (var method in TesterServer.Service.Methods)
        {
            switch ((method.IsClientStreaming, method.IsServerStreaming))
            {
                case (false, false):
                    registry.AddUnary(method, echo);
                    break;
                case (true, false):
                    registry.AddClientStreaming<Ping, Ping>(method, (_, _) => Task.FromResult(new Ping()));
                    break;
                case (false, true):
                    registry.AddServerStreaming<Ping, Ping>(method, (_, _, _) => Task.CompletedTask);
                    break;
                default:
                    registry.AddDuplexStreaming<Ping, Ping>(method, (_, _, _) => Task.CompletedTask);
                    break;
            }
        }

        return registry;
    }

    [Fact]
    public async Task MaxReceiveMessageSize_IsTheServersOwnLimit()
    {
        var registry = EchoRegistry((p, _) => Task.FromResult(p));
        await using var server = await GrpcServer.StartAsync(registry, s_loopback, new GrpcServerOptions { MaxReceiveMessageSize = 1024 });
        using var client = new GrpcClient(server.Address);

        var small = await client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping { Payload = ByteString.CopyFrom(new byte[900]) });
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping { Payload = ByteString.CopyFrom(new byte[2000]) }));

        Assert.Equal(900, small.Payload.Length);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task CompressedMessage_ThatInflatesOverTheLimit_IsResourceExhausted()
    {
        var registry = EchoRegistry((p, _) => Task.FromResult(p));
        await using var server = await GrpcServer.StartAsync(registry, s_loopback, new GrpcServerOptions { MaxReceiveMessageSize = 64 * 1024 });
        using var client = new GrpcClient(server.Address, new GrpcClientOptions { CompressRequests = true });

        // 1 MiB of zeros compresses to about 1 KiB: the frame passes the header check, the inflated message does not.
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping { Payload = ByteString.CopyFrom(new byte[1024 * 1024]) }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task MaxSendMessageSize_EndsTheCallWithResourceExhausted()
    {
        var registry = EchoRegistry((p, _) => Task.FromResult(p));
        await using var server = await GrpcServer.StartAsync(registry, s_loopback, new GrpcServerOptions { MaxSendMessageSize = 100 });
        using var client = new GrpcClient(server.Address);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping { Payload = ByteString.CopyFrom(new byte[500]) }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("ok", (await client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping { Text = "ok" })).Text);
    }

    [Fact]
    public async Task ClientMaxReceiveMessageSize_RejectsABigResponse()
    {
        var registry = EchoRegistry((_, _) => Task.FromResult(new Ping { Payload = ByteString.CopyFrom(new byte[10_000]) }));
        await using var server = await GrpcServer.StartAsync(registry, s_loopback);
        using var client = new GrpcClient(server.Address, new GrpcClientOptions { MaxReceiveMessageSize = 1000 });

        var error = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping()));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task Interceptors_RunInOrder_AndTheirExceptionsBecomeStatuses()
    {
        var order = new List<string>();
        var registry = EchoRegistry((p, _) =>
        {
            lock (order)
            {
                order.Add("handler");
            }

            return Task.FromResult(p);
        });
        registry.AddInterceptor(new RecordingInterceptor("first", order)).AddInterceptor(new RecordingInterceptor("second", order));
        await using var server = await GrpcServer.StartAsync(registry, s_loopback);
        using var client = new GrpcClient(server.Address);

        await client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping());
        var denied = await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping(), new CallOptions(Headers: new Metadata { { "deny", "yes" } })));

        Assert.Equal(["first>", "second>", "handler", "<second", "<first"], order.Take(5));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal("denied by first", denied.Detail);
    }

    [Fact]
    public async Task WhenIdle_CompletesAtOnce_WhenNoCallIsInFlight()
    {
        await using var server = await GrpcServer.StartAsync(EchoRegistry((p, _) => Task.FromResult(p)), s_loopback);
        Assert.True(server.Dispatcher.WhenIdleAsync(CancellationToken.None).IsCompleted);
        Assert.Equal(0, server.Dispatcher.InFlight);
    }

    [Fact]
    public async Task Health_SetAllNotServing_TurnsTheServerAndEveryServiceDown()
    {
        var registry = new GrpcServiceRegistry();
        var health = new HealthService();
        health.Bind(registry);
        health.SetStatus("segmentation.v1.Events", ServingStatus.Serving);
        await using var server = await GrpcServer.StartAsync(registry, s_loopback);
        using var client = new GrpcClient(server.Address);
        var check = HealthReflection.Descriptor.Services[0].FindMethodByName("Check");

        health.SetAllNotServing();

        var whole = await client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(check, new HealthCheckRequest());
        var one = await client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(check, new HealthCheckRequest { Service = "segmentation.v1.Events" });
        Assert.Equal((ServingStatus.NotServing, ServingStatus.NotServing), (whole.Status, one.Status));
    }

    [Fact]
    public async Task Client_ToAClosedPort_IsUnavailable()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        using var client = new GrpcClient(new Uri($"http://127.0.0.1:{port}"));
        var error = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping()));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    private sealed class RecordingInterceptor(string name, List<string> order) : IServerInterceptor
    {
        public async Task InterceptAsync(ServerCallContext context, Func<Task> next)
        {
            if (name == "first" && context.RequestHeaders.GetValue("deny") is not null)
            {
                throw new RpcException(StatusCode.PermissionDenied, "denied by " + name);
            }

            lock (order)
            {
                order.Add(name + ">");
            }

            await next();
            lock (order)
            {
                order.Add("<" + name);
            }
        }
    }
}
