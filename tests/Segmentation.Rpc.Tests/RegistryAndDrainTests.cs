using System.Net;
using Segmentation.Rpc.Tests.Protos;

namespace Segmentation.Rpc.Tests;

/// <summary>Start-up binding checks, graceful drain, and the protocol helpers.</summary>
public sealed class RegistryAndDrainTests
{
    [Fact]
    public void EnsureAllBound_NamesTheUnboundMethods()
    {
        var registry = new GrpcServiceRegistry();
        registry.AddUnary<Ping, Ping>(TesterServer.Method("Echo"), (p, _) => Task.FromResult(p));
        var error = Assert.Throws<InvalidOperationException>(registry.EnsureAllBound);
        Assert.Contains("/rpctest.v1.Tester/Sum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Binding_TheWrongShapeOrTwice_Throws()
    {
        var registry = new GrpcServiceRegistry();
        Assert.Throws<ArgumentException>(() => registry.AddUnary<Ping, Ping>(TesterServer.Method("Sum"), (p, _) => Task.FromResult(p)));
        registry.AddUnary<Ping, Ping>(TesterServer.Method("Echo"), (p, _) => Task.FromResult(p));
        Assert.Throws<ArgumentException>(() => registry.AddUnary<Ping, Ping>(TesterServer.Method("Echo"), (p, _) => Task.FromResult(p)));
    }

    [Fact]
    public async Task Drain_RefusesNewCalls_AndWaitsForCallsInFlight()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var registry = new GrpcServiceRegistry();
        foreach (var method in TesterServer.Service.Methods.Where(m => !m.IsClientStreaming && !m.IsServerStreaming))
        {
            registry.AddUnary<Ping, Ping>(method, async (p, _) =>
            {
                started.TrySetResult();
                await release.Task;
                return p;
            });
        }

        registry.AddClientStreaming<Ping, Ping>(TesterServer.Method("Sum"), (_, _) => Task.FromResult(new Ping()));
        registry.AddServerStreaming<Ping, Ping>(TesterServer.Method("Repeat"), (_, _, _) => Task.CompletedTask);
        registry.AddDuplexStreaming<Ping, Ping>(TesterServer.Method("Chat"), (_, _, _) => Task.CompletedTask);
        await using var server = await GrpcServer.StartAsync(registry, new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new GrpcClient(server.Address);

        var inFlight = client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping { Text = "in flight" });
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        server.Dispatcher.BeginDrain();
        var idle = server.Dispatcher.WhenIdleAsync(CancellationToken.None);

        var refused = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync<Ping, Ping>(TesterServer.Method("Echo"), new Ping()));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.False(idle.IsCompleted);
        Assert.Equal(1, server.Dispatcher.InFlight);

        release.SetResult();
        Assert.Equal("in flight", (await inFlight).Text);
        await idle.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData("1H", 36_000_000_000L)]
    [InlineData("2M", 1_200_000_000L)]
    [InlineData("3S", 30_000_000L)]
    [InlineData("250m", 2_500_000L)]
    [InlineData("40u", 400L)]
    [InlineData("500n", 5L)]
    [InlineData("99999999S", 999_999_990_000_000L)]
    public void TryParseTimeout_ParsesEveryUnit(string value, long ticks)
    {
        Assert.True(GrpcProtocol.TryParseTimeout(value, out var timeout));
        Assert.Equal(ticks, timeout.Ticks);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("10x")]
    [InlineData("-1S")]
    [InlineData("123456789S")]
    public void TryParseTimeout_RejectsMalformed(string value) => Assert.False(GrpcProtocol.TryParseTimeout(value, out _));

    [Theory]
    [InlineData("plain text")]
    [InlineData("50% off")]
    [InlineData("ünïcode ✓ and\nnewline")]
    public void StatusMessage_PercentEncoding_RoundTrips(string message)
    {
        var encoded = GrpcProtocol.EncodeMessage(message);
        Assert.All(encoded, c => Assert.InRange(c, ' ', '~'));
        Assert.Equal(message, GrpcProtocol.DecodeMessage(encoded));
    }

    [Fact]
    public void ContentType_Check()
    {
        Assert.True(GrpcProtocol.IsGrpcContentType("application/grpc"));
        Assert.True(GrpcProtocol.IsGrpcContentType("application/grpc+proto"));
        Assert.False(GrpcProtocol.IsGrpcContentType("application/grpcx"));
        Assert.False(GrpcProtocol.IsGrpcContentType("application/json"));
        Assert.False(GrpcProtocol.IsGrpcContentType(null));
    }
}
