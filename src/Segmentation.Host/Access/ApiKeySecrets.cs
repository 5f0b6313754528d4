using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Segmentation.Host.Access;

/// <summary>
/// The text of API keys: <c>seg_&lt;12 hex digits of id&gt;_&lt;43 characters of base64url secret&gt;</c>, 256 random bits
/// behind a public id that finds the stored key without scanning.
/// </summary>
/// <remarks>
/// Stored as SHA-256, not a slow password hash (PBKDF2, Argon2): a key is 256 random bits, not a human password, so
/// no dictionary or brute force gets anywhere near it, and a per-call lookup must cost microseconds, not the tens of
/// milliseconds a password hash is built to cost. Comparison is in fixed time.
/// </remarks>
internal static class ApiKeySecrets
{
    /// <summary>Every generated key starts with this.</summary>
    public const string Prefix = "seg_";

    private const int IdHexDigits = 12;

    /// <summary>A new key: its id and its full text (shown once to whoever created it).</summary>
    public static (string Id, string Text) Generate()
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdHexDigits / 2));
        var secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (id, Prefix + id + "_" + secret);
    }

    /// <summary>The id inside a key's text, or null when the text is not shaped like one of our keys.</summary>
    public static string? IdOf(string text)
    {
        if (text.Length <= Prefix.Length + IdHexDigits + 1
            || !text.StartsWith(Prefix, StringComparison.Ordinal)
            || text[Prefix.Length + IdHexDigits] != '_')
        {
            return null;
        }

        var id = text.AsSpan(Prefix.Length, IdHexDigits);
        foreach (var c in id)
        {
            if (!char.IsAsciiHexDigitLower(c))
            {
                return null;
            }
        }

        return id.ToString();
    }

    /// <summary>SHA-256 of the key's text.</summary>
    public static byte[] Hash(string text) => SHA256.HashData(Encoding.UTF8.GetBytes(text));

    /// <summary>Whether <paramref name="text"/> hashes to <paramref name="hash"/>, in time independent of where they differ.</summary>
    public static bool Matches(string text, byte[] hash)
    {
        Span<byte> computed = stackalloc byte[SHA256.HashSizeInBytes];
        var byteCount = Encoding.UTF8.GetMaxByteCount(text.Length);
        var bytes = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        var written = Encoding.UTF8.GetBytes(text, bytes);
        SHA256.HashData(bytes[..written], computed);
        return CryptographicOperations.FixedTimeEquals(computed, hash);
    }
}
