using Npgsql;

namespace Segmentation.Storage.Postgres.Tests;

/// <summary>ETag fencing between silos, and snapshots across reopening.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresSnapshotStoreBehaviourTests(PostgresFixture postgres) : IAsyncLifetime
{
    private readonly NpgsqlDataSource _dataSource = postgres.NewDataSource();
    private readonly NpgsqlDataSource _otherSilo = postgres.NewDataSource();
    private readonly PostgresStorageOptions _options = postgres.NewOptions();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await _otherSilo.DisposeAsync();
    }

    [Fact]
    public async Task TwoSilos_WritingFromTheSameETag_OneWins_AndTheOtherSeesTheWinnersETag()
    {
        var a = await PostgresSnapshotStore.OpenAsync(_dataSource, _options);
        var b = await PostgresSnapshotStore.OpenAsync(_otherSilo, _options);
        var etag = await a.WriteAsync("user/1", new byte[] { 0 }, 1, null, CancellationToken.None);

        // Both activations loaded the same snapshot (a membership change left two for a moment).
        Assert.Equal(etag, (await b.ReadAsync("user/1", CancellationToken.None))!.ETag);
        var winner = await b.WriteAsync("user/1", new byte[] { 2 }, 2, etag, CancellationToken.None);
        var stale = await Assert.ThrowsAsync<InconsistentStateException>(() => a.WriteAsync("user/1", new byte[] { 1 }, 2, etag, CancellationToken.None));

        Assert.Equal((etag, winner), (stale.ExpectedETag, stale.ActualETag));
        Assert.Equal(new byte[] { 2 }, (await a.ReadAsync("user/1", CancellationToken.None))!.Data.ToArray());
    }

    [Fact]
    public async Task TwoSilos_CreatingTheSameKey_OneWins()
    {
        var a = await PostgresSnapshotStore.OpenAsync(_dataSource, _options);
        var b = await PostgresSnapshotStore.OpenAsync(_otherSilo, _options);
        var writes = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            try
            {
                await (i % 2 == 0 ? a : b).WriteAsync("model/current", new[] { (byte)i }, i, null, CancellationToken.None);
                return true;
            }
            catch (InconsistentStateException)
            {
                return false;
            }
        }));
        Assert.Equal(1, (await Task.WhenAll(writes)).Count(won => won));
    }

    [Fact]
    public async Task Snapshots_SurviveReopening_WithTheirETags()
    {
        var store = await PostgresSnapshotStore.OpenAsync(_dataSource, _options);
        var large = Enumerable.Range(0, 1 << 20).Select(i => (byte)i).ToArray(); // a published model is megabytes
        var etag = await store.WriteAsync("k", large, 7, null, CancellationToken.None);

        NpgsqlConnection.ClearAllPools();
        var reopened = await PostgresSnapshotStore.OpenAsync(_otherSilo, _options);
        var snapshot = await reopened.ReadAsync("k", CancellationToken.None);
        Assert.Equal((7L, etag), (snapshot!.Sequence, snapshot.ETag));
        Assert.Equal(large, snapshot.Data.ToArray());
        await reopened.WriteAsync("k", new byte[] { 10 }, 8, etag, CancellationToken.None);
    }
}
