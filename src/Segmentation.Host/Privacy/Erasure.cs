using System.Diagnostics;
using Segmentation.Core.Errors;
using Segmentation.Grains;

namespace Segmentation.Host.Privacy;

/// <summary>
/// A shopper's erasure (GDPR Art. 17), everything done before the call returns: her grain deletes her events from the log
/// and her snapshot and deactivates (<see cref="IUserGrain.ForgetAsync"/>); every silo drops her from its ML segment
/// records, her watches and its recommender replica, rebuilt from the log without her
/// (<see cref="SiloForgetting.ForgetEverywhereAsync"/>); the segment statistics lose her contribution and a new
/// segmentation version moves the centroids; a record without her id (<see cref="PrivacyLog"/>) says it happened.
/// </summary>
/// <remarks>
/// Idempotent: asked again, it finds nothing and answers NOT_FOUND, as for a user who never existed. A failure half way
/// (a silo unreachable) fails the call once her events are gone; asking again finishes the rest only if she is still
/// found, so every step that can fail comes after those that identify her.
/// </remarks>
internal sealed class Erasure(IGrainFactory grains, SiloForgetting forgetting, PrivacyLog records, TimeProvider wallClock)
{
    /// <summary>Erases the user <paramref name="userKey"/> (<c>tenant/userId</c>) and returns the record kept of it.</summary>
    /// <exception cref="NotFoundException">She has no events (never had, or already erased).</exception>
    public async Task<ErasureRecord> EraseAsync(string userKey, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        cancellationToken.ThrowIfCancellationRequested();
        // Never the call's token once begun: an erasure runs to its end whatever the caller does, or her events would be
        // gone while her contributions stayed.
        var forgotten = await grains.GetGrain<IUserGrain>(userKey).ForgetAsync(deleteEvents: true);
        if (!forgotten.WasActive && forgotten.Events == 0 && !forgotten.Snapshot)
        {
            throw new NotFoundException($"user_id: user '{TenantKeys.UserIdOf(userKey)}' has no events");
        }

        var watches = await forgetting.ForgetEverywhereAsync([userKey], erased: true, CancellationToken.None);
        await forgetting.RepublishSegmentsAsync([TenantKeys.TenantOf(userKey)], grains, CancellationToken.None);
        var removed = new List<string>();
        void Add(bool happened, params string[] what)
        {
            if (happened)
            {
                removed.AddRange(what);
            }
        }

        Add(forgotten.Events > 0, "events");
        Add(forgotten.Snapshot, "snapshot");
        Add(forgotten.WasActive, "grain");
        Add(forgotten.Embedding, "embedding");
        Add(forgotten.MlSegment, "ml-segment", "segment-statistics", "centroids");
        Add(true, "co-occurrence", "popularity");
        Add(forgotten.RuleMemberships > 0, "rule-memberships");
        Add(watches > 0, "watch-streams");
        var record = new ErasureRecord(wallClock.GetUtcNow(), TenantKeys.TenantOf(userKey), "erase", PrivacyLog.HashOf(userKey), [.. removed],
            forgotten.Events, 1, stopwatch.Elapsed.TotalSeconds);
        await records.AppendAsync(record, CancellationToken.None);
        return record;
    }
}
