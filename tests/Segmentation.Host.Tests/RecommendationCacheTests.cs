using Segmentation.Core;
using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Recommendations;

namespace Segmentation.Host.Tests;

/// <summary>
/// The per-user answer cache of <see cref="LiveRecommender.Recommend"/>: the same request on unchanged inputs is answered
/// from it; her history, segments, category affinities or request changing, one of her events learned from another
/// silo, a model swap or a rebuild recompute it; each tenant's answers are its own; off with <c>CacheMaxAge=0</c>. (Over gRPC, a purchase still changes the very next answer:
/// <see cref="RecommendationTests"/>, <see cref="ItemModelTests"/>.)
/// </summary>
public sealed class RecommendationCacheTests
{
    private static readonly DateTimeOffset s_now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void SameRequest_OnUnchangedInputs_IsAnsweredFromTheCache_AndEachChangeRecomputes()
    {
        var recommender = Shop(new RecommendationOptions());
        var request = Her([new Interaction("kettle", EventType.Purchase, s_now.AddHours(-2))]);
        var first = recommender.Recommend("", request);
        Assert.Contains(first, r => r.ItemId == "teapot");
        Assert.Same(first, recommender.Recommend("", request with { History = [.. request.History] }));

        // Her new event (her history as her grain now reports it) recomputes: the teapot she bought goes.
        var bought = request with { History = [.. request.History, new Interaction("teapot", EventType.Purchase, s_now.AddHours(-1))] };
        var afterPurchase = recommender.Recommend("", bought);
        Assert.NotSame(first, afterPurchase);
        Assert.DoesNotContain(afterPurchase, r => r.ItemId == "teapot");

        // Another request shape, other segments: recomputed.
        Assert.NotSame(afterPurchase, recommender.Recommend("", bought with { Count = 3 }));
        var again = recommender.Recommend("", bought);
        Assert.NotSame(again, recommender.Recommend("", bought with { SegmentKeys = ["lifecycle:active"] }));

        // Her event learned from another silo's replica recomputes, even before her grain's history shows it.
        again = recommender.Recommend("", bought);
        Assert.Same(again, recommender.Recommend("", bought));
        recommender.Apply([new RecommenderChange(RecommenderChangeKind.Observed, "her", "mug", "home.kitchen", EventType.View, s_now, Sequence: 0)]);
        var replicated = recommender.Recommend("", bought);
        Assert.NotSame(again, replicated);

        // A model swap recomputes every answer.
        recommender.UseItemModel(null, null);
        Assert.NotSame(replicated, recommender.Recommend("", bought));
    }

    [Fact]
    public void HerCategoryAffinities_ArePartOfTheKey_SoPersonalRankingStillApplies()
    {
        var cached = Shop(new RecommendationOptions());
        var uncached = Shop(new RecommendationOptions { CacheMaxAge = TimeSpan.Zero });
        var home = Her([new Interaction("kettle", EventType.Purchase, s_now.AddHours(-2))]) with
        {
            CategoryAffinities = [new CategoryAffinity("home", 3, 0.75), new CategoryAffinity("toys", 1, 0.25)],
        };
        var toys = home with { CategoryAffinities = [new CategoryAffinity("toys", 3, 0.75), new CategoryAffinity("home", 1, 0.25)] };

        // Her affinities change the ranking (what the cache must not hide).
        Assert.NotEqual(uncached.Recommend("", home), uncached.Recommend("", toys));

        var first = cached.Recommend("", home);
        Assert.Equal(uncached.Recommend("", home), first);
        // The same shares a later "now" gives (smaller decayed values, same shares) are her same ranking: a hit.
        Assert.Same(first, cached.Recommend("", home with { CategoryAffinities = [new CategoryAffinity("home", 1.5, 0.75), new CategoryAffinity("toys", 0.5, 0.25)] }));
        // Other affinities recompute, and the answer is the personalised one, not her last.
        Assert.Equal(uncached.Recommend("", toys), cached.Recommend("", toys));
        Assert.Equal(uncached.Recommend("", home), cached.Recommend("", home));
    }

