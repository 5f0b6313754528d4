namespace Segmentation.Rpc;

/// <summary>
/// Facts of the gRPC over HTTP/2 protocol, in one place.
/// Spec: https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
/// </summary>
public static class GrpcProtocol
{
    /// <summary>The content type of gRPC requests and responses (protobuf is the default sub-type).</summary>
    public const string ContentType = "application/grpc";

    /// <summary>Request header carrying the deadline: 1 to 8 digits and a unit (H, M, S, m, u, n).</summary>
    public const string TimeoutHeader = "grpc-timeout";

    /// <summary>Message compression of this call's messages.</summary>
    public const string EncodingHeader = "grpc-encoding";

    /// <summary>The compressions a peer accepts.</summary>
    public const string AcceptEncodingHeader = "grpc-accept-encoding";

    /// <summary>Trailer (or header, for trailers-only responses) with the decimal status code.</summary>
    public const string StatusTrailer = "grpc-status";

    /// <summary>Trailer with the percent-encoded UTF-8 status message.</summary>
    public const string MessageTrailer = "grpc-message";

    /// <summary>Binary metadata keys end with this suffix; their values are base64 on the wire.</summary>
    public const string BinaryHeaderSuffix = "-bin";

    /// <summary>The compressions we implement.</summary>
    public const string SupportedEncodings = "identity,gzip";

    /// <summary>gzip compression.</summary>
    public const string GzipEncoding = "gzip";

    /// <summary>No compression.</summary>
    public const string IdentityEncoding = "identity";

    /// <summary>Length of a message frame header: 1 compressed-flag byte and a 4-byte big-endian length.</summary>
    public const int FrameHeaderLength = 5;

    /// <summary>Default largest message a peer accepts.</summary>
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;

    /// <summary>Request header a gRPC client sends (value <c>trailers</c>) to say it understands trailers.</summary>
    public const string TeHeader = "te";

    /// <summary>
    /// The longest deadline we arm a timer for (about 24.8 days). A longer <c>grpc-timeout</c> (up to 99999999 hours is
    /// legal) is treated as no deadline: no call lives that long, and a far-future deadline would overflow timers and
    /// <see cref="DateTime"/>.
    /// </summary>
    public static readonly TimeSpan MaxDeadline = TimeSpan.FromMilliseconds(int.MaxValue);

    // grpc-status values as sent on the wire, so the hot path formats no integers.
    private static readonly string[] s_statusStrings = CreateStatusStrings();

    /// <summary>The decimal wire form of a status code (<c>grpc-status</c>).</summary>
    public static string StatusToString(StatusCode status) =>
        (uint)status < (uint)s_statusStrings.Length
            ? s_statusStrings[(int)status]
            : ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The canonical name of a status code, e.g. <c>INVALID_ARGUMENT</c> (the spec's spelling).</summary>
    public static string StatusName(StatusCode status) => status switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static string[] CreateStatusStrings()
    {
        var strings = new string[(int)StatusCode.Unauthenticated + 1];
        for (var i = 0; i < strings.Length; i++)
        {
            strings[i] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return strings;
    }

    /// <summary>Whether a content-type is gRPC: <c>application/grpc</c>, optionally <c>+proto</c>/<c>+json</c> or parameters.</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return contentType.Length == ContentType.Length || contentType[ContentType.Length] is '+' or ';';
    }

    /// <summary>Parses a <c>grpc-timeout</c> value; false when malformed.</summary>
    public static bool TryParseTimeout(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (value is null || value.Length < 2 || value.Length > 9)
        {
            return false;
        }

        long amount = 0;
        for (var i = 0; i < value.Length - 1; i++)
        {
            var digit = value[i] - '0';
            if (digit is < 0 or > 9)
            {
                return false;
            }

            amount = (amount * 10) + digit;
        }

        double ticks = value[^1] switch
        {
            'H' => amount * (double)TimeSpan.TicksPerHour,
            'M' => amount * (double)TimeSpan.TicksPerMinute,
            'S' => amount * (double)TimeSpan.TicksPerSecond,
            'm' => amount * (double)TimeSpan.TicksPerMillisecond,
            'u' => amount * 10.0,
            'n' => amount / 100.0,
            _ => double.NaN,
        };
        if (double.IsNaN(ticks))
        {
            return false;
        }

        timeout = TimeSpan.FromTicks((long)Math.Min(ticks, TimeSpan.MaxValue.Ticks));
        return true;
    }

    /// <summary>Formats a timeout for <c>grpc-timeout</c> (at most 8 digits, coarsening the unit as needed).</summary>
    public static string FormatTimeout(TimeSpan timeout)
    {
        var ticks = Math.Max(1, timeout.Ticks);
        if (ticks / 10 < 100_000_000 && ticks % 10 == 0)
        {
            return (ticks / 10).ToString(System.Globalization.CultureInfo.InvariantCulture) + "u";
        }

        var ms = (long)Math.Ceiling(timeout.TotalMilliseconds);
        if (ms < 100_000_000)
        {
            return ms.ToString(System.Globalization.CultureInfo.InvariantCulture) + "m";
        }

        var s = (long)Math.Ceiling(timeout.TotalSeconds);
        return s < 100_000_000 ? s.ToString(System.Globalization.CultureInfo.InvariantCulture) + "S" : "99999999S";
    }

    /// <summary>
    /// The longest status message sent, in characters. A message that quotes client input (an unknown service name,
    /// an id) must not grow the trailers without bound: HTTP/2 peers cap header lists (.NET's client at 64 KB, gRPC
    /// core at 8 KB by default) and would fail the call instead of showing the status.
    /// </summary>
    public const int MaxStatusMessageLength = 1_024;

    /// <summary>
    /// Percent-encodes a status message: bytes outside printable ASCII, and '%', become %XX of their UTF-8. Messages
    /// longer than <see cref="MaxStatusMessageLength"/> are cut there and end with "...".
    /// </summary>
    public static string EncodeMessage(string message)
    {
        if (message.Length > MaxStatusMessageLength)
        {
            message = string.Concat(message.AsSpan(0, MaxStatusMessageLength - 3), "...");
        }

        var needs = false;
        foreach (var c in message)
        {
            if (c is < ' ' or > '~' or '%')
            {
                needs = true;
                break;
            }
        }

        if (!needs)
        {
            return message;
        }

        var builder = new System.Text.StringBuilder(message.Length + 16);
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(message))
        {
            if (b is < (byte)' ' or > (byte)'~' or (byte)'%')
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append((char)b);
            }
        }

