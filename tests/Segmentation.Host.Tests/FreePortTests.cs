using System.Net;
using System.Net.Sockets;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Segmentation.Host.Tests;

/// <summary>
/// A silo or admin port configured as 0 is found by binding and releasing it; another process can take it before the
/// silo or the admin endpoint binds it. The start then tries again with ports found anew, instead of failing.
/// </summary>
public sealed class FreePortTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Start_WhenAPortFoundFreeIsTakenBeforeItIsBound_FindsAnotherAndServes(bool admin)
    {
        // The port "found free" first is one this test holds, as another process would after the probe.
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var takenPort = ((IPEndPoint)taken.LocalEndpoint).Port;
        var found = new List<int>();
        int FreePort()
        {
            var port = found.Count == 0 ? takenPort : Hosting.Silo.FreeLoopbackPort();
            found.Add(port);
            return port;
        }

        var dataDirectory = Path.Combine(Path.GetTempPath(), "seg-test-" + Guid.NewGuid().ToString("N"));
        string[] args =
        [
            $"--Segmentation:DataDirectory={dataDirectory}",
            "--Segmentation:Listen=127.0.0.1:0",
            "--Logging:LogLevel:Default=Warning",
            .. admin ? new[] { "--Segmentation:AdminListen=127.0.0.1:0" } : [],
        ];
        try
        {
            await using var server = await SegmentationServer.StartFindingPortsAsync(args, FreePort, CancellationToken.None);
            using var channel = GrpcChannel.ForAddress(server.Address);
            var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
            Assert.True(found.Count > (admin ? 2 : 1), $"ports found: {string.Join(", ", found)}");
            Assert.Equal(takenPort, found[0]);
        }
        finally
        {
            TestServer.TryDelete(dataDirectory);
        }
    }
}
