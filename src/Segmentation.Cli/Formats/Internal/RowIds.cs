using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Segmentation.Cli.Formats.Internal;

/// <summary>
/// Deterministic event ids for formats without one: <c>{prefix}-{hex of the first 16 bytes of SHA-256(raw line)}-{n}</c>,
/// where n counts the identical raw lines met before this one in the same group (identical lines in the data are
/// separate events, for example two equal invoice lines, so they must not collide). Reading a file again yields the
/// same ids, so re-ingesting it is reported as duplicates.
/// </summary>
/// <remarks>
/// A group is a run of consecutive rows with the same group key (the invoice, the event time, the user: the order the
/// source files are written in), and the counts restart with every group. Memory therefore stays bounded by the largest
/// group instead of growing with the file, which may hold hundreds of millions of rows. Identical rows in two separate
/// groups (possible only in a re-sorted file) get the same id, and the server reports the later one as a duplicate.
/// Not thread-safe: one instance per file being read.
/// </remarks>
internal sealed class RowIds(string prefix)
{
    private const int HashBytes = 16;
    private const int StackLineBytes = 1024;
    private const int LargeGroup = 1024;

    private readonly string _prefix = prefix;
    private Dictionary<UInt128, int> _seen = [];
    private string _group = "";

    /// <summary>The id of the next row, <paramref name="line"/> being its raw text and <paramref name="group"/> its group key.</summary>
    public string Next(ReadOnlySpan<char> line, ReadOnlySpan<char> group)
    {
        if (!group.SequenceEqual(_group))
        {
            _group = group.ToString();
            if (_seen.Count > LargeGroup)
            {
                _seen = []; // Clear() would keep (and keep wiping) the large table.
            }
            else
            {
                _seen.Clear();
            }
        }

        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Hash(line, digest);
        ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(_seen, BinaryPrimitives.ReadUInt128BigEndian(digest), out _);
        var occurrence = count++;

        Span<char> id = stackalloc char[_prefix.Length + 1 + (2 * HashBytes) + 1 + 11];
        _prefix.CopyTo(id);
        var length = _prefix.Length;
        id[length++] = '-';
        Convert.TryToHexStringLower(digest[..HashBytes], id[length..], out var hexChars);
        length += hexChars;
        id[length++] = '-';
        occurrence.TryFormat(id[length..], out var digits, default, System.Globalization.CultureInfo.InvariantCulture);
        return new string(id[..(length + digits)]);
    }

    private static void Hash(ReadOnlySpan<char> line, Span<byte> digest)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(line.Length);
        byte[]? rented = null;
        var buffer = maxBytes <= StackLineBytes ? stackalloc byte[StackLineBytes] : (rented = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            var bytes = Encoding.UTF8.GetBytes(line, buffer);
            SHA256.HashData(buffer[..bytes], digest);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
