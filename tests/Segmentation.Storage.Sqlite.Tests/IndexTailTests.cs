namespace Segmentation.Storage.Sqlite.Tests;

public sealed class IndexTailTests
{
    [Fact]
    public void AFlushListsItsStreamRows_AsOneSortOfThemAllWould_AfterErasuresGiveRecordsBack()
    {
        // Many records per stream, interleaved; erasures that take streams out, some given back after newer records of
        // the same stream (Restore lists them after those: out of order in their chain), and records taken by sequence.
        // The rows a flush lists by stream must be those of every listed record, sorted by stream (ordinal) then sequence.
        var random = new Random(7);
        for (var round = 0; round < 20; round++)
        {
            var tail = new IndexTail(0, 16);
            var sequence = 1L;
            for (var i = random.Next(1, 3_000); i > 0; i--)
            {
                tail.Add($"t/user-{random.Next(300)}", sequence++, $"e-{sequence}");
            }

            for (var k = 0; k < 6; k++)
            {
                var taken = tail.Remove($"t/user-{random.Next(300)}");
                for (var i = 0; i < 20; i++)
                {
                    tail.Add($"t/user-{random.Next(300)}", sequence++, $"e-{sequence}");
                }

                if (k % 2 == 0)
                {
                    tail.Restore(taken);
                }
            }

            tail.Remove(new HashSet<long>(Enumerable.Range(0, 30).Select(_ => (long)random.Next(1, (int)sequence))));

            var flush = tail.Begin();
            var expected = flush.Streams.ToList();
            expected.Sort(static (a, b) => string.CompareOrdinal(a.Stream, b.Stream) is var byStream and not 0 ? byStream : a.Sequence.CompareTo(b.Sequence));
            Assert.Equal(expected, flush.Streams);
            Assert.Equal(flush.EventIds.Select(e => e.Sequence).Order(), flush.Streams.Select(s => s.Sequence).Order());
            Assert.Equal(tail.Count, flush.Streams.Count);
        }
    }
}
