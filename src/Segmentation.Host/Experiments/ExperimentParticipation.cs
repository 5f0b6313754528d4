using Segmentation.Core;
using Segmentation.Core.Experiments;
using Segmentation.Grains;

namespace Segmentation.Host.Experiments;

/// <summary>
/// One user grain's part in its tenant's experiments: as her events are folded it finds her exposure (her first event
/// at or after an experiment's start while she is a member of its segment, which puts her in the arm
/// <see cref="ArmAssignment"/> gives) and her conversion (an event of the experiment's conversion type after the one
/// that exposed her), and reports each to the experiment's grain before the ingest call is acknowledged. What it knows
/// of each experiment is read from that grain once per activation, so an event after a reactivation is judged against
/// what was recorded before; once she converted, nothing more is reported.
/// </summary>
/// <remarks>Not thread-safe: used inside the user grain's turns.</remarks>
internal sealed class ExperimentParticipation(IGrainFactory grains, string tenant, string userId)
{
    private readonly Dictionary<string, ExperimentParticipant?> _known = new(StringComparer.Ordinal);

    /// <summary>
    /// Reports what <paramref name="events"/> (where <paramref name="appended"/> says so: the ones new to her log, in
    /// the order folded) change in her part in <paramref name="experiments"/>. <paramref name="isMember"/>: whether she
    /// was in an experiment's segment at a time.
    /// </summary>
    public async Task ObserveAsync(IReadOnlyList<Experiment> experiments, BehaviorEvent[] events, bool[] appended, Func<Experiment, DateTimeOffset, bool> isMember)
    {
        foreach (var experiment in experiments)
        {
            var grain = grains.GetGrain<IExperimentGrain>(ExperimentCatalog.GrainKey(tenant, experiment.Id));
            if (!_known.TryGetValue(experiment.Id, out var before))
            {
                before = await grain.GetParticipantAsync(userId);
                _known[experiment.Id] = before;
            }

            if (before?.ConvertedAt is not null)
            {
                continue;
            }

            var after = Follow(experiment, before, events, appended, isMember);
            if (after != before)
            {
                await grain.RecordAsync([after!]);
                _known[experiment.Id] = after;
            }
        }
    }

    private ExperimentParticipant? Follow(Experiment experiment, ExperimentParticipant? state, BehaviorEvent[] events, bool[] appended, Func<Experiment, DateTimeOffset, bool> isMember)
    {
        var exposing = -1;
        for (var i = 0; i < events.Length; i++)
        {
            var e = events[i];
            if (!appended[i] || e.Timestamp < experiment.Start)
            {
                continue;
            }

            if (state is null)
            {
                if (isMember(experiment, e.Timestamp))
                {
                    state = new ExperimentParticipant(userId, ArmAssignment.Assign(experiment, userId), e.Timestamp, null);
                    exposing = i;
                }
            }
            else if (i != exposing && e.Type == experiment.Conversion && e.Timestamp >= state.ExposedAt)
            {
                return state with { ConvertedAt = e.Timestamp };
            }
        }

        return state;
    }
}
