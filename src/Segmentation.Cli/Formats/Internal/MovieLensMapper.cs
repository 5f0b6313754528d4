using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Formats.Internal;

/// <summary>
/// MovieLens ratings: <c>u.data</c> (<c>user \t item \t rating \t unix_ts</c>), and also the comma-separated
/// <c>ratings.csv</c> of the newer releases (<c>userId,movieId,rating,timestamp</c> with a header). Each row is a
/// rating event with id <c>ml-{user}-{item}-{ts}</c> (a user rates a movie once at a given second).
/// </summary>
internal sealed class MovieLensMapper : RowMapper
{
    private const int Columns = 4;

    private readonly RowIds _ids = new("ml");
    private readonly StringPool _users = new(1 << 18, Csv.Text);
    private readonly StringPool _items = new(1 << 17, Csv.Text);

    public override string Name => "movielens";

    public override string Header => "userId,movieId,rating,timestamp";

    public override bool IsHeader(ReadOnlySpan<char> line) => line.StartsWith("userId,", StringComparison.Ordinal);

    public override Event Map(string line, long lineNumber, out RowProblem? problem)
    {
        problem = null;
        var text = line.AsSpan();
        Span<Range> fields = stackalloc Range[Columns + 1];
        var count = Csv.Split(text, text.Contains('\t') ? '\t' : ',', fields);
        if (count != Columns)
        {
            problem = WrongColumns(count, Columns);
            return new Event { EventId = _ids.Next(text, text[fields[0]]) };
        }

        var user = Csv.Unquote(text[fields[0]]);
        var item = Csv.Unquote(text[fields[1]]);
        var seconds = Csv.Unquote(text[fields[3]]);
        var e = new Event
        {
            EventId = $"ml-{user}-{item}-{seconds}",
            Type = EventType.Rating,
            UserId = _users.Get(user),
            ItemId = _items.Get(item),
            Rating = FieldParsers.RatingOrZero(Csv.Unquote(text[fields[2]])),
        };
        if (e.Rating == 0 && !double.TryParse(Csv.Unquote(text[fields[2]]), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _))
        {
            problem = BadField("rating", Csv.Unquote(text[fields[2]]), "a number");
        }

        if (FieldParsers.UnixSeconds(seconds) is { } time)
        {
            e.Timestamp = time;
        }
        else
        {
            problem ??= BadField("timestamp", seconds, "whole seconds since 1970");
        }

        return e;
    }
}
