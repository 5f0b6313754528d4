using Segmentation.Grains;
using Segmentation.Host.Recommendations;

namespace Segmentation.Host.Replication;

/// <summary>
/// This silo's recommender replica (DESIGN.md section 8): the other silos send it the changes their users' events made
/// to their recommenders, and it makes them to this silo's <see cref="LiveRecommender"/>, so a <c>Recommend</c>
/// answered here reflects events ingested anywhere in the cluster. One call at a time, in arrival order: each sender
/// waits for one batch to be applied before it sends the next, so a sender's changes apply in the order it made them.
/// </summary>
[SiloBoundPlacement]
internal sealed class RecommenderReplicaGrain(LiveRecommender recommender) : Grain, IRecommenderReplicaGrain
{
    public Task ApplyAsync(RecommenderChange[] changes)
    {
        recommender.Apply(changes);
        return Task.CompletedTask;
    }
}
