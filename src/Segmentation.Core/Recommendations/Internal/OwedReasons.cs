using System.Buffers;

namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// What one query of an <see cref="IReasonOwingSource"/> needs to make the reasons it owes (her items, as the source
/// numbers them), in an array rented from the shared pool, held until <see cref="Clear"/> gives it back. Reused from
/// query to query (the blender keeps one per source per thread); not thread-safe.
/// </summary>
internal sealed class OwedReasons
{
    private IReasonOwingSource? _source;
    private int[] _state = [];
    private int _length;

    /// <summary>Takes <paramref name="rented"/>'s first <paramref name="length"/> as the state of <paramref name="source"/>'s query.</summary>
    public void Owe(IReasonOwingSource source, int[] rented, int length)
    {
        Clear();
        (_source, _state, _length) = (source, rented, length);
    }

    /// <summary>The reason owed for <paramref name="itemId"/>, a candidate of the query owed for.</summary>
    public RecommendationReason ReasonOf(string itemId) =>
        _source is null ? throw new InvalidOperationException("no reasons are owed") : _source.ReasonOwed(itemId, _state.AsSpan(0, _length));

    /// <summary>Gives the state's array back; nothing is owed afterwards.</summary>
    public void Clear()
    {
        if (_source is not null)
        {
            ArrayPool<int>.Shared.Return(_state);
        }

        (_source, _state, _length) = (null, [], 0);
    }
}
