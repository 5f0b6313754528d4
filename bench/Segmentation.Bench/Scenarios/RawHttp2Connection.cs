using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Segmentation.Bench.Scenarios;

/// <summary>
/// A deliberately minimal HTTP/2 client (RFC 9113) for abuse scenarios: it writes whatever frames it is told to,
/// acknowledges the server's SETTINGS and PINGs, and only counts what comes back (it never decodes HPACK). Headers are
/// encoded as HPACK literals without indexing (RFC 7541 section 6.2.2), which every decoder must accept.
/// </summary>
internal sealed class RawHttp2Connection : IAsyncDisposable
{
    public const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, Ping = 0x6, GoAway = 0x7, Continuation = 0x9;
    public const byte EndStream = 0x1, EndHeaders = 0x4, Ack = 0x1;
    public const int MaxFrame = 16_384;

    private static readonly byte[] s_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly Task _reader;
    private int _nextStream = 1;
    private long _resets, _goAways, _headers;

    private RawHttp2Connection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>RST_STREAM frames received.</summary>
    public long ResetsReceived => Interlocked.Read(ref _resets);

    /// <summary>GOAWAY frames received.</summary>
    public long GoAwaysReceived => Interlocked.Read(ref _goAways);

    /// <summary>HEADERS frames received (responses).</summary>
    public long HeadersReceived => Interlocked.Read(ref _headers);

    /// <summary>The last GOAWAY's error code (0 NO_ERROR, 0xb ENHANCE_YOUR_CALM, ...), -1 when none came.</summary>
    public long LastGoAwayError { get; private set; } = -1;

    /// <summary>Whether the server closed the connection (or sent GOAWAY) or a write failed.</summary>
    public bool Closed { get; private set; }

    /// <summary>Connects; sends the preface and an empty SETTINGS frame unless <paramref name="preface"/> is false.</summary>
    public static async Task<RawHttp2Connection> OpenAsync(Uri address, bool preface = true)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, address.Port));
        var connection = new RawHttp2Connection(socket);
        if (preface)
        {
            await connection.WriteRawAsync(s_preface);
            await connection.WriteFrameAsync(Settings, 0, 0, ReadOnlyMemory<byte>.Empty);
        }

        return connection;
    }

    /// <summary>A new client stream id (odd, increasing).</summary>
    public int NextStreamId()
    {
        var id = _nextStream;
        _nextStream += 2;
        return id;
    }

    /// <summary>Writes one frame; returns false when the connection is gone.</summary>
    public async Task<bool> WriteFrameAsync(byte type, byte flags, int streamId, ReadOnlyMemory<byte> payload)
    {
        var frame = new byte[9 + payload.Length];
        Header(frame, payload.Length, type, flags, streamId);
        payload.CopyTo(frame.AsMemory(9));
        return await WriteRawAsync(frame);
    }

    /// <summary>Writes bytes as they are (several frames at once, or a partial frame); false when the connection is gone.</summary>
    public async Task<bool> WriteRawAsync(ReadOnlyMemory<byte> bytes)
    {
        if (Closed)
        {
            return false;
        }

        await _writeGate.WaitAsync();
        try
        {
            await _stream.WriteAsync(bytes);
            return true;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Closed = true;
            return false;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Writes a 9-byte frame header into <paramref name="buffer"/>.</summary>
    public static void Header(Span<byte> buffer, int length, byte type, byte flags, int streamId)
    {
        buffer[0] = (byte)(length >> 16);
        buffer[1] = (byte)(length >> 8);
        buffer[2] = (byte)length;
        buffer[3] = type;
        buffer[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(buffer[5..], streamId & int.MaxValue);
    }

    /// <summary>An HPACK header block of literals without indexing, no Huffman coding.</summary>
    public static byte[] EncodeHeaders(IEnumerable<(string Name, string Value)> headers)
    {
        var block = new MemoryStream();
        foreach (var (name, value) in headers)
        {
            block.WriteByte(0x00);
            WriteString(block, name);
            WriteString(block, value);
        }

        return block.ToArray();
    }

    /// <summary>The request headers of a gRPC call to <paramref name="path"/>, plus <paramref name="extra"/>.</summary>
    public static List<(string, string)> GrpcRequest(Uri address, string path, params (string, string)[] extra)
    {
        var headers = new List<(string, string)>
        {
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", $"{address.Host}:{address.Port}"),
            ("content-type", "application/grpc"), ("te", "trailers"),
        };
        headers.AddRange(extra);
        return headers;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Closed = true;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already closed by the server.
        }

        await _stream.DisposeAsync();
        await _reader.ContinueWith(_ => { }, TaskScheduler.Default);
        _writeGate.Dispose();
    }

    private static void WriteString(Stream output, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        WriteInteger(output, bytes.Length, 7, 0x00);
        output.Write(bytes);
    }

    // RFC 7541 section 5.1: an integer with an N-bit prefix.
    private static void WriteInteger(Stream output, int value, int prefixBits, byte firstByteFlags)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            output.WriteByte((byte)(firstByteFlags | value));
            return;
        }

        output.WriteByte((byte)(firstByteFlags | max));
        value -= max;
        while (value >= 128)
        {
            output.WriteByte((byte)((value & 0x7F) | 0x80));
            value >>= 7;
        }

        output.WriteByte((byte)value);
    }

    private async Task ReadLoopAsync()
    {
        var header = new byte[9];
        var payload = new byte[MaxFrame];
        try
        {
            while (true)
            {
                await _stream.ReadExactlyAsync(header);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = header[3];
                var flags = header[4];
                if (length > payload.Length)
                {
                    payload = new byte[length];
                }

                await _stream.ReadExactlyAsync(payload.AsMemory(0, length));
                switch (type)
                {
                    case Settings when (flags & Ack) == 0:
                        await WriteFrameAsync(Settings, Ack, 0, ReadOnlyMemory<byte>.Empty);
                        break;
                    case Ping when (flags & Ack) == 0:
                        await WriteFrameAsync(Ping, Ack, 0, payload.AsMemory(0, length).ToArray());
                        break;
                    case RstStream:
                        Interlocked.Increment(ref _resets);
                        break;
                    case Headers:
                        Interlocked.Increment(ref _headers);
                        break;
                    case GoAway:
                        Interlocked.Increment(ref _goAways);
                        LastGoAwayError = length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4)) : -1;
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or EndOfStreamException)
        {
            // The server closed the connection (or we did).
        }
        finally
        {
            Closed = true;
        }
    }
}
