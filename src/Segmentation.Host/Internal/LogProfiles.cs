using Segmentation.Core;
using Segmentation.Grains;
using Segmentation.Storage;

namespace Segmentation.Host.Internal;

/// <summary>Every user's profile folded from the whole event log (in event-time order), for models trained over all users.</summary>
internal static class LogProfiles
{
    /// <summary>
    /// Reads the log once and folds each stream's events in (time, event id) order; keyed by user key. With
    /// <paramref name="tenant"/>, that tenant's users only.
    /// </summary>
    public static async Task<Dictionary<string, UserProfile>> FoldAllAsync(IEventLog log, ProfileOptions options, CancellationToken cancellationToken, string? tenant = null)
    {
        var prefix = tenant is null ? null : tenant + "/";
        var byUser = new Dictionary<string, List<BehaviorEvent>>(StringComparer.Ordinal);
        await foreach (var record in log.ReadAllAsync(0, cancellationToken))
        {
            if (prefix is not null && !record.StreamId.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (!byUser.TryGetValue(record.StreamId, out var list))
            {
                byUser.Add(record.StreamId, list = []);
            }

            list.Add(EventCodec.Decode(record.Payload.Span));
        }

        return await Task.Run(
            () =>
            {
                var profiles = new Dictionary<string, UserProfile>(byUser.Count, StringComparer.Ordinal);
                foreach (var (key, events) in byUser)
                {
                    var profile = new UserProfile(TenantKeys.UserIdOf(key), options);
                    foreach (var e in events.OrderBy(e => e.Timestamp).ThenBy(e => e.EventId, StringComparer.Ordinal))
                    {
                        profile.Apply(e);
                    }

                    profiles.Add(key, profile);
                }

                return profiles;
            },
            cancellationToken);
    }
}
