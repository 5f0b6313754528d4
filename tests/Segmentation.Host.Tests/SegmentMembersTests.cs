using Segmentation.Core;
using Segmentation.Core.Clustering;
using Segmentation.Grains;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Tests;

/// <summary>
/// <see cref="SegmentMembers"/>' two layers across flushes: the dictionary one flush applied is emptied and recorded into
/// by a later one, so what each flush hands over is exactly what was recorded since the one before.
/// </summary>
public sealed class SegmentMembersTests
{
    private static SegmentJoin Entry(int segment) => new("u", new MemberTraits([1f, 0f], 0, 0, 0, 0, LifecycleStage.New, "", []), 0.5) { SegmentId = segment };

    [Fact]
    public void CountingAUserAgain_AllocatesNothing()
    {
        // Every flush counts each user it took again; with every user refreshed by each ingest, an allocation here is one
        // more long-lived object per ingested event (a dictionary node made per update was one).
        var members = new SegmentMembers();
        var (first, second) = (Entry(1), Entry(2));
        members.SetCounted("a", first);
        members.SetCounted("a", second);
        members.SetCounted("a", first);

        var before = GC.GetAllocatedBytesForCurrentThread();
        members.SetCounted("a", second);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Same(second, members.Counted("a"));
    }

    [Fact]
    public void EachFlush_TakesOnlyWhatWasRecordedSinceTheLast_AndAFailedOneGivesItsChangesBack()
    {
        var members = new SegmentMembers();
        members.Record("a", Entry(1));
        members.Record("b", Entry(2));

        var first = members.BeginFlush();
        Assert.NotNull(first);
        Assert.Equal(["a", "b"], first.Keys.Order(StringComparer.Ordinal));
        members.Record("c", Entry(3));
        foreach (var (userId, entry) in first)
        {
            members.SetCounted(userId, entry);
        }

        members.EndFlush(applied: true);

        // The second flush: "c" only (recorded while the first ran), not the first flush's users again.
        var second = members.BeginFlush();
        Assert.NotNull(second);
        Assert.Equal(["c"], second.Keys);
        Assert.Equal(3, members.Of("c")?.SegmentId);
        members.EndFlush(applied: false);

        // Failed: "c" is recorded again, and later records go in beside it; nothing of the first flush comes back.
        members.Record("d", null);
        var third = members.BeginFlush();
        Assert.NotNull(third);
        Assert.Equal(["c", "d"], third.Keys.Order(StringComparer.Ordinal));
        Assert.Null(third["d"]);
        members.EndFlush(applied: true);

        Assert.Null(members.BeginFlush());
        Assert.Equal(1, members.Of("a")?.SegmentId);
        Assert.Equal(2, members.Count);
    }
}
