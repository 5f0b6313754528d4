using System.Text;

namespace Segmentation.Storage.Tests;

/// <summary>
/// The <see cref="IEventLog"/> contract. Every implementation runs this suite by subclassing it and saying how to
/// make a fresh, empty log (and how to reopen it, for durability).
/// </summary>
public abstract class EventLogConformanceTests : IAsyncLifetime
{
    private IEventLog _log = null!;

    protected IEventLog Log => _log;

    /// <summary>A fresh, empty log.</summary>
    protected abstract Task<IEventLog> CreateAsync();

    public async Task InitializeAsync() => _log = await CreateAsync();

    public virtual async Task DisposeAsync()
    {
        if (_log is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }

    protected static LogRecord Record(string stream, string id, string payload = "") =>
        new(stream, id, Encoding.UTF8.GetBytes(payload.Length > 0 ? payload : id));

    private static async Task<List<T>> ListAsync<T>(IAsyncEnumerable<T> records)
    {
        var list = new List<T>();
        await foreach (var record in records)
        {
            list.Add(record);
        }

        return list;
    }

    [Fact]
    public async Task Append_ReturnsIncreasingSequences_InRecordOrder()
    {
        var first = await Log.AppendAsync([Record("a", "1"), Record("b", "2"), Record("a", "3")], CancellationToken.None);
        var second = await Log.AppendAsync([Record("a", "4")], CancellationToken.None);

        Assert.All(first, r => Assert.Equal(AppendOutcome.Appended, r.Outcome));
        Assert.True(first[0].Sequence > 0);
        Assert.True(first[0].Sequence < first[1].Sequence && first[1].Sequence < first[2].Sequence);
        Assert.True(second[0].Sequence > first[2].Sequence);
    }

    [Fact]
    public async Task ReadStream_ReturnsTheStreamsRecords_AfterASequence_InOrder()
    {
        var results = await Log.AppendAsync([Record("a", "1", "p1"), Record("b", "2"), Record("a", "3", "p3"), Record("a", "4", "p4")], CancellationToken.None);

        var all = await ListAsync(Log.ReadStreamAsync("a", 0, CancellationToken.None));
        var tail = await ListAsync(Log.ReadStreamAsync("a", results[2].Sequence, CancellationToken.None));

        Assert.Equal(["1", "3", "4"], all.Select(r => r.EventId));
        Assert.Equal(["p1", "p3", "p4"], all.Select(r => Encoding.UTF8.GetString(r.Payload.Span)));
        Assert.Equal(["4"], tail.Select(r => r.EventId));
        Assert.Empty(await ListAsync(Log.ReadStreamAsync("nobody", 0, CancellationToken.None)));
    }

    [Fact]
    public async Task Duplicates_FromEarlierCalls_AreReported_AndNotStored()
    {
        await Log.AppendAsync([Record("a", "1", "original")], CancellationToken.None);
        var again = await Log.AppendAsync([Record("a", "1", "changed"), Record("a", "2")], CancellationToken.None);

        Assert.Equal(AppendOutcome.Duplicate, again[0].Outcome);
        Assert.Equal(AppendOutcome.Appended, again[1].Outcome);
        var stored = await ListAsync(Log.ReadStreamAsync("a", 0, CancellationToken.None));
        Assert.Equal("original", Encoding.UTF8.GetString(stored[0].Payload.Span));
        Assert.Equal(2, await Log.CountAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AppendValue_StoresAndReports_AsAppendDoes()
    {
        // The ValueTask form (what a user grain awaits) against the Task form's records: one contract, one store.
        await Log.AppendAsync([Record("a", "1", "original")], CancellationToken.None);
        var again = await Log.AppendValueAsync([Record("a", "1", "changed"), Record("a", "2"), Record("b", "2")], CancellationToken.None);
        var racing = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () => await Log.AppendValueAsync([Record("c", "race")], CancellationToken.None))));

        Assert.Equal([AppendOutcome.Duplicate, AppendOutcome.Appended, AppendOutcome.Duplicate], again.Select(r => r.Outcome));
        Assert.Equal(1, racing.Count(r => r[0].Outcome == AppendOutcome.Appended));
        Assert.Empty(await Log.AppendValueAsync([], CancellationToken.None));
        var stored = await ListAsync(Log.ReadStreamAsync("a", 0, CancellationToken.None));
        Assert.Equal(["1", "2"], stored.Select(r => r.EventId));
        Assert.Equal("original", Encoding.UTF8.GetString(stored[0].Payload.Span));
        Assert.Equal(again[1].Sequence, stored[1].Sequence);
        Assert.Equal(3, await Log.CountAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AnAppendAwaitedOnAScheduler_ResumesOnThatScheduler()
    {
        // A user grain awaits its append inside its turn, on its activation's scheduler, and must resume there (never on
        // the log's writer): awaited in either form, the continuation runs on the scheduler it was awaited on.
        var exclusive = new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler;
        var resumedOn = await Task.Factory.StartNew(async () =>
        {
            await Log.AppendValueAsync([Record("a", "v")], CancellationToken.None);
            var afterValue = TaskScheduler.Current;
            await Log.AppendAsync([Record("a", "t")], CancellationToken.None);
            return (AfterValue: afterValue, AfterTask: TaskScheduler.Current);
        }, CancellationToken.None, TaskCreationOptions.None, exclusive).Unwrap().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Same(exclusive, resumedOn.AfterValue);
        Assert.Same(exclusive, resumedOn.AfterTask);
    }

    [Fact]
    public async Task Duplicates_WithinOneCall_AndAcrossStreams_AreReported()
    {
        var results = await Log.AppendAsync([Record("a", "x"), Record("a", "x"), Record("b", "x")], CancellationToken.None);
        Assert.Equal([AppendOutcome.Appended, AppendOutcome.Duplicate, AppendOutcome.Duplicate], results.Select(r => r.Outcome));
        Assert.Equal(1, await Log.CountAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ConcurrentAppends_OfTheSameId_StoreItOnce()
    {
        var calls = Enumerable.Range(0, 16).Select(_ => Task.Run(() => Log.AppendAsync([Record("a", "race")], CancellationToken.None))).ToArray();
        var results = await Task.WhenAll(calls);
        Assert.Equal(1, results.Count(r => r[0].Outcome == AppendOutcome.Appended));
        Assert.Equal(1, await Log.CountAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ManyConcurrentCallers_AreAllAcknowledged_AndAllReadable()
    {
        const int Callers = 32;
        const int PerCaller = 50;
        var calls = Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            var results = new List<AppendResult>();
            for (var i = 0; i < PerCaller; i += 10)
            {
                var batch = Enumerable.Range(i, 10).Select(j => Record($"s{c}", $"{c}-{j}")).ToList();
                results.AddRange(await Log.AppendAsync(batch, CancellationToken.None));
            }

            return results;
        })).ToArray();
        var all = (await Task.WhenAll(calls)).SelectMany(r => r).ToList();

        Assert.All(all, r => Assert.Equal(AppendOutcome.Appended, r.Outcome));
        Assert.Equal(Callers * PerCaller, all.Select(r => r.Sequence).Distinct().Count());
        Assert.Equal(Callers * PerCaller, await Log.CountAsync(CancellationToken.None));
        var everything = await ListAsync(Log.ReadAllAsync(0, CancellationToken.None));
        Assert.Equal(everything.Select(r => r.Sequence).Order(), everything.Select(r => r.Sequence));
        var stream = await ListAsync(Log.ReadStreamAsync("s7", 0, CancellationToken.None));
        Assert.Equal(Enumerable.Range(0, PerCaller).Select(j => $"7-{j}"), stream.Select(r => r.EventId));
    }

    [Fact]
    public async Task ReadAll_AfterASequence_ReturnsTheRestInOrder()
    {
        var results = await Log.AppendAsync([Record("a", "1"), Record("b", "2"), Record("c", "3")], CancellationToken.None);
        var rest = await ListAsync(Log.ReadAllAsync(results[0].Sequence, CancellationToken.None));
        Assert.Equal(["2", "3"], rest.Select(r => r.EventId));
        Assert.Equal(["b", "c"], rest.Select(r => r.StreamId));
    }

    [Fact]
    public async Task CountByStreamPrefix_CountsOnlyThoseStreams()
    {
        await Log.AppendAsync(
            [Record("shop/a", "1"), Record("shop/b", "2"), Record("shop/a", "3"), Record("shop-2/a", "4"), Record("shop0", "5"), Record("sho/p", "6"), Record("other/shop/a", "7")],
            CancellationToken.None);

        Assert.Equal(3, await Log.CountAsync("shop/", CancellationToken.None));
        Assert.Equal(1, await Log.CountAsync("shop-2/", CancellationToken.None));
        Assert.Equal(0, await Log.CountAsync("none/", CancellationToken.None));
        Assert.Equal(7, await Log.CountAsync("", CancellationToken.None));
        Assert.Equal(7, await Log.CountAsync(CancellationToken.None));
    }

    [Fact]
    public async Task StreamIds_ListsEveryStreamOnce()
    {
        Assert.Empty(await ListAsync(Log.ReadStreamIdsAsync(CancellationToken.None)));
        await Log.AppendAsync([Record("b", "1"), Record("a", "2"), Record("b", "3"), Record("ü-é", "4")], CancellationToken.None);
        await Log.AppendAsync([Record("a", "2")], CancellationToken.None); // a duplicate adds nothing
        Assert.Equal(["a", "b", "ü-é"], (await ListAsync(Log.ReadStreamIdsAsync(CancellationToken.None))).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Contains_SaysWhichIdsAreStored()
    {
        await Log.AppendAsync(Enumerable.Range(0, 1200).Select(i => Record("a", $"id{i}")).ToList(), CancellationToken.None);
        var asked = Enumerable.Range(1100, 200).Select(i => $"id{i}").ToList();
        var found = await Log.ContainsAsync(asked, CancellationToken.None);
        Assert.Equal(100, found.Count);
        Assert.Contains("id1199", found);
        Assert.DoesNotContain("id1200", found);
    }

    [Fact]
    public async Task EmptyAppend_ReturnsNoResults() =>
        Assert.Empty(await Log.AppendAsync([], CancellationToken.None));

    [Fact]
    public async Task DeleteStream_RemovesOnlyThatStream_FromEveryRead_AndFreesItsIds()
    {
        var before = await Log.AppendAsync([Record("gone", "g1"), Record("kept", "k1"), Record("gone", "g2"), Record("kept", "k2")], CancellationToken.None);

        Assert.Equal(2, await Log.DeleteStreamAsync("gone", CancellationToken.None));

        Assert.Empty(await ListAsync(Log.ReadStreamAsync("gone", 0, CancellationToken.None)));
        Assert.Equal(["k1", "k2"], (await ListAsync(Log.ReadAllAsync(0, CancellationToken.None))).Select(r => r.EventId));
        Assert.Equal(["kept"], await ListAsync(Log.ReadStreamIdsAsync(CancellationToken.None)));
        Assert.Empty(await Log.ContainsAsync(["g1", "g2"], CancellationToken.None));
        Assert.Equal(2, await Log.CountAsync(CancellationToken.None));
        Assert.Equal(0, await Log.DeleteStreamAsync("gone", CancellationToken.None));

        // The id is free again: appended anew, with a sequence after every earlier one (sequences are never reused).
        var again = await Log.AppendAsync([Record("gone", "g1")], CancellationToken.None);
        Assert.Equal(AppendOutcome.Appended, again[0].Outcome);
        Assert.True(again[0].Sequence > before[^1].Sequence);
    }

    [Fact]
    public async Task Delete_BySequence_RemovesThoseRecords_AndSkipsUnknownOnes()
    {
        var results = await Log.AppendAsync([Record("a", "1"), Record("b", "2"), Record("a", "3"), Record("b", "4")], CancellationToken.None);

        var deleted = await Log.DeleteAsync([results[0].Sequence, results[3].Sequence, results[3].Sequence + 1_000], CancellationToken.None);

        Assert.Equal(2, deleted);
        Assert.Equal(["3"], (await ListAsync(Log.ReadStreamAsync("a", 0, CancellationToken.None))).Select(r => r.EventId));
        Assert.Equal(["2", "3"], (await ListAsync(Log.ReadAllAsync(0, CancellationToken.None))).Select(r => r.EventId));
        Assert.Equal(["2"], await Log.ContainsAsync(["1", "2", "4"], CancellationToken.None));
        Assert.Equal(0, await Log.DeleteAsync([], CancellationToken.None));
    }
}
