using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Segmentation.Rpc;

/// <summary>Kestrel set-up for gRPC over cleartext HTTP/2 (h2c with prior knowledge).</summary>
public static class GrpcKestrel
{
    // RFC 9113 section 3.4: every HTTP/2 connection starts with this preface.
    private static readonly byte[] s_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
    private static readonly byte[] s_upgradeRequired =
        "HTTP/1.1 426 Upgrade Required\r\nUpgrade: h2c\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 35\r\n\r\ngRPC requires HTTP/2 (h2c or TLS).\n"u8.ToArray();

    /// <summary>
    /// Makes an endpoint serve HTTP/2 with prior knowledge, and answer any connection that does not open with the
    /// HTTP/2 preface (an HTTP/1.x client) with <c>426 Upgrade Required</c> instead of a bare protocol error.
    /// </summary>
    public static void ConfigureEndpoint(ListenOptions listenOptions)
    {
        listenOptions.Protocols = HttpProtocols.Http2;
        listenOptions.Use(next => async connection =>
        {
            var input = connection.Transport.Input;
            while (true)
            {
                var result = await input.ReadAsync(connection.ConnectionClosed);
                var buffer = result.Buffer;
                var seen = (int)Math.Min(buffer.Length, s_preface.Length);
                var head = buffer.Slice(0, seen).ToArray();
                if (!head.AsSpan().SequenceEqual(s_preface.AsSpan(0, seen)))
                {
                    input.AdvanceTo(buffer.End);
                    await connection.Transport.Output.WriteAsync(s_upgradeRequired, connection.ConnectionClosed);
                    await connection.Transport.Output.CompleteAsync();
                    return;
                }

                if (seen == s_preface.Length || result.IsCompleted)
                {
                    input.AdvanceTo(buffer.Start);
                    break;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
            }

            await next(connection);
        });
    }
}

/// <summary>A whole gRPC server on one address, for tests, benchmarks and small tools.</summary>
public sealed class GrpcServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcServer(WebApplication app, GrpcDispatcher dispatcher, Uri address)
    {
        _app = app;
        Dispatcher = dispatcher;
        Address = address;
    }

    /// <summary>Where clients connect, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public Uri Address { get; }

    /// <summary>The dispatcher (drain, in-flight count).</summary>
    public GrpcDispatcher Dispatcher { get; }

    /// <summary>Starts a server for <paramref name="registry"/> on <paramref name="endpoint"/> (port 0 picks a free port).</summary>
    public static async Task<GrpcServer> StartAsync(GrpcServiceRegistry registry, IPEndPoint endpoint, GrpcServerOptions? options = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        registry.EnsureAllBound();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(endpoint, GrpcKestrel.ConfigureEndpoint);
        });
        var app = builder.Build();
        var dispatcher = new GrpcDispatcher(registry, options ?? new GrpcServerOptions(), loggerFactory ?? NullLoggerFactory.Instance);
        app.Run(dispatcher.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new GrpcServer(app, dispatcher, new Uri(address));
    }

    /// <summary>Drains (new calls get UNAVAILABLE), waits for calls in flight, and stops.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Dispatcher.BeginDrain();
        await _app.StopAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
