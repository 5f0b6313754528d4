namespace Segmentation.Core.Churn;

/// <summary>One labelled user at a cut-off: her inputs from the events up to it, and whether she was quiet after it.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Inputs">Model inputs at the cut-off (<see cref="ChurnFeatures"/>).</param>
/// <param name="Raw">Their raw values.</param>
/// <param name="Churned">No event in the horizon after the cut-off.</param>
public sealed record ChurnExample(string UserId, double[] Inputs, double[] Raw, bool Churned)
{
    /// <summary>Cut-offs a model is trained on (see <see cref="TrainingCutoffs"/>).</summary>
    public const int TrainingCutoffCount = 4;

    /// <summary>Days between training cut-offs.</summary>
    public const int CutoffStepDays = 15;

    /// <summary>
    /// The training cut-offs ending at <paramref name="latest"/>: <see cref="TrainingCutoffCount"/> of them,
    /// <see cref="CutoffStepDays"/> apart. One cut-off sees the population at one age: users who joined together are
    /// at the same point of their lives, and a model learns that cohort rather than churn. Several cut-offs, pooled,
    /// average it out.
    /// </summary>
    public static DateTimeOffset[] TrainingCutoffs(DateTimeOffset latest) =>
        [.. Enumerable.Range(0, TrainingCutoffCount).Select(i => latest - TimeSpan.FromDays(i * CutoffStepDays))];

    /// <summary>The examples of every cut-off in <paramref name="cutoffs"/>, pooled (a user appears once per cut-off she was seen by).</summary>
    public static List<ChurnExample> AtCutoffs(
        IReadOnlyList<(string UserId, IReadOnlyList<BehaviorEvent> Events)> users, IEnumerable<DateTimeOffset> cutoffs, int horizonDays, ProfileOptions options) =>
        [.. cutoffs.SelectMany(c => AtCutoff(users, c, horizonDays, options))];

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
