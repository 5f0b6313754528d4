namespace Segmentation.Storage.Sqlite;

/// <summary>
/// The SQLite log's records whose index rows are not in their tables yet: for each, its stream, sequence number and event
/// id, committed since the last flush (or being committed by the writer), in memory. Every record at or below
/// <see cref="IndexedThrough"/> has its rows in <c>stream_index</c> and <c>event_ids</c>.
/// </summary>
/// <remarks>
/// Why: an index written record by record takes a random insert per record (the stream index always, the event id index
/// when ids are random, as UUIDs are). Once it outgrows a commit, every record dirties a page of its own, which the WAL
/// writes, the checkpoint reads back and writes again: about 10 KB of I/O and 11 µs of kernel time a record for the stream
/// index alone at 1.6 million records, growing with the log. Flushed here in sorted batches, a page takes many records.
/// The records are slots of one array, each chained to the one before it of its stream, sized for a batch when the log
/// opens and emptied (not freed) by a flush, so listing a record allocates nothing.
/// Only the writer adds, flushes and marks commits; an erasure removes, inside its write transaction (so never while the
/// writer is in one); readers copy under the lock.
/// </remarks>
internal sealed class IndexTail
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _newestOfStream;
    private readonly Dictionary<string, int> _eventIds;

    // A flush's rows, sorted: refilled by each Begin rather than allocated, since a flush of 100,000 records needs about
    // 4 MB of them, on the large object heap, once every 100,000 records (about 40 bytes per record appended). The
    // writer begins a flush only after the one before it is done (Flushed), so no flush is still reading them.
    private readonly List<(string Stream, long Sequence, string EventId)> _flushStreams = [];
    private readonly List<(string EventId, long Sequence)> _flushEventIds = [];
    private Slot[] _slots;
    private int _used;
    private long _indexedThrough;
    private long _committedThrough;

    // Records taken out so far (erasures, discarded commits): a flush that began at the same count lists all its rows.
    private long _removals;

    public IndexTail(long indexedThrough, int capacity)
    {
        _indexedThrough = _committedThrough = indexedThrough;
        _slots = new Slot[capacity];
        _newestOfStream = new Dictionary<string, int>(capacity, StringComparer.Ordinal);
        _eventIds = new Dictionary<string, int>(capacity, StringComparer.Ordinal);
    }

    /// <summary>Records not in the tables yet.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _eventIds.Count;
            }
        }
    }

    /// <summary>Every record at or below this sequence number is in the tables.</summary>
    public long IndexedThrough
    {
        get
        {
            lock (_lock)
            {
                return _indexedThrough;
            }
        }
    }

    /// <summary>Adds a record (the writer, inside its transaction; sequence numbers increase).</summary>
    public void Add(string stream, long sequence, string eventId)
    {
        lock (_lock)
        {
            AddLocked(stream, sequence, eventId);
        }
    }

    /// <summary>Adds records already committed (opening; an erasure that did not commit gives back what it took).</summary>
    public void Restore(List<(string Stream, long Sequence, string EventId)> records)
    {
        lock (_lock)
        {
            foreach (var (stream, sequence, eventId) in records)
            {
                AddLocked(stream, sequence, eventId);
                _committedThrough = Math.Max(_committedThrough, sequence);
            }
        }
    }

    /// <summary>Whether the writer stored this event id and has not flushed it (committed or in its transaction).</summary>
    public bool HasEventId(string eventId)
    {
        lock (_lock)
        {
            return _eventIds.ContainsKey(eventId);
        }
    }

    /// <summary>The writer's transaction committed: its records count for readers' questions about event ids.</summary>
    public void Committed(long through)
    {
        lock (_lock)
        {
            _committedThrough = Math.Max(_committedThrough, through);
        }
    }

    /// <summary>Undoes <see cref="Add"/> for records whose commit failed.</summary>
    public void Discard(List<(string Stream, long Sequence, string EventId)> records)
    {
        lock (_lock)
        {
            foreach (var (_, _, eventId) in records)
            {
                if (_eventIds.TryGetValue(eventId, out var slot))
                {
                    RemoveLocked(slot);
                }
            }
        }
    }

    /// <summary>
    /// Starts a flush of every record listed now (the writer, before it stores its next group): their stream index rows
    /// sorted by stream (ordinal) then sequence, their event id rows by event id, written a slice per commit. The flush
    /// before it must be done (<see cref="Flushed"/>): the new one reuses its lists.
    /// </summary>
    public FlushGeneration Begin()
    {
        lock (_lock)
        {
            var streams = _flushStreams;
            var eventIds = _flushEventIds;
            streams.Clear();
            eventIds.Clear();
            streams.EnsureCapacity(_eventIds.Count);
            eventIds.EnsureCapacity(_eventIds.Count);
            var through = 0L;
            for (var i = 0; i < _used; i++)
            {
                ref readonly var slot = ref _slots[i];
                if (!slot.Removed)
                {
                    streams.Add((slot.Stream, slot.Sequence, slot.EventId));
                    eventIds.Add((slot.EventId, slot.Sequence));
                    through = Math.Max(through, slot.Sequence);
                }
            }

            streams.Sort(static (a, b) => string.CompareOrdinal(a.Stream, b.Stream) is var byStream and not 0 ? byStream : a.Sequence.CompareTo(b.Sequence));
            eventIds.Sort(static (a, b) => string.CompareOrdinal(a.EventId, b.EventId));
            return new FlushGeneration(streams, eventIds, through, _used, _removals);
        }
    }

    /// <summary>
    /// Whether no record was taken out since <paramref name="flush"/> began, so that every one of its rows is still listed.
    /// Asked by the writer inside its transaction, where no erasure can take any (they take them inside their own).
    /// </summary>
    public bool NoneRemovedSince(FlushGeneration flush)
    {
        lock (_lock)
        {
            return _removals == flush.RemovalsAtBegin;
        }
    }

    /// <summary>Whether a record is still listed (not erased since a flush began): a flush writes rows of those only.</summary>
    public bool IsListed(string eventId, long sequence)
    {
        lock (_lock)
        {
            return _eventIds.TryGetValue(eventId, out var slot) && _slots[slot].Sequence == sequence;
        }
    }

    /// <summary>
    /// After the commit that wrote a flush's last slice: its records are in the tables, and everything at or below its
    /// <see cref="FlushGeneration.Through"/> with them. Records listed since it began stay (new ones, and any an erasure
    /// that did not commit gave back).
    /// </summary>
    public void Flushed(FlushGeneration flush)
    {
        lock (_lock)
        {
            // The records that stay move to the front of the array in order, then are listed again from there (each slot
            // read before AddLocked writes the same index), so a flush allocates nothing: a list of them cost about 24
            // bytes for each record appended while the flush was under way.
            var kept = 0;
            for (var i = 0; i < _used; i++)
            {
                ref readonly var slot = ref _slots[i];
                if (!slot.Removed && (i >= flush.Watermark || slot.Sequence > flush.Through))
                {
                    _slots[kept++] = slot;
                }
            }

            Array.Clear(_slots, kept, _used - kept);
            _used = 0;
            // The flush's lists are kept for the next one, not its strings: they go with its records.
            _flushStreams.Clear();
            _flushEventIds.Clear();
            _newestOfStream.Clear();
            _eventIds.Clear();
            for (var i = 0; i < kept; i++)
            {
                var slot = _slots[i];
                AddLocked(slot.Stream, slot.Sequence, slot.EventId);
            }

            _indexedThrough = Math.Max(_indexedThrough, flush.Through);
            _committedThrough = Math.Max(_committedThrough, flush.Through);
        }
    }

    /// <summary>One stream's records after <paramref name="afterSequence"/>, in order, and what the tables hold at this moment.</summary>
    public long[] Read(string stream, long afterSequence, out long indexedThrough)
    {
        lock (_lock)
        {
            indexedThrough = _indexedThrough;
            if (!_newestOfStream.TryGetValue(stream, out var newest))
            {
                return [];
            }

            var sequences = new List<long>();
            for (var i = newest; i >= 0; i = _slots[i].Previous)
            {
                if (!_slots[i].Removed && _slots[i].Sequence > afterSequence)
                {
                    sequences.Add(_slots[i].Sequence);
                }
            }

            sequences.Sort();
            return [.. sequences];
        }
    }

    /// <summary>Streams with records here, and what the tables hold at this moment.</summary>
    public HashSet<string> Streams(out long indexedThrough)
    {
        lock (_lock)
        {
            indexedThrough = _indexedThrough;
            return [.. _newestOfStream.Keys];
        }
    }

    /// <summary>Records here of streams starting with <paramref name="prefix"/> (ordinal), and what the tables hold.</summary>
    public long CountOf(string prefix, out long indexedThrough)
    {
        lock (_lock)
        {
            indexedThrough = _indexedThrough;
            long count = 0;
            for (var i = 0; i < _used; i++)
            {
                if (!_slots[i].Removed && _slots[i].Stream.StartsWith(prefix, StringComparison.Ordinal))
                {
                    count++;
                }
            }

            return count;
        }
    }

    /// <summary>Which of <paramref name="eventIds"/> are here and committed, and what the tables hold at this moment.</summary>
    public HashSet<string> CommittedEventIds(IEnumerable<string> eventIds, out long indexedThrough)
    {
        lock (_lock)
        {
            indexedThrough = _indexedThrough;
            var found = new HashSet<string>(StringComparer.Ordinal);
            foreach (var eventId in eventIds)
            {
                if (_eventIds.TryGetValue(eventId, out var slot) && _slots[slot].Sequence <= _committedThrough)
                {
                    found.Add(eventId);
                }
            }

            return found;
        }
    }

    /// <summary>Takes out one stream's records (an erasure, inside its write transaction).</summary>
    public List<(string Stream, long Sequence, string EventId)> Remove(string stream)
    {
        lock (_lock)
        {
            var removed = new List<(string Stream, long Sequence, string EventId)>();
            if (_newestOfStream.TryGetValue(stream, out var newest))
            {
                for (var i = newest; i >= 0; i = _slots[i].Previous)
                {
                    if (!_slots[i].Removed)
                    {
                        removed.Add((stream, _slots[i].Sequence, _slots[i].EventId));
                        RemoveLocked(i);
                    }
                }
            }

            return removed;
        }
    }

    /// <summary>Takes out the given records wherever they are (an erasure, inside its write transaction).</summary>
    public List<(string Stream, long Sequence, string EventId)> Remove(IReadOnlySet<long> sequences)
    {
        lock (_lock)
        {
            var removed = new List<(string Stream, long Sequence, string EventId)>();
            for (var i = 0; i < _used; i++)
            {
                ref readonly var slot = ref _slots[i];
                if (!slot.Removed && sequences.Contains(slot.Sequence))
                {
                    removed.Add((slot.Stream, slot.Sequence, slot.EventId));
                    RemoveLocked(i);
                }
            }

            return removed;
        }
    }

    private void AddLocked(string stream, long sequence, string eventId)
    {
        if (_used == _slots.Length)
        {
            Array.Resize(ref _slots, Math.Max(16, _slots.Length * 2));
        }

        var previous = _newestOfStream.TryGetValue(stream, out var newest) ? newest : -1;
        _slots[_used] = new Slot(stream, eventId, sequence, previous);
        _newestOfStream[stream] = _used;
        _eventIds[eventId] = _used;
        _used++;
    }

    // Marks a slot removed; a stream whose slots are all removed is no longer listed.
    private void RemoveLocked(int index)
    {
        ref var slot = ref _slots[index];
        slot.Removed = true;
        _removals++;
        _eventIds.Remove(slot.EventId);
        for (var i = _newestOfStream[slot.Stream]; i >= 0; i = _slots[i].Previous)
        {
            if (!_slots[i].Removed)
            {
                return;
            }
        }

        _newestOfStream.Remove(slot.Stream);
    }

    private struct Slot(string stream, string eventId, long sequence, int previous)
    {
        public readonly string Stream = stream;
        public readonly string EventId = eventId;
        public readonly long Sequence = sequence;
        public readonly int Previous = previous;
        public bool Removed;
    }
}

