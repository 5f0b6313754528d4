using System.Buffers;

namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// A candidate source that can also give its candidates unsorted, in an array rented from
/// <see cref="ArrayPool{T}.Shared"/>: the same candidates as <see cref="ICandidateSource.GetCandidates"/> (the same
/// items, scores and reasons), in no particular order. For the blender, which reads a source's set and its best score
/// only, then lets the array go: the sort a source made for its public answer was about a tenth of the miss's blend
/// (three sorts of ~50 entries a call), and the answers' arrays a third of the bytes a Recommend allocated. Thread-safe
/// as the source is.
/// </summary>
internal interface IUnorderedCandidateSource : ICandidateSource
{
    /// <summary>
    /// Up to <paramref name="count"/> candidates for <paramref name="request"/>, in no particular order, in a rented
    /// array that the caller gives back (<see cref="RentedCandidates.Return"/>) once it has read them.
    /// </summary>
    ArraySegment<Candidate> GetUnorderedCandidates(RecommendationRequest request, int count, Func<string, bool> allowed);
}

/// <summary>Arrays of candidates: rented for an unsorted answer, owned by the caller for a sorted (public) one.</summary>
internal static class RentedCandidates
{
    /// <summary><paramref name="length"/> places: rented from the shared pool, or a new array of exactly that length.</summary>
    public static ArraySegment<Candidate> Make(int length, bool rented) =>
        length == 0 ? ArraySegment<Candidate>.Empty
        : rented ? new ArraySegment<Candidate>(ArrayPool<Candidate>.Shared.Rent(length), 0, length)
        : new ArraySegment<Candidate>(new Candidate[length]);

    /// <summary>A segment <see cref="Make"/> made with rented false, as the array it is.</summary>
    public static Candidate[] Owned(ArraySegment<Candidate> candidates) => candidates.Count == 0 ? [] : candidates.Array!;

    /// <summary>Gives a rented segment's array back, cleared (it holds ids and reasons, which the pool must not keep alive).</summary>
    public static void Return(ArraySegment<Candidate> candidates)
    {
        if (candidates.Count > 0)
        {
            ArrayPool<Candidate>.Shared.Return(candidates.Array!, clearArray: true);
        }
    }
}
