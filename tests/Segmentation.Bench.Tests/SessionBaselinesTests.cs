using Google.Protobuf.WellKnownTypes;
using Segmentation.Bench.Commands;
using Segmentation.Contracts.V1;

namespace Segmentation.Bench.Tests;

public sealed class SessionBaselinesTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static Event View(string user, string item, int minute) => new()
    {
        EventId = $"{user}-{item}-{minute}",
        Type = EventType.View,
        UserId = user,
        ItemId = item,
        Timestamp = Timestamp.FromDateTimeOffset(s_t0.AddMinutes(minute)),
    };

    [Fact]
    public void CoOccurrenceInNewPlaces_RanksAsCoOccurrenceAlone_InAsManyPlacesAsTheServedListGivesNewItems()
    {
        // Everyone who viewed "a" viewed b (4 users), c (3), d (2) and e (1): co-occurrence alone ranks b, c, d, e for her.
        var train = new List<Event>();
        var others = new[] { "b", "c", "d", "e" };
        for (var u = 0; u < 4; u++)
        {
            train.Add(View($"u{u}", "a", 0));
            train.AddRange(others.Take(4 - u).Select((item, i) => View($"u{u}", item, i + 1)));
        }

        var her = View("her", "a", 0);
        train.Add(her);
        var baselines = new SessionBaselines(train);
        var c = new SessionCase("her", [her], ["a"], [], "c", null);
        var none = new HashSet<string>(StringComparer.Ordinal);
        Assert.Equal(["b", "c", "d", "e"], baselines.CoOccurrence(c, none, 10));

        // A served list with her own item and two new ones: co-occurrence alone gets two places; with three new items, three.
        Assert.Equal(["b", "c"], baselines.CoOccurrenceInNewPlacesOf(["a", "x", "y"], c, none));
        Assert.Equal(["b", "c", "d"], baselines.CoOccurrenceInNewPlacesOf(["x", "a", "y", "z"], c, none));
        Assert.Empty(baselines.CoOccurrenceInNewPlacesOf(["a"], c, none));
    }
}
