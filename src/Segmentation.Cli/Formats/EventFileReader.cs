using System.Globalization;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Formats;

/// <summary>The event file formats <c>seg ingest</c> reads.</summary>
public enum EventFileFormat
{
    /// <summary>UCI Online Retail CSV (invoice lines).</summary>
    OnlineRetail,

    /// <summary>REES46 "eCommerce behavior data from multi category store" CSV.</summary>
    Rees46,

    /// <summary>Taobao UserBehavior.csv (no header).</summary>
    Taobao,

    /// <summary>MovieLens u.data (tab-separated ratings).</summary>
    MovieLens,

    /// <summary>One protobuf-JSON <c>segmentation.v1.Event</c> per line.</summary>
    Jsonl,
}

/// <summary>
/// Turns rows of event files into events of the public contract, streaming (gzip read transparently). Every data
/// row yields exactly one event: a row that cannot be mapped keeps its bad field empty or zero, so the server
/// rejects it with its reason (the server is the one judge of validity; no row is dropped silently). Event ids are
/// derived from the row, so ingesting a file twice yields duplicates, not new events.
/// </summary>
public static class EventFileReader
{
    private static readonly JsonParser s_json = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));
    private static readonly TimeZoneInfo s_london = FindLondon();

    /// <summary>Parses a format name ("online-retail", "rees46", "taobao", "movielens", "jsonl").</summary>
    public static EventFileFormat ParseFormat(string name) => name.ToLowerInvariant() switch
    {
        "online-retail" => EventFileFormat.OnlineRetail,
        "rees46" => EventFileFormat.Rees46,
        "taobao" => EventFileFormat.Taobao,
        "movielens" => EventFileFormat.MovieLens,
        "jsonl" => EventFileFormat.Jsonl,
        _ => throw new ArgumentException($"Unknown format '{name}'; use online-retail, rees46, taobao, movielens or jsonl."),
    };

    /// <summary>Data rows in the file (for progress bars).</summary>
    public static long CountRows(string path, EventFileFormat format)
    {
        using var reader = Open(path);
        long rows = 0;
        var first = true;
        while (reader.ReadLine() is { } line)
        {
            if (first && HasHeader(format, line))
            {
                first = false;
                continue;
            }

            first = false;
            if (line.Length > 0)
            {
                rows++;
            }
        }

        return rows;
    }

    /// <summary>Streams the file's events, one per data row.</summary>
    public static async IAsyncEnumerable<Event> ReadAsync(string path, EventFileFormat format, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = Open(path);
        var occurrences = new Dictionary<string, int>(StringComparer.Ordinal);
        var lineNumber = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            lineNumber++;
            if ((lineNumber == 1 && HasHeader(format, line)) || line.Length == 0)
            {
                continue;
            }

            yield return format switch
            {
                EventFileFormat.OnlineRetail => OnlineRetail(line, RowId("or", line, occurrences)),
                EventFileFormat.Rees46 => Rees46(line, RowId("rees", line, occurrences)),
                EventFileFormat.Taobao => Taobao(line, RowId("tb", line, occurrences)),
                EventFileFormat.MovieLens => MovieLens(line),
                _ => Jsonl(line, lineNumber),
            };
        }
    }

    /// <summary>
    /// One invoice line: a purchase, or a return for a <c>C</c> invoice or a negative quantity. The data has no
    /// categories, so the lower-cased description stands in for one. Times are UK local time.
    /// </summary>
    internal static Event OnlineRetail(string line, string eventId)
    {
        var f = Csv.Split(line);
        var e = new Event { EventId = eventId, Currency = "GBP" };
        if (f.Count < 8)
        {
            return e; // Not a data row: the server rejects it (no user, no type).
        }

        var quantity = ParseInt(f[3]);
        var isReturn = f[0].StartsWith('C') || quantity < 0;
        e.Type = isReturn ? EventType.Return : EventType.Purchase;
        e.UserId = f[6].Trim();
        e.ItemId = f[1].Trim();
        e.Category = f[2].Trim().ToLowerInvariant();
        e.Quantity = Math.Abs(quantity);
        e.Price = ParseDouble(f[5]);
        if (DateTime.TryParseExact(f[4], "M/d/yy H:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            e.Timestamp = Timestamp.FromDateTime(TimeZoneInfo.ConvertTimeToUtc(local, s_london));
        }

        e.Attributes["order_id"] = f[0];
        e.Attributes["country"] = f[7];
        return e;
    }

    /// <summary>event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session.</summary>
    internal static Event Rees46(string line, string eventId)
    {
        var f = Csv.Split(line);
        var e = new Event { EventId = eventId };
        if (f.Count < 9)
        {
            return e;
        }

        e.Type = f[1] switch
        {
            "view" => EventType.View,
            "cart" => EventType.AddToCart,
            "remove_from_cart" => EventType.RemoveFromCart,
            "purchase" => EventType.Purchase,
            _ => EventType.Unspecified,
        };
        e.ItemId = f[2];
        e.Category = f[4].Length > 0 ? f[4] : f[3];
        e.Price = ParseDouble(f[6]);
        e.UserId = f[7];
        e.Quantity = e.Type is EventType.AddToCart or EventType.RemoveFromCart or EventType.Purchase ? 1 : 0;
        var time = f[0].EndsWith(" UTC", StringComparison.Ordinal) ? f[0][..^4] : f[0];
        if (DateTime.TryParseExact(time, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var utc))
        {
            e.Timestamp = Timestamp.FromDateTime(utc);
        }

        if (f[5].Length > 0)
        {
            e.Attributes["brand"] = f[5];
        }

        if (f[8].Length > 0)
        {
            e.Attributes["session"] = f[8];
        }

        return e;
    }

    /// <summary>user_id,item_id,category_id,behavior_type(pv|buy|cart|fav),unix_ts.</summary>
    internal static Event Taobao(string line, string eventId)
    {
        var f = line.Split(',');
        var e = new Event { EventId = eventId };
        if (f.Length < 5)
        {
            return e;
        }

        e.UserId = f[0];
        e.ItemId = f[1];
        e.Category = f[2];
        e.Type = f[3] switch
        {
            "pv" => EventType.View,
            "buy" => EventType.Purchase,
            "cart" => EventType.AddToCart,
            "fav" => EventType.Wishlist,
            _ => EventType.Unspecified,
        };
        e.Quantity = e.Type is EventType.Purchase or EventType.AddToCart ? 1 : 0;
        SetUnixTime(e, f[4]);
        return e;
    }

    /// <summary>user \t item \t rating \t unix_ts → a rating event.</summary>
    internal static Event MovieLens(string line)
    {
        var f = line.Split('\t');
        var e = new Event { Type = EventType.Rating };
        if (f.Length < 4)
        {
            e.EventId = "ml-bad-" + Hash(line);
            return e;
        }

        e.EventId = $"ml-{f[0]}-{f[1]}-{f[3]}";
        e.UserId = f[0];
        e.ItemId = f[1];
        e.Rating = ParseDouble(f[2]);
        SetUnixTime(e, f[3]);
        return e;
    }

    /// <summary>A protobuf-JSON event; a line that does not parse becomes an event with only an id, which the server rejects.</summary>
    internal static Event Jsonl(string line, int lineNumber)
    {
        try
        {
            return s_json.Parse<Event>(line);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException)
        {
            return new Event { EventId = $"jsonl-line-{lineNumber}" };
        }
    }

    private static bool HasHeader(EventFileFormat format, string firstLine) => format switch
    {
        EventFileFormat.OnlineRetail => firstLine.StartsWith("InvoiceNo", StringComparison.Ordinal),
        EventFileFormat.Rees46 => firstLine.StartsWith("event_time", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>"prefix-" + hash of the raw row + "-" + how many identical rows came before (they are separate lines, not duplicates).</summary>
    private static string RowId(string prefix, string line, Dictionary<string, int> occurrences)
    {
        var hash = Hash(line);
        occurrences.TryGetValue(hash, out var seen);
        occurrences[hash] = seen + 1;
        return $"{prefix}-{hash}-{seen}";
    }

    private static string Hash(string line)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(line), digest);
        return Convert.ToHexStringLower(digest[..16]);
    }

    private static void SetUnixTime(Event e, string seconds)
    {
        if (long.TryParse(seconds, NumberStyles.Integer, CultureInfo.InvariantCulture, out var unix))
        {
            e.Timestamp = new Timestamp { Seconds = unix };
        }
    }

    private static int ParseInt(string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private static double ParseDouble(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN;

    private static StreamReader Open(string path)
    {
        Stream stream = File.OpenRead(path);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            stream = new GZipStream(stream, CompressionMode.Decompress);
        }

        return new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
    }

    private static TimeZoneInfo FindLondon()
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        }
        catch (TimeZoneNotFoundException)
        {
            return TimeZoneInfo.Utc; // No tz database: treat UK local time as UTC (exact in winter).
        }
    }
}

/// <summary>RFC 4180 field splitting for one line (quoted fields may hold commas and doubled quotes).</summary>
internal static class Csv
{
    public static List<string> Split(string line)
    {
        var fields = new List<string>(12);
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return fields;
    }
}
