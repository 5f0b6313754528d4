using System.Collections.Concurrent;
using Segmentation.Core;
using Segmentation.Core.Recommendations;

namespace Segmentation.Host.Recommendations;

/// <summary>
/// Each user's last answer in one tenant (<see cref="LiveRecommender.Recommend"/>), served again while it is still hers:
/// the same request (placement, count, context, exclusions), her history, segment keys, category affinities and
/// embedding unchanged, no model swapped or rebuilt since (<see cref="Clear"/>), and younger than the maximum age. Her own events therefore always recompute
/// it (they change her history, which the request carries); other users' events reach it within the maximum age.
/// </summary>
/// <remarks>
/// Why whole answers rather than each source's candidates: on a 100,000-item catalogue the blend of a shopper with a
/// hundred items costs several times a segment lookup (her items' neighbours, popularity, the item model), and between
/// two of her page views nothing of hers changed. Validation compares what the request carries with what the entry
/// was made from (about a hundred interactions: a microsecond), so no grain has to report a version.
/// <para>Entries are keyed by user id: each tenant's recommender has its own cache, cleared by that tenant's swaps,
/// rebuilds and erasures only, so no entry made for one tenant's user can answer the same user id of another (and no
/// tenant key is built per ingested event, which invalidates its user's entry).</para>
/// <para>Thread-safe. A computation that races a <see cref="Clear"/> is not kept (it carries the generation it started
/// in). One that races an <see cref="Invalidate"/> (another silo's change of hers arriving while her answer is being
/// made) may be kept: it lives at most the maximum age.</para>
/// <para>Memory: at most about <c>capacity</c> entries of a ten-item answer each; past it, expired entries are swept
/// and, if still full, all are dropped (the next calls recompute).</para>
/// </remarks>
internal sealed class RecommendationCache(string tenant, TimeSpan maxAge, int capacity)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly long _maxAgeMs = (long)maxAge.TotalMilliseconds;
    private long _generation;
    private int _adds;

    /// <summary>The generation to pass to <see cref="Add"/>: read before computing the answer.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Entries held (for tests and diagnostics).</summary>
    public int Count => _entries.Count;

    /// <summary>The tenant whose users' answers are kept.</summary>
    public string Tenant => tenant;

    /// <summary>Whether an answer of <paramref name="userId"/> (of this tenant) is held, valid or not (for tests).</summary>
    public bool Holds(string userId) => _entries.ContainsKey(userId);

    /// <summary>The cached answer to <paramref name="request"/> on <paramref name="placement"/>, if it is still valid.</summary>
    public bool TryGet(string placement, RecommendationRequest request, out IReadOnlyList<Recommendation> answer)
    {
        if (_entries.TryGetValue(request.UserId, out var entry) && entry.Answers(placement, request, Generation, Environment.TickCount64 - _maxAgeMs))
        {
            answer = entry.Answer;
            return true;
        }

        answer = [];
        return false;
    }

    /// <summary>Keeps <paramref name="answer"/>, made for <paramref name="request"/> in <paramref name="generation"/>, as her last one.</summary>
    public void Add(string placement, RecommendationRequest request, long generation, IReadOnlyList<Recommendation> answer)
    {
        if (generation != Generation)
        {
            return;
        }

        _entries[request.UserId] = new Entry(placement, request, generation, Environment.TickCount64, answer);
        // ConcurrentDictionary.Count takes every lock: looked at once in 1,024 adds.
        if ((Interlocked.Increment(ref _adds) & 1023) == 0 && _entries.Count > capacity)
        {
            var expired = Environment.TickCount64 - _maxAgeMs;
            foreach (var (user, entry) in _entries)
            {
                if (entry.Made < expired)
                {
                    _entries.TryRemove(user, out _);
                }
            }

            if (_entries.Count > capacity)
            {
                _entries.Clear();
            }
        }
    }

    /// <summary>Drops <paramref name="userId"/>'s answer (an event of hers was learned).</summary>
    /// <remarks>
    /// Runs for every ingested event, and most users have no answer held: the lock-free look first, as TryRemove takes
    /// its bucket's lock whether or not she is there. An answer added between the two is the race the class remarks
    /// allow (it lives at most the maximum age).
    /// </remarks>
    public void Invalidate(string userId)
    {
        if (_entries.ContainsKey(userId))
        {
            _entries.TryRemove(userId, out _);
        }
    }

    /// <summary>Drops every answer (a model was swapped, the recommenders rebuilt): the next calls recompute.</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    private sealed class Entry(string placement, RecommendationRequest request, long generation, long made, IReadOnlyList<Recommendation> answer)
    {
        public long Made => made;

        public IReadOnlyList<Recommendation> Answer => answer;

        public bool Answers(string askedPlacement, RecommendationRequest other, long currentGeneration, long notBefore)
        {
            return generation == currentGeneration && made >= notBefore &&
                string.Equals(placement, askedPlacement, StringComparison.Ordinal) &&
                request.Count == other.Count &&
                string.Equals(request.ContextItemId, other.ContextItemId, StringComparison.Ordinal) &&
                string.Equals(request.ContextCategory, other.ContextCategory, StringComparison.Ordinal) &&
                SameItems(request.ExcludedItems, other.ExcludedItems) &&
                request.SegmentKeys.SequenceEqual(other.SegmentKeys, StringComparer.Ordinal) &&
                SameAffinities(request.CategoryAffinities, other.CategoryAffinities) &&
                SameVector(request.UserVector, other.UserVector) &&
                SameHistory(request.History, other.History);
        }

        private static bool SameItems(IReadOnlySet<string> a, IReadOnlySet<string> b) =>
            ReferenceEquals(a, b) || (a.Count == b.Count && (a.Count == 0 || a.SetEquals(b)));

        // What personal ranking reads of her affinities: the categories in order and their shares. Their decayed values
        // shrink with every request's "now", but all by the same factor (one half-life), so the shares stay; they are
        // compared to within rounding of that division, so the same shopper is a hit and any real change is not.
        private static bool SameAffinities(IReadOnlyList<CategoryAffinity> a, IReadOnlyList<CategoryAffinity> b)
        {
            if (ReferenceEquals(a, b))
            {
                return true;
            }

            if (a.Count != b.Count)
            {
                return false;
            }

            for (var i = 0; i < a.Count; i++)
            {
                if (!string.Equals(a[i].Category, b[i].Category, StringComparison.Ordinal) || Math.Abs(a[i].Share - b[i].Share) > 1e-12)
                {
                    return false;
                }
            }

            return true;
        }

        private static bool SameVector(float[]? a, float[]? b) =>
            ReferenceEquals(a, b) || (a is not null && b is not null && a.AsSpan().SequenceEqual(b));

        // Her interactions in the order the grain lists them (purchases, then the rest): any event of hers that the
        // recommenders learn changes this list (a new entry, a moved window, a rating).
        private static bool SameHistory(IReadOnlyList<Interaction> a, IReadOnlyList<Interaction> b)
        {
            if (ReferenceEquals(a, b))
            {
                return true;
            }

            if (a.Count != b.Count)
            {
                return false;
            }

            for (var i = 0; i < a.Count; i++)
            {
                if (a[i] != b[i])
                {
                    return false;
                }
            }

            return true;
        }
    }
}
