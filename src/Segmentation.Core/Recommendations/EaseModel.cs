using System.Buffers;
using System.Collections.Frozen;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Recommendations;

/// <summary>
/// EASEᴿ (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): a learned item-to-item weight
/// matrix B with zero diagonal that minimises ‖X − X·B‖² + λ‖B‖² over the binary user × item matrix X, in closed
/// form: P = (XᵀX + λI)⁻¹, B[j, i] = −P[j, i] / P[i, i]. A user's score for item i is Σⱼ B[j, i] over the items j
/// they interacted with.
/// <para>
/// Batch-trained and immutable afterwards (thread-safe); retrain periodically from the event log. Dense: O(n²)
/// memory and O(n³) training time for n items, so it suits catalogues up to a few thousand items (MovieLens-100k's
/// 1,682 items train in about a second on two cores). <c>maxItems</c> bounds n to the items with the most users:
/// served, the model holds 4·n² bytes (3,000 items: 36 MB); training peaks at about 20·n² bytes (the Gram matrix,
/// its inverse and the weights: 180 MB at 3,000). Each candidate's reason names the user's item with the largest
/// weight towards it. A query's n scores live in a pooled buffer: nothing large is allocated per call.
/// </para>
/// <para>
/// <see cref="Prune"/> makes a sparse copy that keeps each item's strongest <c>m</c> weights (by magnitude) as
/// (index, weight) pairs, 8·n·m bytes: a query then reads 8·m bytes per item of hers instead of a 4·n-byte row. At
/// 3,000 items the dense rows (36 MB) do not stay in a 32 MB last-level cache, so every item of hers is a 12 KB read
/// from memory; 200 neighbours take 4.8 MB.
/// </para>
/// </summary>
public sealed class EaseModel : IReasonOwingSource
{
    private readonly string[] _ids;
    // Frozen: read on every Recommend for each item of her history (about 50 lookups a call, 5 % of a miss's samples
    // in perf as a Dictionary), never written after the model is made.
    private readonly FrozenDictionary<string, int> _index;

    // Dense: the n × n weights, row-major (row j: item j's weight towards every item); 0 neighbours.
    // Sparse: each row's kept neighbours, n × neighbours, ascending by index within a row; no dense weights.
    private readonly float[] _weights;
    private readonly int _neighbours;
    private readonly int[] _neighbourIndices;
    private readonly float[] _neighbourWeights;

    // "Similar to what you viewed: X" for each item X of the model, made when first given (reasons are immutable, so
    // candidates share them): a Recommend gave about 50 new ones. A race makes two equal ones; either is right.
    private readonly RecommendationReason?[] _reasons;

    private EaseModel(string[] ids, FrozenDictionary<string, int> index, float[] weights)
    {
        _reasons = new RecommendationReason?[ids.Length];
        _ids = ids;
        _index = index;
        _weights = weights;
        _neighbourIndices = [];
        _neighbourWeights = [];
    }

    private EaseModel(string[] ids, FrozenDictionary<string, int> index, int neighbours, int[] neighbourIndices, float[] neighbourWeights)
    {
        _reasons = new RecommendationReason?[ids.Length];
        _ids = ids;
        _index = index;
        _weights = [];
        _neighbours = neighbours;
        _neighbourIndices = neighbourIndices;
        _neighbourWeights = neighbourWeights;
    }

    /// <summary>Items known to the model.</summary>
    public int ItemCount => _ids.Length;

    /// <summary>Weights kept per item (<see cref="Prune"/>); 0 for a dense model, which keeps all n.</summary>
    public int Neighbours => _neighbours;

    /// <summary>Bytes the served model's weights hold: 4·n² dense, 8·n·<see cref="Neighbours"/> pruned.</summary>
    public long WeightBytes => _neighbours == 0
        ? (long)_weights.Length * sizeof(float)
        : (long)_neighbourIndices.Length * (sizeof(int) + sizeof(float));

    /// <summary>Whether the model knows <paramref name="itemId"/>.</summary>
    public bool Contains(string itemId) => _index.ContainsKey(itemId);

