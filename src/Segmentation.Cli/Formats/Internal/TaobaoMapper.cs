using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Formats.Internal;

/// <summary>
/// Taobao <c>UserBehavior.csv</c> (<c>user_id,item_id,category_id,behavior_type,unix_ts</c>, no header): pv → view,
/// buy → purchase (quantity 1), cart → add to cart (quantity 1), fav → wishlist; the category is the numeric
/// <c>category_id</c>. An unknown behaviour is left unspecified, which the server rejects, and so are the file's
/// timestamps outside its date range.
/// </summary>
internal sealed class TaobaoMapper : RowMapper
{
    private const int Columns = 5;

    private readonly RowIds _ids = new("tb");
    private readonly RecentString _users = new(Csv.Text);
    private readonly StringPool _items = new(1 << 17, Csv.Text);
    private readonly StringPool _categories = new(1 << 16, Csv.Text);

    public override string Name => "taobao";

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

        e.UserId = _users.Get(text[fields[0]]);
        e.ItemId = _items.Get(text[fields[1]]);
        e.Category = _categories.Get(text[fields[2]]);
        e.Type = Csv.Unquote(text[fields[3]]) switch
        {
            "pv" => EventType.View,
            "buy" => EventType.Purchase,
            "cart" => EventType.AddToCart,
            "fav" => EventType.Wishlist,
            _ => EventType.Unspecified,
        };
        if (e.Type == EventType.Unspecified)
        {
            problem = BadField("behavior_type", Csv.Unquote(text[fields[3]]), "pv, buy, cart or fav");
        }

        e.Quantity = e.Type is EventType.Purchase or EventType.AddToCart ? 1 : 0;
        if (FieldParsers.UnixSeconds(Csv.Unquote(text[fields[4]])) is { } time)
        {
            e.Timestamp = time;
        }
        else
        {
            problem ??= BadField("timestamp", Csv.Unquote(text[fields[4]]), "whole seconds since 1970");
        }

        return e;
    }
}
