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
internal sealed class SiloPeerGrain(LiveRecommender recommender, MlSegmentation ml, RuleSegmentCatalog rules, DomainClocks clocks, UserEmbeddings embeddings,
    SegmentChangeFeed changes, SegmentChangeRelay relay, ItemModels itemModels, Growth.GrowthModels growth, Privacy.SiloForgetting forgetting,
    CustomerIndex customers) : Grain, ISiloPeerGrain
{
    public Task ApplyRecommenderChangesAsync(RecommenderChange[] changes)
    {
        recommender.Apply(changes);
        // Event time (the clock the lifecycle stages are judged by) advances with every silo's events, not only this one's.
        // The changes carry plain user ids: until the recommenders are per tenant, their events are the default tenant's.
        if (clocks.EventTime?.For(TenantKeys.DefaultTenant) is { } eventTime)
        {
            foreach (var change in changes)
            {
                if (change.Kind == RecommenderChangeKind.Observed)
                {
                    eventTime.Observe(change.UserId, change.Timestamp);
                }
            }
        }

        return Task.CompletedTask;
    }

    public Task ReloadSegmentationModelAsync() => ml.LoadAsync(CancellationToken.None);

    public Task ReloadRuleSegmentsAsync() => rules.LoadAsync(CancellationToken.None);

    public Task ReloadItemModelAsync() => itemModels.LoadNewestAsync();

    public Task ReloadGrowthModelsAsync() => growth.LoadAsync(CancellationToken.None);

    public Task UserEncoderChangedAsync() => embeddings.InferenceServingChangedAsync();

    public Task FlushSegmentMovesAsync() => ml.FlushAsync(CancellationToken.None);

    public Task<SegmentJoin[]> GetCountedMembersAsync(int segmentId) => Task.FromResult(ml.CountedMembers(segmentId));

    public Task<CustomerEntry[]> GetCustomerEntriesAsync() => Task.FromResult<CustomerEntry[]>([.. customers.Local]);

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
            changes.Deliver(new MembershipChange(change.UserId, change.SegmentId, change.Entered, change.At, change.Reason));
        }

        return Task.CompletedTask;
    }
}