    /// <summary>
    /// Trains on (user, item) pairs (duplicates count once) with L2 penalty <paramref name="lambda"/> (&gt; 0; a few
    /// hundred suits MovieLens-sized data), on at most <paramref name="maxItems"/> items: those with the most users
    /// (ties by id). Items are ordered by id, so the same pairs give the same model.
    /// </summary>
    public static EaseModel Train(IEnumerable<(string UserId, string ItemId)> interactions, double lambda, int maxDegreeOfParallelism = -1, int maxItems = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(lambda);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxItems);
        var users = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var (user, item) in interactions)
        {
            if (!users.TryGetValue(user, out var items))
            {
                users.Add(user, items = new HashSet<string>(StringComparer.Ordinal));
            }

            items.Add(item);
        }

        var userCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var items in users.Values)
        {
            foreach (var item in items)
            {
                userCounts[item] = userCounts.GetValueOrDefault(item) + 1;
            }
        }

        var ids = userCounts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(maxItems)
            .Select(p => p.Key).Order(StringComparer.Ordinal).ToArray();
        var index = new Dictionary<string, int>(ids.Length, StringComparer.Ordinal);
        for (var i = 0; i < ids.Length; i++)
        {
            index.Add(ids[i], i);
        }

        var n = ids.Length;
        var gram = new double[n * n];
        foreach (var items in users.Values)
        {
            var rows = items.Where(index.ContainsKey).Select(i => index[i]).ToArray();
            foreach (var a in rows)
            {
                var row = a * n;
                foreach (var b in rows)
                {
                    gram[row + b] += 1;
                }
            }
        }

        for (var i = 0; i < n; i++)
        {
            gram[(i * n) + i] += lambda;
        }

        var degree = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;
        Cholesky.Factor(gram, n, degree);
        var p = new double[n * n];
        Cholesky.Invert(gram, n, p, degree);

        var weights = new float[n * n];
        for (var j = 0; j < n; j++)
        {
            for (var i = 0; i < n; i++)
            {
                weights[(j * n) + i] = i == j ? 0 : (float)(-p[(j * n) + i] / p[(i * n) + i]);
            }
        }

        return new EaseModel(ids, index.ToFrozenDictionary(StringComparer.Ordinal), weights);
    }

    /// <summary>
    /// A sparse copy that keeps, of each item's weights towards the others, the <paramref name="neighbours"/> largest
    /// in magnitude (ties to the lower index; at most n − 1, the diagonal is 0); the rest count as 0. Scores from the
    /// copy are the sums of the kept weights, added in the same order as the dense model adds them, so keeping every
    /// neighbour scores exactly as the dense model does.
    /// </summary>
    public EaseModel Prune(int neighbours)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(neighbours);
        if (_neighbours != 0)
        {
            throw new InvalidOperationException("the model is already pruned");
        }

        var n = _ids.Length;
        var m = Math.Max(1, Math.Min(neighbours, n - 1));
        var indices = new int[n * m];
        var weights = new float[n * m];
        var order = new int[n];
        for (var j = 0; j < n; j++)
        {
            var row = _weights.AsSpan(j * n, n);
            for (var i = 0; i < n; i++)
            {
                order[i] = i;
            }

            // Strongest first, ties to the lower index, its own item (the zero diagonal) last: a total order, so the
            // kept set does not depend on the sort's instability.
            var self = j;
            var weightsOfRow = _weights;
            var offset = j * n;
            Array.Sort(order, (a, b) =>
            {
                if (a == self || b == self)
                {
                    return (a == self).CompareTo(b == self);
                }

                var c = Math.Abs(weightsOfRow[offset + b]).CompareTo(Math.Abs(weightsOfRow[offset + a]));
                return c != 0 ? c : a.CompareTo(b);
            });
            var kept = order.AsSpan(0, m);
            kept.Sort();
            kept.CopyTo(indices.AsSpan(j * m, m));
            for (var k = 0; k < m; k++)
            {
                weights[(j * m) + k] = row[kept[k]];
            }
        }

        return new EaseModel(_ids, _index, m, indices, weights);
    }

    /// <summary>The learned weight of item <paramref name="from"/> towards item <paramref name="to"/> (0 when either is unknown, or not kept by <see cref="Prune"/>).</summary>
    public float Weight(string from, string to) =>
        _index.TryGetValue(from, out var j) && _index.TryGetValue(to, out var i) ? WeightAt(j, i) : 0;

    private float WeightAt(int j, int i)
    {
        if (_neighbours == 0)
        {
            return _weights[(j * _ids.Length) + i];
        }

        // A vectorised scan of row j's m kept indices rather than a binary search of them (they are ascending): a
        // reason asks this of each of her ~50 rows, and the search's data-dependent steps cost more than 200 indices
        // compared 8 or 16 at a time (4.4 against 5.8 µs for 7 reasons over 58 rows of 200, in a micro-benchmark).
        var k = _neighbourIndices.AsSpan(j * _neighbours, _neighbours).IndexOf(i);
        return k >= 0 ? _neighbourWeights[(j * _neighbours) + k] : 0;
    }

    /// <summary>
    /// Candidates scored from the request's history (every distinct item the user interacted with counts once, as in
    /// training) plus its context item. Only positive scores are returned.
    /// </summary>
    public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) =>
        RentedCandidates.Owned(GetCandidates(request, count, allowed, sorted: true, owed: null));

    ArraySegment<Candidate> IUnorderedCandidateSource.GetUnorderedCandidates(RecommendationRequest request, int count, Func<string, bool> allowed) =>
        GetCandidates(request, count, allowed, sorted: false, owed: null);

    ArraySegment<Candidate> IReasonOwingSource.GetCandidatesOwingReasons(RecommendationRequest request, int count, Func<string, bool> allowed, OwedReasons owed) =>
        GetCandidates(request, count, allowed, sorted: false, owed);

    RecommendationReason IReasonOwingSource.ReasonOwed(string itemId, ReadOnlySpan<int> state) => ReasonOf(CauseOf(_index[itemId], state));

    // Sorted: an array of its own; otherwise unsorted, rented (IUnorderedCandidateSource). With `owed`, the reasons are
    // left null and her items (the state ReasonOwed reads) handed to it, which gives their array back.
    private ArraySegment<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed, bool sorted, OwedReasons? owed)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(allowed);
        var rentedOwn = OwnItems(request, out var ownCount);
        var n = _ids.Length;
        var rentedScores = ArrayPool<float>.Shared.Rent(n);
        var top = new TopK<int>(ownCount == 0 ? 0 : count);
        var handedOn = false;
        try
        {
            if (ownCount == 0 || count <= 0)
            {
                return ArraySegment<Candidate>.Empty;
            }

            var own = rentedOwn.AsSpan(0, ownCount);
            var scores = rentedScores.AsSpan(0, n);
            if (_neighbours == 0)
            {
                AddDenseRows(own, scores);
            }
            else
            {
                AddKeptWeights(own, scores);
            }

            OfferPositive(scores, top, allowed);

            // Which items are kept does not depend on their order, nor does each one's reason: sorted only when asked.
            // The reasons (a search of each of her rows) for every kept item, or, owed, only for the few the blender
            // shows with this model's reason: it shows about 10 of the ~50 kept, and a pass over all her rows for
            // every kept item's reason was a third of this model's samples in a miss's profile.
            var kept = sorted ? top.Sorted() : top.Unordered();
            var result = RentedCandidates.Make(kept.Length, rented: !sorted);
            for (var s = 0; s < kept.Length; s++)
            {
                result[s] = new Candidate(kept[s].Id, kept[s].Score, owed is null ? ReasonOf(CauseOf(kept[s].Value, own)) : null!);
            }

            if (owed is not null && kept.Length > 0)
            {
                owed.Owe(this, rentedOwn, ownCount);
                handedOn = true;
            }

            return result;
        }
        finally
        {
            top.Release();
            ArrayPool<float>.Shared.Return(rentedScores);
            if (!handedOn)
            {
                ArrayPool<int>.Shared.Return(rentedOwn);
            }
        }
    }

    // Her rows summed into `scores`: her first item's row copied in, not added to zeros (the same sums: 0 + w is w; a
    // -0 left by the copy is still not > 0), one pass over the scores fewer.
    private void AddDenseRows(ReadOnlySpan<int> own, Span<float> scores)
    {
        var n = scores.Length;
        _weights.AsSpan(own[0] * n, n).CopyTo(scores);
        foreach (var j in own[1..])
        {
            TensorPrimitives.Add(scores, _weights.AsSpan(j * n, n), scores);
        }
    }

    // Her items ascending, each adding its kept weights where they point: every score is the same sum, in the same
    // order, as a dense row of those weights with zeros elsewhere would give.
    private void AddKeptWeights(ReadOnlySpan<int> own, Span<float> scores)
    {
        scores.Clear();
        var m = _neighbours;
        foreach (var j in own)
        {
            ScatterAdd(scores, _neighbourIndices.AsSpan(j * m, m), _neighbourWeights.AsSpan(j * m, m));
        }
    }

    // The reason for item i: her item with the largest weight towards it, the first of equals (her items ascending,
    // each once). Asked only of a kept candidate, whose positive score means that some weight of hers towards it is
    // positive, so a weight Prune dropped (read as 0) never wins: the dense model's rule over the kept weights.
    private int CauseOf(int i, ReadOnlySpan<int> own)
    {
        var cause = own[0];
        var strongest = WeightAt(cause, i);
        foreach (var j in own[1..])
        {
            var weight = WeightAt(j, i);
            if (weight > strongest)
            {
                (cause, strongest) = (j, weight);
            }
        }

        return cause;
    }

    // Offers every positive score, by index, to `top` (item i, its score, i), where allowed. The same offers, in the
    // same order, as asking each score in turn; but a block of scores none of which could enter the full heap is passed
    // over with one vector comparison. Asked one by one, the ~3,000 scores' data-dependent branches (is it positive,
    // could it enter) cost more than the scoring: with this scan the miss's item model fell from 10.1 % of a perf
    // profile's samples (its own) to 3.9 % plus 1.4 % here, the scatter (ScatterAdd, 3.5 %) unchanged.
    private void OfferPositive(ReadOnlySpan<float> scores, TopK<int> top, Func<string, bool> allowed)
    {
        var width = Vector256<float>.Count;
        var i = 0;
        for (; i + width <= scores.Length; i += width)
        {
            if (Vector256.GreaterThanOrEqualAny(Vector256.Create(scores.Slice(i, width)), Vector256.Create(Floor(top))))
            {
                OfferEach(scores, i, i + width, top, allowed);
            }
        }

        OfferEach(scores, i, scores.Length, top, allowed);
    }

    private void OfferEach(ReadOnlySpan<float> scores, int from, int to, TopK<int> top, Func<string, bool> allowed)
    {
        for (var i = from; i < to; i++)
        {
            if (scores[i] > 0 && top.Admits(scores[i]) && allowed(_ids[i]))
            {
                top.Offer(_ids[i], scores[i], i);
            }
        }
    }

    // A float at or below every score that `top` would admit now: the smallest positive float while it has room, else
    // just under its worst entry's score. Admission compares scores at ranking precision (TopK.Rank, 2^-40 relative),
    // so a score that enters is at least its worst's rank less 2^-39 of it; a millionth below, rounded down, is below
    // that whatever the float conversion rounds.
    private static float Floor(TopK<int> top)
    {
        var worst = top.WorstRank;
        return worst > 0 ? Math.Max(float.Epsilon, MathF.BitDecrement((float)(worst * (1 - 1e-6)))) : float.Epsilon;
    }

    // scores[indices[k]] += weights[k] for every k, in k's order (the same float sums as a plain loop). Without bounds
    // checks: every index a row keeps is below n, the length of `scores` (Prune made them so, Read checks them), which
    // spares two checks per weight in the miss path's largest loop (~10,000 weights a call).
    private static void ScatterAdd(Span<float> scores, ReadOnlySpan<int> indices, ReadOnlySpan<float> weights)
    {
        ref var score0 = ref MemoryMarshal.GetReference(scores);
        ref var index0 = ref MemoryMarshal.GetReference(indices);
        ref var weight0 = ref MemoryMarshal.GetReference(weights);
        for (nint k = 0; k < indices.Length; k++)
        {
            Unsafe.Add(ref score0, Unsafe.Add(ref index0, k)) += Unsafe.Add(ref weight0, k);
        }
    }

    private RecommendationReason ReasonOf(int cause) =>
        _reasons[cause] ??= new RecommendationReason(ReasonKind.SimilarToViewed, _ids[cause]);

    // The model's indices of her items and the context item, ascending, each once (the first `distinct` of an array
    // rented from the shared pool, which the caller gives back): what a chain of Select, Append, Where, Distinct and
    // Order made through five iterators and a set on every call.
    private int[] OwnItems(RecommendationRequest request, out int distinct)
    {
        var history = request.HistorySpan();
        var found = ArrayPool<int>.Shared.Rent(history.Length + 1);
        var n = 0;
        for (var k = 0; k <= history.Length; k++)
        {
            if ((k < history.Length ? history[k].ItemId : request.ContextItemId) is { } id && _index.TryGetValue(id, out var j))
            {
                found[n++] = j;
            }
        }

        var sorted = found.AsSpan(0, n);
        sorted.Sort();
        distinct = 0;
        for (var k = 0; k < n; k++)
        {
            if (distinct == 0 || sorted[k] != sorted[distinct - 1])
            {
                sorted[distinct++] = sorted[k];
            }
        }

        return found;
    }

    /// <summary>
    /// Writes the model, all little-endian: dense, "EASE1", n (int32), the n item ids (length-prefixed UTF-8), then the
    /// n × n float weights, row-major; pruned, "EASE2", n, the ids, the neighbours kept per item m (int32), then the
    /// n × m neighbour indices (int32, ascending within each item's m) and the n × m weights in the same order.
    /// <see cref="Read"/> reads either back exactly.
    /// </summary>
    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(_neighbours == 0 ? s_denseMagic : s_prunedMagic);
        writer.Write(_ids.Length);
        foreach (var id in _ids)
        {
            writer.Write(id);
        }

        if (_neighbours == 0)
        {
            WriteLittleEndian(writer, stream, _weights);
            return;
        }

        writer.Write(_neighbours);
        WriteLittleEndian(writer, stream, _neighbourIndices);
        WriteLittleEndian(writer, stream, _neighbourWeights);
    }

    private static void WriteLittleEndian<T>(BinaryWriter writer, Stream stream, T[] values)
        where T : unmanaged
    {
        writer.Flush();
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            return;
        }

        Span<byte> bytes = stackalloc byte[Unsafe.SizeOf<T>()];
        foreach (var value in values)
        {
            MemoryMarshal.Write(bytes, value);
            bytes.Reverse();
            stream.Write(bytes);
        }
    }

    /// <summary>
    /// Reads a model written by <see cref="Write"/>, dense ("EASE1", also every version stored before pruning) or pruned
    /// ("EASE2"); <see cref="InvalidDataException"/> names what is wrong with anything else.
    /// </summary>
    public static EaseModel Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        try
        {
            var magic = reader.ReadBytes(s_denseMagic.Length);
            var pruned = magic.AsSpan().SequenceEqual(s_prunedMagic);
            if (!pruned && !magic.AsSpan().SequenceEqual(s_denseMagic))
            {
                throw new InvalidDataException("not an EASE model (the file does not start with \"EASE1\" or \"EASE2\")");
            }

            var n = reader.ReadInt32();
            if (n is < 1 or > 46_340)
            {
                throw new InvalidDataException($"item count {n} is out of range (1 to 46,340)");
            }

            var ids = new string[n];
            var index = new Dictionary<string, int>(n, StringComparer.Ordinal);
            for (var i = 0; i < n; i++)
            {
                ids[i] = reader.ReadString();
                if (!index.TryAdd(ids[i], i))
                {
                    throw new InvalidDataException($"item '{ids[i]}' appears twice");
                }
            }

            if (!pruned)
            {
                return new EaseModel(ids, index.ToFrozenDictionary(StringComparer.Ordinal), ReadLittleEndian<float>(stream, n * n));
            }

            var m = reader.ReadInt32();
            if (m < 1 || m > Math.Max(1, n - 1))
            {
                throw new InvalidDataException($"neighbours per item {m} is out of range (1 to {Math.Max(1, n - 1)})");
            }

            var indices = ReadLittleEndian<int>(stream, n * m);
            for (var j = 0; j < n; j++)
            {
                var row = indices.AsSpan(j * m, m);
                for (var k = 0; k < m; k++)
                {
                    // Ascending within an item's neighbours: what scoring's order and Weight's binary search rely on.
                    if ((uint)row[k] >= (uint)n || (k > 0 && row[k] <= row[k - 1]))
                    {
                        throw new InvalidDataException($"item {j}'s neighbour indices are out of range or not ascending");
                    }
                }
            }

            return new EaseModel(ids, index.ToFrozenDictionary(StringComparer.Ordinal), m, indices, ReadLittleEndian<float>(stream, n * m));
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("the model is truncated");
        }
    }

    private static T[] ReadLittleEndian<T>(Stream stream, int count)
        where T : unmanaged
    {
        var values = new T[count];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        stream.ReadExactly(bytes);
        if (!BitConverter.IsLittleEndian)
        {
            for (var i = 0; i < bytes.Length; i += Unsafe.SizeOf<T>())
            {
                bytes.Slice(i, Unsafe.SizeOf<T>()).Reverse();
            }
        }

        return values;
    }

    private static readonly byte[] s_denseMagic = "EASE1"u8.ToArray();
    private static readonly byte[] s_prunedMagic = "EASE2"u8.ToArray();
}
