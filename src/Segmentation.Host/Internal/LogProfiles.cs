using System.Runtime.CompilerServices;
using Segmentation.Core;
using Segmentation.Grains;
using Segmentation.Storage;

namespace Segmentation.Host.Internal;

/// <summary>
/// Every user's events or profile from the whole event log, one user at a time, for models trained over all users:
/// what is held at once is one user's events, not the log (a 100,000-user shop's 7 million events decoded at once
/// took gigabytes).
/// </summary>
internal static class LogProfiles
{
    /// <summary>
    /// Each user's stream (with <paramref name="tenant"/>, that tenant's users only), in stream-id order, with her
    /// events in her grain's fold order (<see cref="UserProfile.FoldOrder"/>): one read of her stream per user.
    /// </summary>
    public static async IAsyncEnumerable<(string Key, List<BehaviorEvent> Events)> ReadUsersAsync(
        IEventLog log, string? tenant, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prefix = tenant is null ? null : tenant + "/";
        var streams = new List<string>();
        await foreach (var stream in log.ReadStreamIdsAsync(cancellationToken))
        {
            if (prefix is null || stream.StartsWith(prefix, StringComparison.Ordinal))
            {
                streams.Add(stream);
            }
        }

        streams.Sort(StringComparer.Ordinal);
        await foreach (var (stream, events, _) in ReadStreamsAsync(log, streams, long.MaxValue, cancellationToken))
        {
            if (events.Count > 0)
            {
                yield return (stream, events);
            }
        }
    }

    /// <summary>
    /// Each of <paramref name="streams"/>, in the order given, with her events of sequence number at most
    /// <paramref name="through"/> in her grain's fold order (<see cref="UserProfile.FoldOrder"/>) and the highest sequence
    /// number among them (0 when none): one read of her stream per user, one user's events held at a time.
    /// </summary>
    public static async IAsyncEnumerable<(string Stream, List<BehaviorEvent> Events, long LastSequence)> ReadStreamsAsync(
        IEventLog log, IEnumerable<string> streams, long through, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var stream in streams)
        {
            var events = new List<BehaviorEvent>();
            long last = 0;
            await foreach (var record in log.ReadStreamAsync(stream, 0, cancellationToken))
            {
                if (record.Sequence <= through)
                {
                    events.Add(EventCodec.Decode(record.Payload.Span));
                    last = Math.Max(last, record.Sequence);
                }
            }

            events.Sort(UserProfile.FoldOrder);
            yield return (stream, events, last);
        }
    }

    /// <summary>Each user's profile folded from her events in (time, event id) order, one user at a time; keyed by user key.</summary>
    public static async IAsyncEnumerable<(string Key, UserProfile Profile)> FoldEachAsync(
        IEventLog log, ProfileOptions options, string? tenant, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (key, events) in ReadUsersAsync(log, tenant, cancellationToken))
        {
            var profile = new UserProfile(TenantKeys.UserIdOf(key), options);
            foreach (var e in events)
            {
                profile.Apply(e);
            }

            yield return (key, profile);
        }
    }
}
