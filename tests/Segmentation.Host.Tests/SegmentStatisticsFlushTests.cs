using Segmentation.Core;
using Segmentation.Core.Clustering;
using Segmentation.Grains;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Tests;

/// <summary>
/// The ML segments' statistics fed in batches: user refreshes record moves in the process's <see cref="SegmentMembers"/>,
/// and <see cref="MlSegmentation.FlushAsync"/> hands them to the segment grains — periodically, and before every read.
/// Over a real silo, with a hand-made two-segment model.
/// </summary>
public sealed class SegmentStatisticsFlushTests
{
    // Only reads (or an explicit flush) may count recorded moves in the first test: no timed flush or publication.
    private const string NoTimedFlush = "--Segmentation:Segments:StatisticsFlushInterval=01:00:00";
    private const string NoTimedPublication = "--Segmentation:SegmentPublishInterval=01:00:00";

    // Generous: a guard against hanging, not a timing assertion (a loaded 2-core machine may be slow).
    private static readonly TimeSpan s_patience = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task RecordedMoves_AreCountedExactly_AndEveryReadSeesThoseRecordedBeforeIt()
    {
        await using var server = await TestServer.StartAsync(null, NoTimedFlush, NoTimedPublication);
        var ml = await WithModelAsync(server);

        // 60 users join, a third of them move to the other segment with new traits, a sixth leave: the statistics must
        // equal a recomputation over where each one is now, whatever happened between flushes.
        var now = new Dictionary<string, MemberTraits>(StringComparer.Ordinal);
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < 60; i++)
            {
                var user = $"u-{i}";
                if (round == 2 && i % 6 == 0)
                {
                    ml.Leave(user);
                    now.Remove(user);
                    continue;
                }

                var toSecond = round == 1 && i % 3 == 0 ? i % 2 == 0 : i % 2 == 1;
                var traits = Traits(toSecond, spend: (i * 7) + round, category: i % 4 == 0 ? "toys" : "home", item: $"sku-{i % 5}");
                Assert.Equal(toSecond ? 2 : 1, ml.Assign(user, traits)!.SegmentId);
                now[user] = traits;
            }

            if (round == 0)
            {
                // A read in between counts the first round: later rounds move users the segment grains already count.
                Assert.Equal(60, (await ml.StatisticsAsync(CancellationToken.None)).Everyone.Size);
            }
        }

        Assert.True(ml.Members.Uncounted > 0, "nothing is counted before a read");
        Assert.Equal(now.Count(p => p.Value.Embedding[1] > 0.5f), (await ml.StatisticsAsync(2, CancellationToken.None)).Size);
        Assert.Equal(0, ml.Members.Uncounted);

        var (segments, everyone) = await ml.StatisticsAsync(CancellationToken.None);
        Assert.Equal(now.Count, everyone.Size);
        foreach (var (id, statistics) in segments)
        {
            var members = now.Where(p => (p.Value.Embedding[1] > 0.5f ? 2 : 1) == id).ToList();
            var expected = new SegmentStatistics(2);
            foreach (var (_, traits) in members)
            {
                expected.Add(traits);
            }

            Assert.Equal(members.Select(p => p.Key).Order(StringComparer.Ordinal), ml.Members.InSegment(id).Select(p => p.Key).Order(StringComparer.Ordinal));
            Assert.Equal(expected.Size, statistics.Size);
            Assert.Equal(expected.MeanMonetary, statistics.MeanMonetary, 9);
            Assert.Equal(expected.MeanOrderValue, statistics.MeanOrderValue, 9);
            Assert.Equal(expected.TopCategories(5), statistics.TopCategories(5));
            Assert.Equal(expected.TopItems(5), statistics.TopItems(5));
            Assert.Equal(expected.LifecycleMix, statistics.LifecycleMix);
            Assert.Equal(expected.MeanDirection(), statistics.MeanDirection(), (a, b) => Math.Abs(a - b) < 1e-5f);
        }
    }

    [Fact]
    public async Task RecordedMoves_ReachTheSegmentGrainsOnTheFlushTimer_WithoutAnyRead()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:Segments:StatisticsFlushInterval=00:00:00.050", NoTimedPublication);
        var ml = await WithModelAsync(server);
        ml.Assign("p-1", Traits(toSecond: true, spend: 12, category: "toys", item: "sku-1"));
        ml.Assign("p-2", Traits(toSecond: true, spend: 30, category: "toys", item: "sku-2"));
        ml.Assign("p-1", Traits(toSecond: false, spend: 14, category: "home", item: "sku-1"));

        using var patience = new CancellationTokenSource(s_patience);
        while (ml.Members.Uncounted > 0)
        {
            await Task.Delay(20, patience.Token);
        }

        // Straight from the segment grains, which no read flushed.
        var first = await server.Server.Grains.GetGrain<ISegmentGrain>(TenantKeys.Segment(1)).GetStatisticsAsync();
        var second = await server.Server.Grains.GetGrain<ISegmentGrain>(TenantKeys.Segment(2)).GetStatisticsAsync();
        Assert.Equal((1L, 14.0), (first.Size, first.MeanMonetary));
        Assert.Equal((1L, 30.0), (second.Size, second.MeanMonetary));
        Assert.Equal(1, ml.Members.Counted("p-1")?.SegmentId);
    }

    // Two segments in a D = 2 space: 1 around (1, 0), 2 around (0, 1).
    private static async Task<MlSegmentation> WithModelAsync(TestServer server)
    {
        var ml = server.Server.GrainServices.Users.Ml!;
        await ml.ReplaceAsync(new SegmentationModel(1, 2, [1, 2], [1f, 0f, 0f, 1f], ["first", "second"], "1", DateTimeOffset.UnixEpoch), CancellationToken.None);
        return ml;
    }

    private static MemberTraits Traits(bool toSecond, double spend, string category, string item)
    {
        float[] embedding = toSecond ? [0.28f, 0.96f] : [0.96f, 0.28f];
        return new MemberTraits(embedding, spend, spend > 20 ? 2 : 1, spend / (spend > 20 ? 2 : 1), spend % 9, spend > 20 ? LifecycleStage.Active : LifecycleStage.New, category, [item]);
    }
}
