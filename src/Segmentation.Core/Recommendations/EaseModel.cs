using System.Buffers;
using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
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
/// </summary>
public sealed class EaseModel : ICandidateSource
{
    private readonly string[] _ids;
    private readonly Dictionary<string, int> _index;
    private readonly float[] _weights;

    private EaseModel(string[] ids, Dictionary<string, int> index, float[] weights)
    {
        _ids = ids;
        _index = index;
        _weights = weights;
    }

    /// <summary>Items known to the model.</summary>
    public int ItemCount => _ids.Length;

    /// <summary>Bytes the served model holds (its n × n float weights).</summary>
    public long WeightBytes => (long)_weights.Length * sizeof(float);

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

        return new EaseModel(ids, index, weights);
    }

    /// <summary>The learned weight of item <paramref name="from"/> towards item <paramref name="to"/> (0 when either is unknown).</summary>
    public float Weight(string from, string to) =>
        _index.TryGetValue(from, out var j) && _index.TryGetValue(to, out var i) ? _weights[(j * _ids.Length) + i] : 0;

    /// <summary>
    /// Candidates scored from the request's history (every distinct item the user interacted with counts once, as in
    /// training) plus its context item. Only positive scores are returned.
    /// </summary>
    public IReadOnlyList<Candidate> GetCandidates(RecommendationRequest request, int count, Func<string, bool> allowed)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(allowed);
        var own = OwnItems(request);
        if (own.Length == 0 || count <= 0)
        {
            return [];
        }

        var n = _ids.Length;
        var rented = ArrayPool<float>.Shared.Rent(n);
        var top = new TopK<byte>(count);
        try
        {
            // Her first item's row copied in, not added to zeros: the same sums (0 + w is w; a -0 left by the copy is
            // still not > 0), one pass over the scores fewer.
            var scores = rented.AsSpan(0, n);
            _weights.AsSpan(own[0] * n, n).CopyTo(scores);
            foreach (var j in own.AsSpan(1))
            {
                TensorPrimitives.Add(scores, _weights.AsSpan(j * n, n), scores);
            }

            for (var i = 0; i < n; i++)
            {
                if (scores[i] > 0 && top.Admits(scores[i]) && allowed(_ids[i]))
                {
                    top.Offer(_ids[i], scores[i], 0);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }

        return top.Drain((id, score, _) =>
        {
            var i = _index[id];
            var cause = own[0];
            foreach (var j in own)
            {
                if (_weights[(j * n) + i] > _weights[(cause * n) + i])
                {
                    cause = j;
                }
            }

            return new Candidate(id, score, new RecommendationReason(ReasonKind.SimilarToViewed, _ids[cause]));
        });
    }

    // The model's indices of her items and the context item, ascending, each once: what a chain of Select, Append,
    // Where, Distinct and Order made through five iterators and a set on every call.
    private int[] OwnItems(RecommendationRequest request)
    {
        var history = request.History;
        var found = new int[history.Count + 1];
        var n = 0;
        for (var k = 0; k <= history.Count; k++)
        {
            if ((k < history.Count ? history[k].ItemId : request.ContextItemId) is { } id && _index.TryGetValue(id, out var j))
            {
                found[n++] = j;
            }
        }

        var sorted = found.AsSpan(0, n);
        sorted.Sort();
        var distinct = 0;
        for (var k = 0; k < n; k++)
        {
            if (distinct == 0 || sorted[k] != sorted[distinct - 1])
            {
                sorted[distinct++] = sorted[k];
            }
        }

        return distinct == found.Length ? found : found[..distinct];
    }

    /// <summary>
    /// Writes the model: "EASE1", n (int32), the n item ids (length-prefixed UTF-8), then the n × n float weights,
    /// row-major, all little-endian. <see cref="Read"/> reads it back exactly.
    /// </summary>
    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(s_magic);
        writer.Write(_ids.Length);
        foreach (var id in _ids)
        {
            writer.Write(id);
        }

        writer.Flush();
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(_weights.AsSpan()));
        }
        else
        {
            foreach (var w in _weights)
            {
                writer.Write(w);
            }
        }
    }

    /// <summary>Reads a model written by <see cref="Write"/>; <see cref="InvalidDataException"/> names what is wrong with anything else.</summary>
    public static EaseModel Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        try
        {
            if (!reader.ReadBytes(s_magic.Length).AsSpan().SequenceEqual(s_magic))
            {
                throw new InvalidDataException("not an EASE model (the file does not start with \"EASE1\")");
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

            var weights = new float[n * n];
            var bytes = MemoryMarshal.AsBytes(weights.AsSpan());
            stream.ReadExactly(bytes);
            if (!BitConverter.IsLittleEndian)
            {
                for (var i = 0; i < weights.Length; i++)
                {
                    weights[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * sizeof(float), sizeof(float)));
                }
            }

            return new EaseModel(ids, index, weights);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("the model is truncated");
        }
    }

    private static readonly byte[] s_magic = "EASE1"u8.ToArray();
}
