using Google.Protobuf.WellKnownTypes;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Formats.Internal;

/// <summary>
/// UCI Online Retail (<c>InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country</c>): each
/// invoice line is a purchase, or a return (quantity made positive) when the invoice starts with <c>C</c> or the
/// quantity is negative.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The data has no categories: the lower-cased description stands in for one, with dots turned into spaces so a
/// description such as "RED WOOLLY HOTTIE WHITE HEART." stays one level of the dotted category path.</item>
/// <item><c>InvoiceDate</c> is UK local time, converted to UTC with the <c>Europe/London</c> zone (GMT in winter, BST in
/// summer); an hour skipped by the spring change is read as the hour after it, an hour repeated in autumn as GMT.
/// Without a time zone database the time is taken as UTC, which is exact from late October to late March.</item>
/// <item>A missing <c>CustomerID</c> gives an empty user id and the row's problem (the server would reject it too). A CustomerID written as a float
/// by some exports ("17850.0") is read as "17850".</item>
/// <item>Non-product codes (POST, M, D, bank charges) and negative "Adjust bad debt" prices pass through unchanged;
/// the server decides (a negative price is rejected).</item>
/// <item>Currency is GBP; attributes: <c>order_id</c> (InvoiceNo), <c>country</c>, <c>description</c> (as written).</item>
/// </list>
/// </remarks>
internal sealed class OnlineRetailMapper : RowMapper
{
    private const int Columns = 8;

    private readonly RowIds _ids = new("or");
    private readonly RecentString _orders = new(Csv.Text);
    private readonly RecentString _customers = new(CustomerId);
    private readonly StringPool _stockCodes = new(1 << 16, static raw => Csv.Unquote(raw).Trim().ToString());
    private readonly StringPool _descriptions = new(1 << 16, Csv.Text);
    private readonly StringPool _categories = new(1 << 16, Category);
    private readonly StringPool _countries = new(1 << 10, Csv.Text);
    private string _lastDate = "";
    private Timestamp? _lastTime;

    /// <summary>The zone <c>InvoiceDate</c> is read in: <c>Europe/London</c>, or UTC where the system has no time zone data.</summary>
    internal static TimeZoneInfo UkTime { get; } = FindUkTime();

    public override string Name => "online-retail";

    public override string Header => "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";

    public override bool IsHeader(ReadOnlySpan<char> line) => line.StartsWith("InvoiceNo,", StringComparison.Ordinal);

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
            return e; // Not an invoice line: left without user, type or item.
        }

        var invoice = Csv.Unquote(text[fields[0]]);
        var quantityText = Csv.Unquote(text[fields[3]]);
        var quantity = FieldParsers.Int32OrZero(quantityText);
        if (quantity == 0 && !FieldParsers.IsInteger(quantityText))
        {
            problem = BadField("Quantity", quantityText, "a whole number");
        }

        e.Type = invoice.StartsWith('C') || quantity < 0 ? EventType.Return : EventType.Purchase;
        e.Quantity = quantity == int.MinValue ? 0 : Math.Abs(quantity);
        e.UserId = _customers.Get(text[fields[6]]);
        if (e.UserId.Length == 0)
        {
            // A quarter of the UCI file: guest checkouts, which no user can be credited with.
            problem ??= new RowProblem("CustomerID is empty (no customer to credit the row to)", "CustomerID is empty (no customer to credit the row to)");
        }

        e.ItemId = _stockCodes.Get(text[fields[1]]);
        e.Category = _categories.Get(text[fields[2]]);
        e.Price = FieldParsers.PriceOrNaN(Csv.Unquote(text[fields[5]]));
        if (double.IsNaN(e.Price))
        {
            problem ??= BadField("UnitPrice", Csv.Unquote(text[fields[5]]), "a number");
        }

        e.Currency = "GBP";
        if (Time(text[fields[4]]) is { } time)
        {
            e.Timestamp = time;
        }
        else
        {
            problem ??= BadField("InvoiceDate", Csv.Unquote(text[fields[4]]), "a date like 12/1/10 8:26");
        }

        e.Attributes.Add("order_id", _orders.Get(text[fields[0]]));
        AddIfPresent(e, "country", _countries.Get(text[fields[7]]));
        AddIfPresent(e, "description", _descriptions.Get(text[fields[2]]));
        return e;
    }

    private static void AddIfPresent(Event e, string key, string value)
    {
        if (value.Length > 0)
        {
            e.Attributes.Add(key, value);
        }
    }

    /// <summary>The invoice time in UTC; rows of one invoice share it, so the last conversion is reused.</summary>
    private Timestamp? Time(ReadOnlySpan<char> raw)
    {
        if (!raw.SequenceEqual(_lastDate))
        {
            _lastDate = raw.ToString();
            _lastTime = FieldParsers.TryMonthDayYear(Csv.Unquote(raw), out var local) ? Timestamp.FromDateTime(UkToUtc(local)) : null;
        }

        return _lastTime?.Clone();
    }

    /// <summary>UK local time to UTC.</summary>
    internal static DateTime UkToUtc(DateTime local)
    {
        if (UkTime.IsInvalidTime(local))
        {
            local = local.AddHours(1); // The spring change skips an hour (one hour in the UK); read it as the hour after.
        }

        return TimeZoneInfo.ConvertTimeToUtc(local, UkTime);
    }

    private static string CustomerId(ReadOnlySpan<char> raw)
    {
        var id = Csv.Unquote(raw).Trim();
        return (id.EndsWith(".0", StringComparison.Ordinal) ? id[..^2] : id).ToString();
    }

    private static string Category(ReadOnlySpan<char> raw) =>
        Csv.Text(raw).ToLowerInvariant().Replace('.', ' ').Trim();

    private static TimeZoneInfo FindUkTime()
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return TimeZoneInfo.Utc;
        }
    }
}
