using System.Globalization;

namespace Segmentation.Core.Clustering;

/// <summary>One k tried when the number of segments is chosen from the data.</summary>
/// <param name="K">Segments.</param>
/// <param name="Silhouette">Mean silhouette of the k-means fit (−1 to 1; higher: tighter, better separated segments).</param>
/// <param name="SmallestSegment">Members of the fit's smallest segment.</param>
/// <param name="Eligible">Whether every segment has at least the minimum segment size.</param>
public sealed record KCandidateScore(int K, double Silhouette, long SmallestSegment, bool Eligible);

/// <summary>The k chosen, every candidate's score, and what the user of the segments should know.</summary>
/// <param name="K">The k chosen.</param>
/// <param name="Candidates">Every k tried, ascending.</param>
/// <param name="MinimumSegmentSize">The smallest segment a candidate may have.</param>
/// <param name="Criterion">How k was chosen, in one sentence.</param>
/// <param name="Warnings">What the numbers say about the data (no clear structure, sizes ruled out, ...); empty when nothing.</param>
public sealed record KChoice(int K, IReadOnlyList<KCandidateScore> Candidates, int MinimumSegmentSize, string Criterion, IReadOnlyList<string> Warnings);

/// <summary>
/// Chooses the number of k-means segments: <b>silhouette with a minimum gain, among the k the data supports</b>.
/// </summary>
/// <remarks>
/// <para>Why not the k with the highest silhouette: on embeddings without clear groups the mean silhouette is flat and
/// noisy across k (0.02 to 0.05 for every k on 43 users), so its maximum falls anywhere, often at the top of the range,
/// and a dozen segments with near-identical profiles follow. Here a larger k must earn its keep: the choice is the
/// <i>smallest</i> k whose silhouette is within <see cref="MinimumGain"/> of the best eligible one, so a step up in k
/// is taken only when it buys a real improvement in separation. When even the best silhouette is below
/// <see cref="ClearStructure"/>, the differences between k are noise, and the smallest eligible k is taken.</para>
/// <para>Why silhouette rather than the gap statistic or BIC: it needs no reference distribution (the gap statistic's
/// uniform boxes are a poor null for unit-length embeddings, and it costs B extra fits per k) and no likelihood model
/// (BIC assumes spherical Gaussians of one variance, which cosine-geometry embeddings are not); it is bounded and
/// comparable across data sets, so "best silhouette below 0.25" is a meaningful "no clear structure" warning
/// (Kaufman and Rousseeuw's rule of thumb: below 0.25 no substantial structure has been found).</para>
/// <para>A candidate is eligible only when every segment has at least <see cref="MinimumSegmentSizeFor"/> members, so
/// k never exceeds what the data supports; when even the smallest k fails it, the smallest k is taken with a warning.</para>
/// <para>Pure and deterministic.</para>
/// </remarks>
public static class KSelection
{
    /// <summary>The silhouette a larger k must add over a smaller one to be preferred.</summary>
    public const double MinimumGain = 0.02;

    /// <summary>Below this best silhouette the data has no clear cluster structure (a warning, not a refusal).</summary>
    public const double ClearStructure = 0.25;

    /// <summary>The smallest segment worth serving for <paramref name="users"/> users: 5, or 1 % of them when that is more.</summary>
    public static int MinimumSegmentSizeFor(long users) => (int)Math.Max(5, Math.Ceiling(users * 0.01));

    /// <summary>The largest k that could give every segment the minimum size (at least 2), so larger k need not be fitted.</summary>
    public static int LargestSupportedK(long users) => (int)Math.Max(2, users / MinimumSegmentSizeFor(users));

    /// <summary>The one-sentence description of the criterion that <see cref="Choose"/> applies.</summary>
    public static string Criterion(int minimumSegmentSize) => string.Create(
        CultureInfo.InvariantCulture,
        $"silhouette with a minimum gain: the smallest k within {MinimumGain:F2} of the best silhouette (the smallest k when the best is below {ClearStructure:F2}), among the k whose every segment has at least {minimumSegmentSize} users");

