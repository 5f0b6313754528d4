using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Segmentation.Bench.Target;

/// <summary>
/// The lowest baseline: a bare Kestrel HTTP/2 (h2c) endpoint that reads the request body and answers 200 with it,
/// no gRPC framing, no routing. Our gRPC echo and lookups are measured against it in the same run.
/// </summary>
public static class PlainServer
{
    /// <summary>Serves on 127.0.0.1:<paramref name="port"/> until the process is stopped.</summary>
    public static async Task RunAsync(int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        app.Run(static async http =>
        {
            var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body, http.RequestAborted);
            http.Response.ContentType = "application/octet-stream";
            http.Response.ContentLength = body.Length;
            await http.Response.Body.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), http.RequestAborted);
        });
        await app.StartAsync(cancellationToken);
        await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        await app.StopAsync(CancellationToken.None);
    }
}
