using System.Net;

namespace Segmentation.Host.Tests;

/// <summary>The Orleans dashboard on the admin port, over a real HTTP/1.1 client.</summary>
public sealed class DashboardTests
{
    [Fact]
    public async Task AdminPort_ServesTheOrleansDashboard_AndThePublicPortDoesNot()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:AdminListen=127.0.0.1:0");
        var admin = Assert.IsType<Uri>(server.Server.AdminAddress);
        Assert.NotEqual(server.Server.Address.Port, admin.Port);

        using var http = new HttpClient();
        using var page = await http.GetAsync(admin);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("html", page.Content.Headers.ContentType?.MediaType ?? "", StringComparison.OrdinalIgnoreCase);

        // The gRPC port answers HTTP/1.1 with 426 (it speaks HTTP/2 only), never with the dashboard.
        using var onGrpcPort = await http.GetAsync(server.Server.Address);
        Assert.NotEqual(HttpStatusCode.OK, onGrpcPort.StatusCode);
    }

    [Fact]
    public async Task ByDefault_ThereIsNoAdminPort()
    {
        await using var server = await TestServer.StartAsync();
        Assert.Null(server.Server.AdminAddress);
    }
}
