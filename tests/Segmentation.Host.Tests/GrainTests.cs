using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Segmentation.Contracts.V1;
using Segmentation.Core.Clustering;
using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Storage;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>The grains over the real co-hosted Orleans silo: every interface method, fencing (bounded memory: <see cref="BoundedMemoryTests"/>).</summary>
public sealed class GrainTests
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow();

    // Ingest makes a user grain's reference from the tenant and the user id without joining them into a key string: it
    // must be the joined key's grain for every user id, whatever characters it holds.
    [Fact]
    public async Task ReferenceFromTenantAndUserId_IsTheJoinedKeysGrain()
    {
        await using var server = await TestServer.StartAsync();
        var grains = server.Server.Grains;
        var references = new GrainReferences<IUserGrain>(grains);
        foreach (var (tenant, userId) in new[] { ("default", "u-1"), ("shop-2", "ünïcødé 日本"), ("default", ""), ("t", "a/b"), ("default", "\ud800lone"), ("default", "end\udc00") })
        {
            var joined = grains.GetGrain<IUserGrain>(TenantKeys.User(userId, tenant)).GetGrainId();
            Assert.Equal(joined, references.Get(tenant, userId).GetGrainId());
        }

        await references.Get("default", "g-ref").ApplyAsync(new EventBatch([EventCodec.Encode(Events.Make("g-ref-1", "g-ref", EventType.View, s_now.AddMinutes(-1)))]));
        Assert.Equal(1, (await grains.GetGrain<IUserGrain>(TenantKeys.User("g-ref")).GetProfileAsync(s_now))!.View.EventCount);
    }

    // A grain-interface type without a serializer compiles and fails only at run time: call every method once, and
    // round-trip every message through the silo's serializer (what a call between two silos does).
    [Fact]
    public async Task EveryGrainMethod_AnswersOverTheSilo_AndEveryMessageRoundTripsTheSerializer()
    {
        await using var server = await TestServer.StartAsync();
        var grains = server.Server.Grains;
        var serializer = server.Server.Services.GetRequiredService<Serializer>();
        T RoundTrip<T>(T value)
        {
            var copy = serializer.Deserialize<T>(serializer.SerializeToArray(value));
            Assert.Equal(JsonSerializer.Serialize(value), JsonSerializer.Serialize(copy));
            return copy!;
        }

        var user = grains.GetGrain<IUserGrain>(TenantKeys.User("g-user"));
        var batch = new EventBatch(
        [
            EventCodec.Encode(Events.Make("g-1", "g-user", EventType.Purchase, s_now.AddMinutes(-5), price: 3, quantity: 1)),
            EventCodec.Encode(Events.Make("g-2", "g-user", EventType.View, s_now.AddMinutes(-4))),
        ]);
        var first = RoundTrip(await user.ApplyAsync(RoundTrip(batch)));
        Assert.Equal(new[] { true, true }, first.Appended);
        var again = await user.ApplyAsync(batch);
        Assert.Equal(new[] { false, false }, again.Appended);

        Assert.NotNull(RoundTrip(await user.GetLifecycleAsync(s_now)));
        Assert.NotNull(RoundTrip(await user.GetSegmentsAsync(s_now, includeRules: true)));
        var input = RoundTrip(await user.GetRecommendationInputAsync(s_now, includeRules: false))!;
        Assert.Equal(2, input.History.Count);

        // Recommend's lighter call: what it reads of GetRecommendationInput, the same.
        var signals = RoundTrip(await user.GetRecommendationSignalsAsync(s_now))!;
        Assert.Equal(input.History, signals.History);
        Assert.Equal(input.Segments.Lifecycle.Stage, signals.Stage);
        Assert.Equal(input.Segments.Ml?.Assignment, signals.MlSegment);
        Assert.Equal(input.Embedding, signals.Embedding);
        Assert.Equal(input.Affinities, signals.Affinities);
        Assert.Null(await grains.GetGrain<IUserGrain>(TenantKeys.User("g-nobody")).GetRecommendationSignalsAsync(s_now));
        Assert.Equal(2, RoundTrip(await user.GetProfileAsync(s_now))!.View.EventCount);
        Assert.Null(await user.GetSegmentationInputAsync()); // no user encoder is served
        await user.RefreshSegmentAsync();
        Assert.True(RoundTrip(await user.EvaluateRuleAsync("orders >= 1", s_now))!.Matched);
        Assert.False((await user.EvaluateRuleAsync("orders >= 2", s_now))!.Matched);
        Assert.Null(await grains.GetGrain<IUserGrain>(TenantKeys.User("g-nobody")).GetProfileAsync(s_now));

        var segment = grains.GetGrain<ISegmentGrain>(TenantKeys.Segment(7));
        var traits = new MemberTraits([0.6f, 0.8f], 3, 1, 3, 0, Segmentation.Core.LifecycleStage.New, "home", ["sku-1"]);
        await segment.JoinAsync([RoundTrip(new SegmentJoin("g-user", traits, 0.25))]);
        var statistics = await segment.GetStatisticsAsync();
        var copied = serializer.Deserialize<SegmentStatistics>(serializer.SerializeToArray(statistics))!;
        Assert.Equal((1L, statistics.Summary()), (copied.Size, copied.Summary()));
        Assert.Equal(statistics.MeanDirection(), copied.MeanDirection());
        await segment.LeaveAsync(["g-user"]);
        Assert.Equal(0, (await segment.GetStatisticsAsync()).Size);
    }

    // Another activation (say, on a silo that took the user over during a membership change) wrote her snapshot: this
    // activation's next snapshot write is stale, so it drops itself; the next call reloads, and no event is lost or
    // counted twice.
    [Fact]
    public async Task StaleSnapshotETag_DropsTheActivation_WhichReloadsWithEveryEventOnce()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:SnapshotEveryEvents=3");
        var key = TenantKeys.User("f-user");
        var user = server.Server.Grains.GetGrain<IUserGrain>(key);
        byte[] Event(int i) => EventCodec.Encode(Events.Make($"f-{i}", "f-user", EventType.View, s_now.AddMinutes(-100 + i)));
        await user.ApplyAsync(new EventBatch([Event(1), Event(2), Event(3)])); // a snapshot with ETag E1

        // The other writer: appends f-4 to her stream and writes a snapshot of all four events over E1.
        var log = server.Server.EventLog;
        var snapshots = server.Server.GrainServices.Users.Snapshots;
        var appended = await log.AppendAsync([new LogRecord(key, "f-4", Event(4))], CancellationToken.None);
        var other = new Core.UserProfile("f-user", new Core.ProfileOptions());
        await foreach (var record in log.ReadStreamAsync(key, 0, CancellationToken.None))
        {
            other.Apply(EventCodec.Decode(record.Payload.Span));
        }

        var snapshotKey = TenantKeys.UserSnapshot(key);
        var current = await snapshots.ReadAsync(snapshotKey, CancellationToken.None);
        await snapshots.WriteAsync(snapshotKey, SnapshotCodec.Encode(other.ToState()), appended[0].Sequence, current!.ETag, CancellationToken.None);

        // Three more events: this activation's snapshot write meets the other writer's ETag, so it is fenced.
        await user.ApplyAsync(new EventBatch([Event(5), Event(6), Event(7)]));
        for (var i = 0; i < 200 && server.Server.GrainServices.ActiveUserGrains > 0; i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(0, server.Server.GrainServices.ActiveUserGrains); // the fenced activation went away
        var profile = await user.GetProfileAsync(s_now);
        Assert.Equal(7, profile!.View.EventCount);
        Assert.Equal(1, server.Server.GrainServices.ActiveUserGrains);
    }

    // Before each snapshot the grain reads her stream again from where it last read: what another activation appended
    // meanwhile is folded once, and what this one appended itself (already folded) is skipped, however the two interleave.
    [Fact]
    public async Task SnapshotCatchUp_FoldsAnotherWritersAppendOnce_AndSkipsItsOwn()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:SnapshotEveryEvents=5");
        var key = TenantKeys.User("c-user");
        var user = server.Server.Grains.GetGrain<IUserGrain>(key);
        byte[] Event(int i) => EventCodec.Encode(Events.Make($"c-{i}", "c-user", EventType.View, s_now.AddMinutes(-100 + i)));
        await user.ApplyAsync(new EventBatch([Event(1), Event(2)]));
        await server.Server.EventLog.AppendAsync([new LogRecord(key, "c-other", Event(99))], CancellationToken.None);
        await user.ApplyAsync(new EventBatch([Event(3)]));
        await server.Server.EventLog.AppendAsync([new LogRecord(key, "c-other-2", Event(98))], CancellationToken.None);
        // Five of her own since the last read: the snapshot is written, after folding the two appended by the other writer.
        await user.ApplyAsync(new EventBatch([Event(4), Event(5)]));

        Assert.Equal(7, (await user.GetProfileAsync(s_now))!.View.EventCount);
        var snapshot = await server.Server.GrainServices.Users.Snapshots.ReadAsync(TenantKeys.UserSnapshot(key), CancellationToken.None);
        Assert.NotNull(snapshot);
        Assert.Equal(7, SnapshotCodec.Decode(snapshot.Data.Span).EventCount);

        // Two more of her own after the snapshot: nothing left over from the catch-up is skipped or folded twice.
        await user.ApplyAsync(new EventBatch([Event(6), Event(7)]));
        Assert.Equal(9, (await user.GetProfileAsync(s_now))!.View.EventCount);
    }
}