    /// <summary>
    /// Chooses k from the fitted <paramref name="candidates"/> (any order; at least one) of <paramref name="users"/> users;
    /// <paramref name="skipped"/> are the k of the requested range not fitted because the data cannot support them.
    /// </summary>
    public static KChoice Choose(IReadOnlyList<(int K, double Silhouette, long SmallestSegment)> candidates, long users, IReadOnlyList<int> skipped)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(skipped);
        if (candidates.Count == 0)
        {
            throw new ArgumentException("at least one candidate k is needed", nameof(candidates));
        }

        var c = CultureInfo.InvariantCulture;
        var minimum = MinimumSegmentSizeFor(users);
        var scores = candidates
            .OrderBy(x => x.K)
            .Select(x => new KCandidateScore(x.K, x.Silhouette, x.SmallestSegment, x.SmallestSegment >= minimum))
            .ToList();
        var warnings = new List<string>();
        var eligible = scores.Where(s => s.Eligible && !double.IsNaN(s.Silhouette)).ToList();
        int chosen;
        if (eligible.Count == 0)
        {
            chosen = scores[0].K;
            warnings.Add(string.Create(c, $"every k tried leaves a segment under {minimum} users; k = {chosen}, the smallest, is used: there are too few users for more than a rough split"));
        }
        else
        {
            var best = eligible.MaxBy(s => s.Silhouette)!;
            if (best.Silhouette < ClearStructure)
            {
                // Without structure the silhouettes of all k sit within noise of each other (a threshold 0.02 below the
                // best then picks whichever k happens to land on it): the fewest segments is the honest split.
                chosen = eligible[0].K;
                if (chosen != best.K)
                {
                    warnings.Add(string.Create(c, $"k = {chosen}, the smallest eligible, chosen over k = {best.K} (silhouette {best.Silhouette:F3}, the highest): below {ClearStructure:F2} the differences between k are noise"));
                }
            }
            else
            {
                chosen = eligible.First(s => s.Silhouette >= best.Silhouette - MinimumGain).K;
            }

            if (chosen != best.K && best.Silhouette >= ClearStructure)
            {
                var at = eligible.First(s => s.K == chosen);
                warnings.Add(string.Create(c, $"k = {chosen} (silhouette {at.Silhouette:F3}) chosen over k = {best.K} ({best.Silhouette:F3}): the larger k gains less than {MinimumGain:F2}"));
            }
        }

        var tooSmall = scores.Where(s => !s.Eligible).Select(s => s.K).Concat(skipped).Distinct().Order().ToList();
        if (tooSmall.Count > 0 && eligible.Count > 0)
        {
            warnings.Add(string.Create(c, $"k = {Ranges(tooSmall)} not eligible: a segment would have fewer than {minimum} users (the minimum segment size for {users:N0} users)"));
        }

        var bestSilhouette = scores.Where(s => !double.IsNaN(s.Silhouette)).Select(s => s.Silhouette).DefaultIfEmpty(double.NaN).Max();
        if (!(bestSilhouette >= ClearStructure))
        {
            warnings.Add(string.Create(c, $"no clear cluster structure: the best silhouette is {bestSilhouette:F3} (below {ClearStructure:F2}); the segments split a continuum of users rather than separate groups, so read them as rough bands"));
        }

        return new KChoice(chosen, scores, minimum, Criterion(minimum), warnings);
    }

    /// <summary>"3, 9–12" for [3, 9, 10, 11, 12].</summary>
    private static string Ranges(IReadOnlyList<int> ks)
    {
        var parts = new List<string>();
        for (var i = 0; i < ks.Count;)
        {
            var j = i;
            while (j + 1 < ks.Count && ks[j + 1] == ks[j] + 1)
            {
                j++;
            }

            parts.Add(j == i ? ks[i].ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{ks[i]}–{ks[j]}"));
            i = j + 1;
        }

        return string.Join(", ", parts);
    }
}
