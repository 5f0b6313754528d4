using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using Google.Protobuf;

namespace Segmentation.Host.Tests.Edge;

/// <summary>
/// Raw HTTP/2 requests (h2c, HttpClient with <see cref="HttpVersionPolicy.RequestVersionExact"/>) for input a gRPC
/// client would never send: broken frames, wrong content types, odd headers.
/// </summary>
internal static class RawGrpc
{
    public static HttpClient NewHttpClient() => new(new SocketsHttpHandler { UseProxy = false })
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    /// <summary>One length-prefixed message: flag byte, 4-byte big-endian length (or <paramref name="declaredLength"/>), payload.</summary>
    public static byte[] Frame(byte flag, byte[] payload, uint? declaredLength = null)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declaredLength ?? (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(5));
        return frame;
    }

    public static byte[] Frame(IMessage message) => Frame(0, message.ToByteArray());

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var zip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(data);
        }

        return output.ToArray();
    }

    public static Task<RawResult> PostAsync(HttpClient http, Uri server, string path, byte[] body, string? contentType = "application/grpc", params (string Key, string Value)[] headers) =>
        PostAsync(http, server, path, new ByteArrayContent(body), contentType, headers);

    public static async Task<RawResult> PostAsync(HttpClient http, Uri server, string path, HttpContent body, string? contentType = "application/grpc", params (string Key, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, path)) { Content = body, Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        request.Headers.TE.ParseAdd("trailers");
        foreach (var (key, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(key, value);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var content = await response.Content.ReadAsByteArrayAsync();
        return new RawResult((int)response.StatusCode, Header(response, "grpc-status"), Header(response, "grpc-message"), response, content);
    }

    /// <summary>A header, or else a trailer, of the response.</summary>
    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.First()
        : response.TrailingHeaders.TryGetValues(name, out var trailers) ? trailers.First() : null;
}

/// <summary>What a raw call got: HTTP status, grpc-status and grpc-message (from headers or trailers), the response and its body.</summary>
internal sealed record RawResult(int Http, string? Status, string? Message, HttpResponseMessage Response, byte[] Body);

/// <summary>A request body written by a script, so a test controls when bytes go out and when the body ends.</summary>
internal sealed class ScriptedContent(Func<Stream, Task> script) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => script(stream);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
