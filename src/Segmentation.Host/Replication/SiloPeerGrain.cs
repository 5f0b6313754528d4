using Segmentation.Grains;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Internal;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Replication;

/// <summary>
/// This silo's endpoint for the other silos of the cluster (DESIGN.md section 2): they send it the changes their users'
/// events made to their recommenders, which it makes to this silo's <see cref="LiveRecommender"/> (so a
/// <c>Recommend</c> answered here reflects events ingested anywhere), and tell it when they published a segmentation
/// model or changed the rule segments, which it then loads from storage, and relay their users' segment membership
/// changes while this silo has watchers. One call at a time, in arrival order: each
/// sender waits for one batch to be applied before it sends the next, so a sender's changes apply in the order it made them.
/// </summary>
[SiloBoundPlacement]
internal sealed class SiloPeerGrain(TenantRecommenders recommenders, TenantSegmentations segmentations, TenantRules rules, DomainClocks clocks, UserEmbeddings embeddings,
    SegmentChangeFeed changes, SegmentChangeRelay relay, TenantItemModels itemModels, Growth.TenantGrowthModels growth, Privacy.SiloForgetting forgetting,
    CustomerIndex customers) : Grain, ISiloPeerGrain
{
    public Task ApplyRecommenderChangesAsync(RecommenderChange[] changes)
    {
        recommenders.Apply(changes);
        // Event time (the clock the lifecycle stages are judged by) advances with every silo's events, not only this
        // one's: each change moves its tenant's clock.
        if (clocks.EventTime is { } eventTime)
        {
            foreach (var change in changes)
            {
                if (change.Kind == RecommenderChangeKind.Observed)
                {
                    eventTime.For(change.Tenant).Observe(change.UserId, change.Timestamp);
                }
            }
        }

        return Task.CompletedTask;
    }

    public Task ReloadSegmentationModelAsync() => segmentations.ReloadAllAsync(CancellationToken.None);

    public Task ReloadRuleSegmentsAsync() => rules.ReloadAllAsync(CancellationToken.None);

    // By tenant, not every tenant made here so far: a tenant whose first events came after this silo started has no item
    // models here yet, and would otherwise go on without the version its item model grain just stored.
    public Task ReloadItemModelAsync(string tenant) => itemModels.For(tenant).LoadNewestAsync();

    public Task ReloadGrowthModelsAsync() => growth.ReloadAllAsync(CancellationToken.None);

    public Task UserEncoderChangedAsync() => embeddings.InferenceServingChangedAsync();

    public Task FlushSegmentMovesAsync() => segmentations.FlushAllAsync(CancellationToken.None);

    public Task<SegmentJoin[]> GetCountedMembersAsync(string tenant, int segmentId) => Task.FromResult(segmentations.For(tenant).Ml.CountedMembers(segmentId));

    public Task<CustomerEntry[]> GetCustomerEntriesAsync(string tenant) => Task.FromResult<CustomerEntry[]>([.. customers.Local(tenant)]);

    public Task SegmentWatchersChangedAsync(string silo, bool watching)
    {
        relay.Announced(silo, watching);
        return Task.CompletedTask;
    }

    public Task UsersErasedAsync(string[] userKeys, bool erased) => forgetting.ForgetAsync(userKeys, erased, CancellationToken.None);

    public Task DeliverSegmentChangesAsync(SegmentMembershipChange[] relayed)
    {
        foreach (var change in relayed)
        {
            changes.Deliver(new MembershipChange(change.UserId, change.SegmentId, change.Entered, change.At, change.Reason, change.Tenant ?? TenantKeys.DefaultTenant));
        }

        return Task.CompletedTask;
    }
}
