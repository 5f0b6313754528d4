using Grpc.Net.Client;

namespace Segmentation.Host.Tests.Edge;

/// <summary>One real host on loopback shared by the edge tests that do not change its state.</summary>
public sealed class EdgeServerFixture : IAsyncLifetime
{
    private TestServer _server = null!;

    internal TestServer Server => _server;

    internal Uri Address => _server.Server.Address;

    internal GrpcChannel Channel => _server.Client;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();
}
