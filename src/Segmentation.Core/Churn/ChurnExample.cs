namespace Segmentation.Core.Churn;

/// <summary>One labelled user at a cut-off: her inputs from the events up to it, and whether she was quiet after it.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Inputs">Model inputs at the cut-off (<see cref="ChurnFeatures"/>).</param>
/// <param name="Raw">Their raw values.</param>
/// <param name="Churned">No event in the horizon after the cut-off.</param>
public sealed record ChurnExample(string UserId, double[] Inputs, double[] Raw, bool Churned)
{
    /// <summary>
    /// Labels from history: for every user with an event at or before <paramref name="cutoff"/>, her profile folded
    /// from those events only, and whether she had no event in (cutoff, cutoff + <paramref name="horizonDays"/>].
    /// Users first seen after the cut-off are not examples. Each user's events may be in any order.
    /// </summary>
    public static List<ChurnExample> AtCutoff(
        IEnumerable<(string UserId, IReadOnlyList<BehaviorEvent> Events)> users, DateTimeOffset cutoff, int horizonDays, ProfileOptions options)
    {
        ArgumentNullException.ThrowIfNull(users);
        var end = cutoff + TimeSpan.FromDays(horizonDays);
        var examples = new List<ChurnExample>();
        foreach (var (userId, events) in users)
        {
            var profile = new UserProfile(userId, options);
            var activeAfter = false;
            foreach (var e in events.OrderBy(e => e.Timestamp))
            {
                if (e.Timestamp <= cutoff)
                {
                    profile.Apply(e);
                }
                else if (e.Timestamp <= end)
                {
                    activeAfter = true;
                }
            }

            if (profile.IsEmpty)
            {
                continue;
            }

            var inputs = new double[ChurnFeatures.Count];
            var raw = new double[ChurnFeatures.Count];
            ChurnFeatures.Compute(profile, cutoff, inputs, raw);
            examples.Add(new ChurnExample(userId, inputs, raw, !activeAfter));
        }

        return examples;
    }
}