/// <summary>
/// One flush of the index tail, written a slice per commit so that no commit carries all of it: the rows to write, sorted,
/// how far the committed slices reached, and what the flush covers once its last slice commits.
/// </summary>
internal sealed class FlushGeneration(
    List<(string Stream, long Sequence, string EventId)> streams, List<(string EventId, long Sequence)> eventIds, long through, int watermark, long removalsAtBegin)
{
    /// <summary>Stream index rows, sorted by stream then sequence (with each record's event id, to see it is still listed).</summary>
    public List<(string Stream, long Sequence, string EventId)> Streams { get; } = streams;

    /// <summary>Event id rows, sorted by event id.</summary>
    public List<(string EventId, long Sequence)> EventIds { get; } = eventIds;

    /// <summary>The largest sequence number among its records.</summary>
    public long Through { get; } = through;

    /// <summary>The tail's slots it took: those before this index.</summary>
    public int Watermark { get; } = watermark;

    /// <summary>How many records the tail had taken out when it began (see <see cref="IndexTail.NoneRemovedSince"/>).</summary>
    public long RemovalsAtBegin { get; } = removalsAtBegin;

    /// <summary>Stream index rows written by committed slices.</summary>
    public int StreamsDone { get; private set; }

    /// <summary>Event id rows written by committed slices.</summary>
    public int EventIdsDone { get; private set; }

    public bool Done => StreamsDone == Streams.Count && EventIdsDone == EventIds.Count;

    /// <summary>A slice committed: it wrote the rows up to these positions.</summary>
    public void Advance((int Streams, int EventIds) reached) => (StreamsDone, EventIdsDone) = reached;
}
