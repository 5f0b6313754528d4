namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// The per-item scratch arrays of one co-occurrence query (score, best contribution, its cause, the items reached),
/// reused from query to query. The cause array is kept all −1 between queries (the query resets only the entries it
/// reached), so a query costs O(items reached), not O(catalogue): a 100,000-item catalogue is not cleared per call.
/// </summary>
internal sealed class ScoringBuffers
{
    private ScoringBuffers(int capacity)
    {
        Scores = new double[capacity];
        Best = new double[capacity];
        Cause = new int[capacity];
        Touched = new int[capacity];
        Array.Fill(Cause, -1);
    }

    /// <summary>Items these arrays have room for.</summary>
    public int Capacity => Cause.Length;

    /// <summary>Summed score per item (valid where <see cref="Cause"/> is not −1).</summary>
    public double[] Scores { get; }

    /// <summary>The largest single contribution per item.</summary>
    public double[] Best { get; }

    /// <summary>The user's item that contributed <see cref="Best"/>; −1 for items not reached.</summary>
    public int[] Cause { get; }

    /// <summary>The items reached, in the order first reached (the first <see cref="Reached"/>).</summary>
    public int[] Touched { get; }

    /// <summary>How many of <see cref="Touched"/> are set.</summary>
    public int Reached { get; set; }

    /// <summary>
    /// A small pool (a few per core: queries run side by side under a read lock). Thread-safe. Buffers made for a smaller
    /// catalogue are dropped when the catalogue has grown past them.
    /// </summary>
    internal sealed class Pool
    {
        private readonly Stack<ScoringBuffers> _free = new();
        private readonly int _limit = Math.Max(4, 2 * Environment.ProcessorCount);

        /// <summary>Buffers with room for <paramref name="items"/> items, every cause −1.</summary>
        public ScoringBuffers Rent(int items)
        {
            lock (_free)
            {
                while (_free.TryPop(out var buffers))
                {
                    if (buffers.Capacity >= items)
                    {
                        return buffers;
                    }
                }
            }

            // A quarter of room to grow, so a catalogue that grows by a few items does not reallocate every query.
            return new ScoringBuffers(Math.Max(16, items + (items / 4)));
        }

        /// <summary>Resets what the query reached and keeps the buffers for the next one.</summary>
        public void Return(ScoringBuffers buffers)
        {
            foreach (var i in buffers.Touched.AsSpan(0, buffers.Reached))
            {
                buffers.Cause[i] = -1;
            }

            buffers.Reached = 0;
            lock (_free)
            {
                if (_free.Count < _limit)
                {
                    _free.Push(buffers);
                }
            }
        }
    }
}
