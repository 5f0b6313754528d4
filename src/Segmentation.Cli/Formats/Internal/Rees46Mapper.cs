using Google.Protobuf.WellKnownTypes;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Formats.Internal;

/// <summary>
/// REES46 "eCommerce behavior data from multi category store"
/// (<c>event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session</c>):
/// view, cart (add to cart), remove_from_cart and purchase, the last three with quantity 1. The category is
/// <c>category_code</c> (a dotted path such as <c>appliances.kitchen.washer</c>) or, when that is empty, the numeric
/// <c>category_id</c>. Attributes: <c>brand</c> and <c>session</c> when present. Times are UTC. An unknown event type
/// is left unspecified, which the server rejects.
/// </summary>
internal sealed class Rees46Mapper : RowMapper
{
    private const int Columns = 9;

    private readonly RowIds _ids = new("rees");
    private readonly RecentString _users = new(Csv.Text);
    private readonly StringPool _products = new(1 << 17, Csv.Text);
    private readonly StringPool _categories = new(1 << 16, Csv.Text);
    private readonly StringPool _brands = new(1 << 16, Csv.Text);
    private string _lastTimeText = "";
    private Timestamp? _lastTime;

    public override string Name => "rees46";

    public override string Header => "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session";

    public override bool IsHeader(ReadOnlySpan<char> line) => line.StartsWith("event_time,", StringComparison.Ordinal);

    public override Event Map(string line, long lineNumber, out RowProblem? problem)
    {
        problem = null;
        var text = line.AsSpan();
        Span<Range> fields = stackalloc Range[Columns + 1];
        var count = Csv.Split(text, fields);
        var e = new Event { EventId = _ids.Next(text, text[fields[0]]) };
        if (count != Columns)
        {
            problem = WrongColumns(count, Columns);
            return e;
        }

        e.Type = Csv.Unquote(text[fields[1]]) switch
        {
            "view" => EventType.View,
            "cart" => EventType.AddToCart,
            "remove_from_cart" => EventType.RemoveFromCart,
            "purchase" => EventType.Purchase,
            _ => EventType.Unspecified,
        };
        if (e.Type == EventType.Unspecified)
        {
            problem = BadField("event_type", Csv.Unquote(text[fields[1]]), "view, cart, remove_from_cart or purchase");
        }

        e.Quantity = e.Type is EventType.AddToCart or EventType.RemoveFromCart or EventType.Purchase ? 1 : 0;
        e.ItemId = _products.Get(text[fields[2]]);
        var code = text[fields[4]];
        e.Category = _categories.Get(Csv.Unquote(code).IsEmpty ? text[fields[3]] : code);
        e.Price = FieldParsers.PriceOrNaN(Csv.Unquote(text[fields[6]]));
        if (double.IsNaN(e.Price))
        {
            problem ??= BadField("price", Csv.Unquote(text[fields[6]]), "a number");
        }

        e.UserId = _users.Get(text[fields[7]]);
        if (Time(text[fields[0]]) is { } time)
        {
            e.Timestamp = time;
        }
        else
        {
            problem ??= BadField("event_time", Csv.Unquote(text[fields[0]]), "a time like 2019-10-01 00:00:00 UTC");
        }

        var brand = _brands.Get(text[fields[5]]);
        if (brand.Length > 0)
        {
            e.Attributes.Add("brand", brand);
        }

        if (!Csv.Unquote(text[fields[8]]).IsEmpty)
        {
            e.Attributes.Add("session", Csv.Text(text[fields[8]]));
        }

        return e;
    }

    /// <summary>The event time; the file is in time order, so the last conversion is reused while it repeats.</summary>
    private Timestamp? Time(ReadOnlySpan<char> raw)
    {
        if (!raw.SequenceEqual(_lastTimeText))
        {
            _lastTimeText = raw.ToString();
            _lastTime = FieldParsers.TryIsoUtc(Csv.Unquote(raw), out var utc) ? Timestamp.FromDateTime(utc) : null;
        }

        return _lastTime?.Clone();
    }
}
