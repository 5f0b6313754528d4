using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;

namespace Segmentation.Rpc.Internal;

/// <summary>
/// Length-prefixed message frames (1 compressed-flag byte, 4-byte big-endian length, payload) and their payloads.
/// </summary>
internal static class MessageCodec
{
    /// <summary>The outcome of looking at buffered bytes for one frame.</summary>
    public enum FrameStatus
    {
        /// <summary>A whole frame is buffered.</summary>
        Complete,

        /// <summary>More bytes are needed.</summary>
        Incomplete,
    }

    /// <summary>
    /// Looks for one frame at the start of <paramref name="buffer"/>. The header is checked as soon as its 5 bytes are
    /// there, so an oversized message is refused before its body is read. Throws <see cref="RpcException"/> for a bad
    /// flag, a compressed frame without an encoding, or a length over <paramref name="maxSize"/>.
    /// </summary>
    public static FrameStatus TryReadFrame(in ReadOnlySequence<byte> buffer, int maxSize, bool compressionAllowed, out bool compressed, out ReadOnlySequence<byte> payload)
    {
        compressed = false;
        payload = default;
        if (buffer.Length < GrpcProtocol.FrameHeaderLength)
        {
            return FrameStatus.Incomplete;
        }

        Span<byte> header = stackalloc byte[GrpcProtocol.FrameHeaderLength];
        buffer.Slice(0, GrpcProtocol.FrameHeaderLength).CopyTo(header);
        var flag = header[0];
        if (flag > 1)
        {
            throw new RpcException(StatusCode.Internal, $"Message frame has compressed-flag {flag}; only 0 and 1 are valid.");
        }

        compressed = flag == 1;
        if (compressed && !compressionAllowed)
        {
            throw new RpcException(StatusCode.Internal, "Message frame is compressed but the call has no grpc-encoding.");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > (uint)maxSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted, $"Received message larger than max ({length} vs. {maxSize}).");
        }

        if (buffer.Length < GrpcProtocol.FrameHeaderLength + length)
        {
            return FrameStatus.Incomplete;
        }

        payload = buffer.Slice(GrpcProtocol.FrameHeaderLength, length);
        return FrameStatus.Complete;
    }

    /// <summary>Parses a payload (gunzipping it when compressed); a payload that is not the message → INTERNAL.</summary>
    public static T Parse<T>(MessageParser<T> parser, in ReadOnlySequence<byte> payload, bool compressed, int maxSize)
        where T : IMessage<T>
    {
        try
        {
            if (!compressed)
            {
                return parser.ParseFrom(payload);
            }

            return parser.ParseFrom(Gunzip(payload, maxSize));
        }
        catch (InvalidProtocolBufferException)
        {
            throw new RpcException(StatusCode.Internal, $"Failed to deserialize the message as {typeof(T).Name}.");
        }
        catch (InvalidDataException)
        {
            throw new RpcException(StatusCode.Internal, "Failed to decompress the message (not valid gzip).");
        }
    }

    /// <summary>Writes one frame of <paramref name="message"/> (uncompressed) into <paramref name="writer"/>.</summary>
    public static void WriteFrame(IBufferWriter<byte> writer, IMessage message, int maxSize)
    {
        var size = message.CalculateSize();
        if (size > maxSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted, $"Sending message larger than max ({size} vs. {maxSize}).");
        }

        var span = writer.GetSpan(GrpcProtocol.FrameHeaderLength + size);
        span[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)size);
        message.WriteTo(span.Slice(GrpcProtocol.FrameHeaderLength, size));
        writer.Advance(GrpcProtocol.FrameHeaderLength + size);
    }

    /// <summary>One whole frame as bytes, gzip-compressed when asked.</summary>
    public static byte[] Frame(IMessage message, bool gzip)
    {
        if (!gzip)
        {
            var size = message.CalculateSize();
            var plain = new byte[GrpcProtocol.FrameHeaderLength + size];
            BinaryPrimitives.WriteUInt32BigEndian(plain.AsSpan(1), (uint)size);
            message.WriteTo(plain.AsSpan(GrpcProtocol.FrameHeaderLength));
            return plain;
        }

        var body = message.ToByteArray();
        using (var compressed = new MemoryStream())
        {
            using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                zip.Write(body);
            }

            body = compressed.ToArray();
        }

        var frame = new byte[GrpcProtocol.FrameHeaderLength + body.Length];
        frame[0] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)body.Length);
        body.CopyTo(frame.AsSpan(GrpcProtocol.FrameHeaderLength));
        return frame;
    }

    private static byte[] Gunzip(in ReadOnlySequence<byte> payload, int maxSize)
    {
        using var input = new MemoryStream(payload.ToArray());
        using var zip = new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = zip.Read(chunk)) > 0)
            {
                if (output.Length + read > maxSize)
                {
                    throw new RpcException(StatusCode.ResourceExhausted, $"Decompressed message larger than max ({maxSize}).");
                }

                output.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return output.ToArray();
    }
}