        return builder.ToString();
    }

    /// <summary>Decodes a percent-encoded status message; malformed escapes are kept as they are.</summary>
    public static string DecodeMessage(string? value)
    {
        if (string.IsNullOrEmpty(value) || !value.Contains('%', StringComparison.Ordinal))
        {
            return value ?? "";
        }

        var bytes = new List<byte>(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length
                && byte.TryParse(value.AsSpan(i + 1, 2), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(value[i].ToString()));
            }
        }

        return System.Text.Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>
    /// The gRPC status for an HTTP/2 RST_STREAM or GOAWAY error code (RFC 9113 section 7) that ended a call, as the
    /// spec maps them: CANCEL → CANCELLED, REFUSED_STREAM → UNAVAILABLE, ENHANCE_YOUR_CALM → RESOURCE_EXHAUSTED,
    /// INADEQUATE_SECURITY → PERMISSION_DENIED, anything else → INTERNAL.
    /// </summary>
    public static StatusCode FromHttp2ErrorCode(long errorCode) => errorCode switch
    {
        0x7 => StatusCode.Unavailable,
        0x8 => StatusCode.Cancelled,
        0xb => StatusCode.ResourceExhausted,
        0xc => StatusCode.PermissionDenied,
        _ => StatusCode.Internal,
    };

    /// <summary>The gRPC status for an HTTP status a peer answered with instead of gRPC (spec: http-grpc-status-mapping.md).</summary>
    public static StatusCode FromHttpStatus(int httpStatus) => httpStatus switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };
}

/// <summary>gRPC status codes (https://github.com/grpc/grpc/blob/master/doc/statuscodes.md).</summary>
public enum StatusCode
{
    /// <summary>Success.</summary>
    OK = 0,

    /// <summary>Cancelled by the caller.</summary>
    Cancelled = 1,

    /// <summary>Unknown error (e.g. an unhandled exception in the handler).</summary>
    Unknown = 2,

    /// <summary>The client sent something invalid.</summary>
    InvalidArgument = 3,

    /// <summary>The deadline passed before the call completed.</summary>
    DeadlineExceeded = 4,

    /// <summary>An entity was not found.</summary>
    NotFound = 5,

    /// <summary>An entity already exists.</summary>
    AlreadyExists = 6,

    /// <summary>Not allowed.</summary>
    PermissionDenied = 7,

    /// <summary>A resource (message size, queue) is exhausted.</summary>
    ResourceExhausted = 8,

    /// <summary>The system is not in a state the call needs.</summary>
    FailedPrecondition = 9,

    /// <summary>Aborted, e.g. a concurrency conflict.</summary>
    Aborted = 10,

    /// <summary>Out of range.</summary>
    OutOfRange = 11,

    /// <summary>Not implemented or not supported.</summary>
    Unimplemented = 12,

    /// <summary>Internal error, e.g. a broken message frame.</summary>
    Internal = 13,

    /// <summary>Unavailable: retry later (e.g. shutting down).</summary>
    Unavailable = 14,

    /// <summary>Unrecoverable data loss.</summary>
    DataLoss = 15,

    /// <summary>No valid credentials.</summary>
    Unauthenticated = 16,
}
