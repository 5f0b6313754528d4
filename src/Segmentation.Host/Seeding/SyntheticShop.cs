using Google.Protobuf.WellKnownTypes;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Seeding;

/// <summary>
/// A realistic synthetic shop for a newcomer's first run: a catalogue with Zipf-distributed popularity, users with
/// personas (loyal repeat buyers, occasional buyers, browsers, churners, reactivated and brand-new users), shopping
/// sessions (search, views, cart, purchase, rating) spread over eight months of event time ending at <c>end</c>.
/// Deterministic for a seed.
/// </summary>
public sealed class SyntheticShop
{
    private static readonly string[] s_departments = ["home", "fashion", "electronics", "beauty", "sports", "toys", "garden", "books"];
    private static readonly string[] s_aisles = ["essentials", "premium", "gifts", "seasonal", "accessories"];
    private static readonly string[] s_devices = ["mobile", "desktop", "tablet"];

    private readonly Random _random;
    private readonly DateTimeOffset _end;
    private readonly Item[] _items;
    private readonly double[] _cumulativePopularity;

    /// <summary>Creates the shop's catalogue.</summary>
    public SyntheticShop(int seed, DateTimeOffset end, int items = 1_000)
    {
        _random = new Random(seed);
        _end = end;
        _items = new Item[items];
        _cumulativePopularity = new double[items];
        var total = 0.0;
        for (var i = 0; i < items; i++)
        {
            var department = s_departments[_random.Next(s_departments.Length)];
            var aisle = s_aisles[_random.Next(s_aisles.Length)];
            var price = Math.Round(Math.Exp(1.5 + (_random.NextDouble() * 4)), 2); // about 4.5 to 245
            _items[i] = new Item($"sku-{i:D5}", $"{department}.{aisle}", price);
            total += 1.0 / Math.Pow(i + 1, 1.07); // Zipf: item i is the (i+1)-th most popular
            _cumulativePopularity[i] = total;
        }
    }

    /// <summary>The personas, in the order users are dealt them (user index modulo the list).</summary>
    public static IReadOnlyList<string> Personas { get; } = ["loyal", "occasional", "browser", "churner", "at-risk", "reactivated", "new", "loyal", "occasional", "browser"];

    /// <summary>The persona of the user with this index.</summary>
    public static string PersonaOf(int userIndex) => Personas[userIndex % Personas.Count];

    /// <summary>The id of the user with this index.</summary>
    public static string UserId(int userIndex) => $"u{userIndex:D5}";

    /// <summary>Items in the catalogue.</summary>
    public int ItemCount => _items.Length;

    /// <summary>
    /// One view of every catalogue item by a one-off visitor (<c>visitor-{i}</c>) in the shop's last day, so the whole
    /// catalogue is known even where Zipf popularity gave the tail no events.
    /// </summary>
    public IEnumerable<Event> OneOffVisits()
    {
        for (var i = 0; i < _items.Length; i++)
        {
            var sequence = 0;
            yield return NewEvent($"visitor-{i}", ref sequence, EventType.View, _items[i], Days(1, 0), "mobile");
        }
    }

    /// <summary>One user's events, oldest first.</summary>
    public List<Event> UserEvents(int userIndex)
    {
        var persona = PersonaOf(userIndex);
        var userId = UserId(userIndex);
        var favourite = s_departments[_random.Next(s_departments.Length)];
        var (start, stop, sessions, buyRate) = persona switch
        {
            "loyal" => (Days(240, 120), Days(3, 0), _random.Next(20, 40), 0.45),
            "occasional" => (Days(240, 60), Days(20, 0), _random.Next(5, 12), 0.25),
            "browser" => (Days(200, 30), Days(25, 0), _random.Next(4, 10), 0.03),
            "churner" => (Days(240, 200), Days(180, 100), _random.Next(4, 12), 0.3),
            "at-risk" => (Days(200, 120), Days(80, 35), _random.Next(5, 12), 0.3),
            "new" => (Days(12, 2), Days(1, 0), _random.Next(1, 4), 0.3),
            _ => (Days(240, 200), Days(190, 150), _random.Next(4, 8), 0.3), // reactivated: the comeback is added below
        };
        var events = new List<Event>();
        var sequence = 0;
        for (var s = 0; s < sessions; s++)
        {
            var at = start + ((stop - start) * (s / (double)Math.Max(1, sessions - 1)));
            AddSession(events, userId, ref sequence, at, favourite, buyRate);
        }

        if (persona == "reactivated")
        {
            for (var s = 0; s < 3; s++)
            {
                AddSession(events, userId, ref sequence, Days(20 - (s * 6), 18 - (s * 6)), favourite, 0.5);
            }
        }

        return events;
    }

