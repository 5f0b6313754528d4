namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// A candidate source that can also give its candidates unsorted: the same candidates as
/// <see cref="ICandidateSource.GetCandidates"/> (the same items, scores and reasons), in no particular order. For the
/// blender, which reads a source's set and its best score only: the sort a source makes for its public answer was
/// about a tenth of the miss's blend (three sorts of ~50 entries a call, each comparison a double and, on a tie, two
/// item ids). Thread-safe as the source is.
/// </summary>
internal interface IUnorderedCandidateSource : ICandidateSource
{
    /// <summary>Up to <paramref name="count"/> candidates for <paramref name="request"/>, in no particular order.</summary>
    Candidate[] GetUnorderedCandidates(RecommendationRequest request, int count, Func<string, bool> allowed);
}
