namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// An unordered candidate source whose reasons cost more than its scores (EASEᴿ's: a search of each of her rows per
/// candidate): it can give its candidates without them and owe each one's reason until the blender
/// knows it shows that item with this source's reason (a few of the ~50 it gives). Thread-safe as the source is.
/// </summary>
internal interface IReasonOwingSource : IUnorderedCandidateSource
{
    /// <summary>
    /// <see cref="IUnorderedCandidateSource.GetUnorderedCandidates"/>'s candidates with null reasons; what
    /// <see cref="ReasonOwed"/> needs is handed to <paramref name="owed"/>, which holds it until cleared.
    /// </summary>
    ArraySegment<Candidate> GetCandidatesOwingReasons(RecommendationRequest request, int count, Func<string, bool> allowed, OwedReasons owed);

    /// <summary>
    /// The reason <see cref="IUnorderedCandidateSource.GetUnorderedCandidates"/> would have given <paramref name="itemId"/>,
    /// one of the candidates given with <paramref name="state"/> (what the query handed to <see cref="OwedReasons"/>).
    /// </summary>
    RecommendationReason ReasonOwed(string itemId, ReadOnlySpan<int> state);
}