    private void AddSession(List<Event> events, string userId, ref int sequence, DateTimeOffset at, string favourite, double buyRate)
    {
        var device = s_devices[_random.Next(s_devices.Length)];
        if (_random.NextDouble() < 0.3)
        {
            events.Add(NewEvent(userId, ref sequence, EventType.Search, null, at, device, query: favourite + " " + s_aisles[_random.Next(s_aisles.Length)]));
            at += TimeSpan.FromSeconds(20);
        }

        var basket = new List<Item>();
        var views = _random.Next(1, 8);
        for (var v = 0; v < views; v++)
        {
            var item = PickItem(favourite);
            events.Add(NewEvent(userId, ref sequence, EventType.View, item, at, device));
            at += TimeSpan.FromSeconds(_random.Next(10, 120));
            if (_random.NextDouble() < 0.25)
            {
                events.Add(NewEvent(userId, ref sequence, EventType.AddToCart, item, at, device, quantity: 1 + _random.Next(2)));
                basket.Add(item);
                at += TimeSpan.FromSeconds(5);
            }
        }

        if (basket.Count == 0 || _random.NextDouble() >= buyRate * 2)
        {
            return;
        }

        var orderId = $"o-{userId}-{sequence}";
        foreach (var item in basket)
        {
            events.Add(NewEvent(userId, ref sequence, EventType.Purchase, item, at, device, quantity: 1 + _random.Next(2), orderId: orderId));
        }

        if (_random.NextDouble() < 0.2)
        {
            events.Add(NewEvent(userId, ref sequence, EventType.Rating, basket[0], at + TimeSpan.FromDays(3), device, rating: 1 + _random.Next(5)));
        }
    }

    private Item PickItem(string favourite)
    {
        // Mostly the user's favourite department; popularity is Zipf over the catalogue.
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var u = _random.NextDouble() * _cumulativePopularity[^1];
            var index = Array.BinarySearch(_cumulativePopularity, u);
            var item = _items[index < 0 ? ~index : index];
            if (item.Category.StartsWith(favourite, StringComparison.Ordinal) || _random.NextDouble() < 0.3)
            {
                return item;
            }
        }

        return _items[_random.Next(_items.Length)];
    }

    private Event NewEvent(string userId, ref int sequence, EventType type, Item? item, DateTimeOffset at, string device,
        int quantity = 0, double rating = 0, string query = "", string orderId = "")
    {
        var e = new Event
        {
            EventId = $"seed-{userId}-{sequence++}",
            UserId = userId,
            Type = type,
            ItemId = item?.Id ?? "",
            Category = item?.Category ?? "",
            Price = type is EventType.Purchase or EventType.AddToCart or EventType.View ? item?.Price ?? 0 : 0,
            Quantity = quantity,
            Currency = "EUR",
            Rating = rating,
            Query = query,
            Timestamp = Timestamp.FromDateTimeOffset(at < _end ? at : _end),
        };
        e.Attributes.Add("device", device);
        e.Attributes.Add("channel", "web");
        if (orderId.Length > 0)
        {
            e.Attributes.Add("order_id", orderId);
        }

        return e;
    }

    private DateTimeOffset Days(int fromDaysAgo, int toDaysAgo) =>
        _end - TimeSpan.FromDays(toDaysAgo + (_random.NextDouble() * (fromDaysAgo - toDaysAgo)));

    private sealed record Item(string Id, string Category, double Price);
}
