using Segmentation.Contracts.V1;
using Segmentation.Host.Services;
using Segmentation.Storage;
using ProfileOptions = Segmentation.Core.ProfileOptions;
using UserProfile = Segmentation.Core.UserProfile;

namespace Segmentation.Bench.Scenarios;

/// <summary>What <see cref="LogAudit"/> found: acknowledged events missing from the log, and served profiles that differ from a fold of it.</summary>
public sealed record LogAuditResult(long Lost, long InLog, int ProfilesChecked, int ProfileMismatches, string? FirstMismatch);

/// <summary>
/// The check behind every fault scenario (the single-host crash audit, the cluster failover): every acknowledged
/// <c>event_id</c> must be in the event log, and every audited user's served profile must equal a from-scratch fold of
/// her events in the log (the log is the source of truth; DESIGN.md section 5), apart from the embedding, which the
/// served encoder derives. Works on any <see cref="IEventLog"/>,
/// so SQLite and PostgreSQL are audited alike.
/// </summary>
public static class LogAudit
{
    /// <summary>Audits <paramref name="users"/> (plain user ids) against <paramref name="log"/>.</summary>
    /// <param name="log">The store the server wrote to (opened after the server, or while it serves).</param>
    /// <param name="acknowledged">Event ids the server acknowledged (accepted or duplicate).</param>
    /// <param name="users">The users to compare; every one of them with events in the log must be served.</param>
    /// <param name="served">The profiles the server serves for those users (read after the load stopped).</param>
    /// <param name="cancellationToken">Stops the audit.</param>
    public static async Task<LogAuditResult> RunAsync(
        IEventLog log, IReadOnlyCollection<string> acknowledged, IReadOnlySet<string> users, IReadOnlyList<Profile> served, CancellationToken cancellationToken)
    {
        var stored = await log.ContainsAsync(acknowledged, cancellationToken);
        var lost = acknowledged.Count(id => !stored.Contains(id));
        var events = new Dictionary<string, List<Segmentation.Core.BehaviorEvent>>(StringComparer.Ordinal);
        await foreach (var record in log.ReadAllAsync(0, cancellationToken))
        {
            // Streams are grain keys (tenant/user); the API and the folds name users by their plain id.
            var userId = Segmentation.Grains.TenantKeys.UserIdOf(record.StreamId);
            if (!users.Contains(userId))
            {
                continue;
            }

            if (!events.TryGetValue(userId, out var list))
            {
                events[userId] = list = [];
            }

            list.Add(EventCodec.Decode(record.Payload.Span));
        }

        // A profile is the fold of her events in event-time order (UserProfile.FoldOrder), whatever the log's order.
        var folds = new Dictionary<string, UserProfile>(StringComparer.Ordinal);
        foreach (var (userId, list) in events)
        {
            list.Sort(UserProfile.FoldOrder);
            var profile = folds[userId] = new UserProfile(userId, new ProfileOptions());
            foreach (var e in list)
            {
                profile.Apply(e);
            }
        }

        var mismatches = 0;
        string? firstMismatch = null;
        var servedIds = served.Select(p => p.UserId).ToHashSet(StringComparer.Ordinal);
        foreach (var missing in folds.Keys.Where(k => !servedIds.Contains(k)))
        {
            mismatches++;
            firstMismatch ??= $"{missing}: in the log but not served";
        }

        foreach (var servedProfile in served)
        {
            // The embedding is derived by the served encoder (its own refresh), not folded from the events: compare the rest.
            var profile = WithoutEmbedding(servedProfile);
            // The served profile's own as-of time, so recency-derived fields are computed at the same instant.
            if (!folds.TryGetValue(profile.UserId, out var fold) || !ProtoMapper.ToProto(fold.View(profile.AsOf.ToDateTimeOffset())).Equals(profile))
            {
                mismatches++;
                firstMismatch ??= $"{profile.UserId}: served profile differs from the fold of the log: {Difference(profile, fold)}";
            }
        }

        return new LogAuditResult(lost, await log.CountAsync(cancellationToken), served.Count, mismatches, firstMismatch);
    }

    private static Profile WithoutEmbedding(Profile served)
    {
        if (served.Embedding.Count == 0 && served.EmbeddingModelVersion == 0)
        {
            return served;
        }

        var copy = served.Clone();
        copy.Embedding.Clear();
        copy.EmbeddingModelVersion = 0;
        return copy;
    }

    /// <summary>Where the served profile and the fold first differ, as JSON excerpts (to say what diverged).</summary>
    private static string Difference(Profile served, UserProfile? fold)
    {
        if (fold is null)
        {
            return "no events in the log";
        }

        var a = Google.Protobuf.JsonFormatter.Default.Format(served);
        var b = Google.Protobuf.JsonFormatter.Default.Format(ProtoMapper.ToProto(fold.View(served.AsOf.ToDateTimeOffset())));
        var at = 0;
        while (at < Math.Min(a.Length, b.Length) && a[at] == b[at])
        {
            at++;
        }

        var from = Math.Max(0, at - 80);
        return $"served …{a[from..Math.Min(a.Length, at + 80)]}… fold …{b[from..Math.Min(b.Length, at + 80)]}…";
    }
}
