using System.Collections;

namespace Segmentation.Rpc;

/// <summary>
/// Custom metadata (headers or trailers) of a call. Keys are lower-case ASCII; a key ending in <c>-bin</c> carries
/// bytes, sent base64-encoded. Not thread-safe.
/// </summary>
public sealed class Metadata : IEnumerable<Metadata.Entry>
{
    private readonly List<Entry> _entries = [];

    /// <summary>Number of entries.</summary>
    public int Count => _entries.Count;

    /// <summary>Adds a text entry.</summary>
    public void Add(string key, string value)
    {
        key = NormalizeKey(key);
        if (key.EndsWith(GrpcProtocol.BinaryHeaderSuffix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Metadata key '{key}' ends in -bin: add a byte[] value.", nameof(key));
        }

        _entries.Add(new Entry(key, value, null));
    }

    /// <summary>Adds a binary entry (the key must end in <c>-bin</c>).</summary>
    public void Add(string key, byte[] value)
    {
        key = NormalizeKey(key);
        if (!key.EndsWith(GrpcProtocol.BinaryHeaderSuffix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Binary metadata key '{key}' must end in -bin.", nameof(key));
        }

        _entries.Add(new Entry(key, null, value));
    }

    /// <summary>The first text value of a key (case-insensitive), or null.</summary>
    public string? GetValue(string key) => Find(key).Value;

    /// <summary>The first binary value of a key (case-insensitive), or null.</summary>
    public byte[]? GetValueBytes(string key) => Find(key).ValueBytes;

    /// <inheritdoc />
    public IEnumerator<Entry> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The custom metadata among HTTP headers or trailers (see <see cref="AddFromWire"/>).</summary>
    internal static Metadata FromHeaders(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> headers)
    {
        var metadata = new Metadata();
        foreach (var (key, values) in headers)
        {
            foreach (var value in values)
            {
                metadata.AddFromWire(key, value);
            }
        }

        return metadata;
    }

    /// <summary>
    /// Adds one wire header as metadata, unless it is a protocol header (pseudo-headers, <c>grpc-*</c>, content-type,
    /// te, host, user-agent…). <c>-bin</c> values are base64 (padded or not) and may be comma-joined. A value that is
    /// not valid metadata (odd key characters, bad base64) is left out: one bad header must not fail the call.
    /// </summary>
    internal void AddFromWire(string key, string? value)
    {
        if (value is null || IsProtocolHeader(key))
        {
            return;
        }

        try
        {
            if (key.EndsWith(GrpcProtocol.BinaryHeaderSuffix, StringComparison.OrdinalIgnoreCase))
            {
                foreach (var part in value.Split(','))
                {
                    Add(key, DecodeBinary(part.Trim()));
                }
            }
            else
            {
                Add(key, value);
            }
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            // Not valid metadata: left out.
        }
    }

    private Entry Find(string key)
    {
        foreach (var entry in _entries)
        {
            if (string.Equals(entry.Key, key, StringComparison.OrdinalIgnoreCase))
            {
                return entry;
            }
        }

        return default;
    }

    private static bool IsProtocolHeader(string key) =>
        key.StartsWith(':')
        || key.StartsWith("grpc-", StringComparison.OrdinalIgnoreCase)
        || key.Equals("content-type", StringComparison.OrdinalIgnoreCase)
        || key.Equals("te", StringComparison.OrdinalIgnoreCase)
        || key.Equals("host", StringComparison.OrdinalIgnoreCase)
        || key.Equals("user-agent", StringComparison.OrdinalIgnoreCase)
        || key.Equals("accept-encoding", StringComparison.OrdinalIgnoreCase)
        || key.Equals("content-length", StringComparison.OrdinalIgnoreCase);

    /// <summary>Decodes a base64 value, padded or not (the spec lets senders omit padding).</summary>
    internal static byte[] DecodeBinary(string value)
    {
        var padded = (value.Length % 4) switch
        {
            2 => value + "==",
            3 => value + "=",
            _ => value,
        };
        return Convert.FromBase64String(padded);
    }

    private static string NormalizeKey(string key)
    {
        if (key.Length == 0)
        {
            throw new ArgumentException("Metadata keys must not be empty.", nameof(key));
        }

        foreach (var c in key)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_' or '.'))
            {
                throw new ArgumentException($"Metadata key '{key}' has a character outside [a-z0-9-_.].", nameof(key));
            }
        }

        return key.ToLowerInvariant();
    }

    /// <summary>One entry: text (<see cref="Value"/>) or binary (<see cref="ValueBytes"/>).</summary>
    public readonly record struct Entry(string Key, string? Value, byte[]? ValueBytes)
    {
        /// <summary>Whether the entry is binary.</summary>
        public bool IsBinary => ValueBytes is not null;
    }
}