    [Fact]
    public async Task SameUserId_InTwoTenants_IsTwoEntries_AndOneTenantsSwapRebuildOrErasureClearsItsOwnOnly()
    {
        var tenants = new TenantRecommenders(new RecommendationOptions());
        var (a, b) = (tenants.For("shop-a"), tenants.For("shop-b"));
        Learn(a, "teapot");
        Learn(b, "drill");
        var request = Her([new Interaction("kettle", EventType.Purchase, s_now.AddHours(-2))]);

        // The same request of user "her" in each tenant: each tenant's own answer, each kept under its tenant's key.
        var fromA = a.Recommend("", request);
        var fromB = b.Recommend("", request);
        Assert.Contains(fromA, r => r.ItemId == "teapot");
        Assert.DoesNotContain(fromB, r => r.ItemId == "teapot");
        Assert.Contains(fromB, r => r.ItemId == "drill");
        Assert.Same(fromA, a.Recommend("", request));
        Assert.Same(fromB, b.Recommend("", request));
        Assert.Equal(("shop-a", "shop-b"), (a.Cache!.Tenant, b.Cache!.Tenant));

        // Tenant a's model swap clears a's answers; b's stay and are still served.
        a.UseItemModel(null, null);
        Assert.False(a.Cache.Holds("her"));
        Assert.True(b.Cache.Holds("her"));
        Assert.Same(fromB, b.Recommend("", request));

        // So do a's rebuild and a's erasure of her (a replay of a's log, here empty).
        b.Recommend("", request);
        a.Recommend("", request);
        Assert.True(a.Cache.Holds("her"));
        await a.RebuildWithoutAsync(new Segmentation.Storage.InMemoryEventLog(), new ProfileOptions(), ["her"], CancellationToken.None);
        Assert.False(a.Cache.Holds("her"));
        Assert.True(b.Cache.Holds("her"));
        Assert.Same(fromB, b.Recommend("", request));
    }

    [Fact]
    public void CacheOff_RecomputesEveryCall_WithTheSameAnswer()
    {
        var recommender = Shop(new RecommendationOptions { CacheMaxAge = TimeSpan.Zero });
        Assert.Null(recommender.Cache);
        var request = Her([new Interaction("kettle", EventType.Purchase, s_now.AddHours(-2))]);
        var first = recommender.Recommend("", request);
        var second = recommender.Recommend("", request);
        Assert.NotSame(first, second);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Options_RefuseANegativeAgeAndNoEntries_NamingTheSetting()
    {
        var problems = new RecommendationOptions { CacheMaxAge = TimeSpan.FromSeconds(-1), CacheEntries = 0 }.Validate();
        Assert.Contains(problems, p => p.StartsWith("CacheMaxAge", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("CacheEntries", StringComparison.Ordinal));
    }

    // Buyers bought a kettle with a teapot and a mug; some of them a puzzle too (a toy); she bought a kettle.
    private static LiveRecommender Shop(RecommendationOptions options)
    {
        var recommender = new LiveRecommender(options);
        var changes = new List<RecommenderChange>();
        for (var u = 0; u < 5; u++)
        {
            foreach (var item in new[] { "kettle", "teapot", "mug" })
            {
                changes.Add(new RecommenderChange(RecommenderChangeKind.Observed, $"buyer-{u}", item, "home.kitchen", EventType.Purchase, s_now.AddDays(-1), Stage: LifecycleStage.Active));
            }

            if (u < 3)
            {
                changes.Add(new RecommenderChange(RecommenderChangeKind.Observed, $"buyer-{u}", "puzzle", "toys.games", EventType.Purchase, s_now.AddDays(-1), Stage: LifecycleStage.Active));
            }
        }

        recommender.Apply(changes);
        return recommender;
    }

    // Buyers of one tenant bought a kettle with `item`.
    private static void Learn(LiveRecommender recommender, string item)
    {
        var changes = new List<RecommenderChange>();
        for (var u = 0; u < 5; u++)
        {
            foreach (var bought in new[] { "kettle", item })
            {
                changes.Add(new RecommenderChange(RecommenderChangeKind.Observed, $"buyer-{u}", bought, "home.kitchen", EventType.Purchase, s_now.AddDays(-1), Stage: LifecycleStage.Active) { Tenant = recommender.Tenant });
            }
        }

        recommender.Apply(changes);
    }

    private static RecommendationRequest Her(IReadOnlyList<Interaction> history) => new()
    {
        UserId = "her",
        History = history,
        SegmentKeys = ["lifecycle:new"],
        Count = 5,
        Now = s_now,
    };
}
