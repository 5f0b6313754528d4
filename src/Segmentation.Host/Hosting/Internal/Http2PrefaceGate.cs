using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Segmentation.Host.Hosting.Internal;

/// <summary>Kestrel set-up for gRPC over cleartext HTTP/2 (h2c with prior knowledge).</summary>
/// <remarks>
/// Why not <see cref="HttpProtocols.Http1AndHttp2"/>: on an endpoint without TLS there is no ALPN, and Kestrel then
/// speaks HTTP/1.1 only; a client opening with the HTTP/2 preface gets GOAWAY HTTP_1_1_REQUIRED (checked on .NET 10).
/// So the endpoint is HTTP/2-only, and a small connection middleware looks at the first bytes: the HTTP/2 preface goes
/// on to Kestrel, anything else (an HTTP/1.x request line) is answered <c>426 Upgrade Required</c> and closed.
/// </remarks>
internal static class Http2PrefaceGate
{
    // RFC 9113 section 3.4: every HTTP/2 connection starts with this preface.
    private static readonly byte[] s_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
    private static readonly byte[] s_upgradeRequired = UpgradeRequiredResponse();

    // A connection that sends nothing is not held open forever (Kestrel's own timeouts start after the preface).
    private static readonly TimeSpan s_prefaceTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Makes an endpoint serve HTTP/2 with prior knowledge, and answer any connection that does not open with the
    /// HTTP/2 preface (an HTTP/1.x client) with <c>426 Upgrade Required</c> instead of a bare protocol error.
    /// Call it on a cleartext endpoint (<c>kestrel.Listen(endpoint, Http2PrefaceGate.ConfigureEndpoint)</c>).
    /// </summary>
    public static void ConfigureEndpoint(ListenOptions listenOptions)
    {
        listenOptions.Protocols = HttpProtocols.Http2;
        listenOptions.Use(next => async connection =>
        {
            if (await StartsWithPrefaceAsync(connection))
            {
                await next(connection);
            }
        });
    }

    /// <summary>Waits for the preface (leaving it unread for Kestrel); answers 426 and returns false for anything else.</summary>
    private static async Task<bool> StartsWithPrefaceAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        timeout.CancelAfter(s_prefaceTimeout);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(timeout.Token);
                var buffer = result.Buffer;
                if (!MatchesPreface(buffer, out var seen))
                {
                    input.AdvanceTo(buffer.End);
                    await connection.Transport.Output.WriteAsync(s_upgradeRequired, timeout.Token);
                    await connection.Transport.Output.CompleteAsync();
                    return false;
                }

                if (seen == s_preface.Length || result.IsCompleted)
                {
                    // Unread: Kestrel's HTTP/2 connection reads the preface itself.
                    input.AdvanceTo(buffer.Start);
                    return true;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (OperationCanceledException)
        {
            return false; // Closed, or silent past the timeout.
        }
    }

    /// <summary>Whether the bytes so far (<paramref name="seen"/> of them, at most the preface's length) match the preface.</summary>
    private static bool MatchesPreface(in ReadOnlySequence<byte> buffer, out int seen)
    {
        seen = (int)Math.Min(buffer.Length, s_preface.Length);
        Span<byte> head = stackalloc byte[s_preface.Length];
        buffer.Slice(0, seen).CopyTo(head);
        return head[..seen].SequenceEqual(s_preface.AsSpan(0, seen));
    }

    private static byte[] UpgradeRequiredResponse()
    {
        const string Body = "gRPC requires HTTP/2 (h2c with prior knowledge, or TLS with ALPN h2).\n";
        return System.Text.Encoding.ASCII.GetBytes(
            "HTTP/1.1 426 Upgrade Required\r\nUpgrade: h2c\r\nConnection: close\r\nContent-Type: text/plain\r\n"
            + $"Content-Length: {Body.Length}\r\n\r\n{Body}");
    }
}
