namespace Segmentation.Storage.Tests;

/// <summary>The <see cref="ISnapshotStore"/> contract: ETag fencing. Subclass per implementation.</summary>
public abstract class SnapshotStoreConformanceTests : IAsyncLifetime
{
    private ISnapshotStore _store = null!;

    protected ISnapshotStore Store => _store;

    protected abstract Task<ISnapshotStore> CreateAsync();

    public async Task InitializeAsync() => _store = await CreateAsync();

    public virtual async Task DisposeAsync()
    {
        if (_store is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }

    [Fact]
    public async Task MissingKey_ReadsNull() => Assert.Null(await Store.ReadAsync("nope", CancellationToken.None));

    [Fact]
    public async Task FirstWrite_WithNullETag_ThenRead()
    {
        var etag = await Store.WriteAsync("k", new byte[] { 1, 2, 3 }, 42, null, CancellationToken.None);
        var snapshot = await Store.ReadAsync("k", CancellationToken.None);
        Assert.NotNull(snapshot);
        Assert.Equal(new byte[] { 1, 2, 3 }, snapshot.Data.ToArray());
        Assert.Equal((42L, etag), (snapshot.Sequence, snapshot.ETag));
    }

    [Fact]
    public async Task Write_WithTheCurrentETag_ReturnsANewOne()
    {
        var first = await Store.WriteAsync("k", new byte[] { 1 }, 1, null, CancellationToken.None);
        var second = await Store.WriteAsync("k", new byte[] { 2 }, 2, first, CancellationToken.None);
        Assert.NotEqual(first, second);
        Assert.Equal(2, (await Store.ReadAsync("k", CancellationToken.None))!.Sequence);
    }

    [Fact]
    public async Task StaleETag_IsInconsistentState_AndChangesNothing()
    {
        var first = await Store.WriteAsync("k", new byte[] { 1 }, 1, null, CancellationToken.None);
        var second = await Store.WriteAsync("k", new byte[] { 2 }, 2, first, CancellationToken.None);

        var stale = await Assert.ThrowsAsync<InconsistentStateException>(() => Store.WriteAsync("k", new byte[] { 3 }, 3, first, CancellationToken.None));
        Assert.Equal(second, stale.ActualETag);
        var again = await Assert.ThrowsAsync<InconsistentStateException>(() => Store.WriteAsync("k", new byte[] { 3 }, 3, null, CancellationToken.None));
        Assert.Equal(second, again.ActualETag);
        var snapshot = await Store.ReadAsync("k", CancellationToken.None);
        Assert.Equal(new byte[] { 2 }, snapshot!.Data.ToArray());
        Assert.Equal(2L, snapshot.Sequence);
    }

    [Fact]
    public async Task WriteWithAnETag_ToAMissingKey_IsInconsistentState()
    {
        var error = await Assert.ThrowsAsync<InconsistentStateException>(() => Store.WriteAsync("k", new byte[] { 1 }, 1, "made-up", CancellationToken.None));
        Assert.Null(error.ActualETag);
    }

    [Fact]
    public async Task ConcurrentWriters_WithTheSameETag_OnlyOneWins()
    {
        var etag = await Store.WriteAsync("k", new byte[] { 0 }, 0, null, CancellationToken.None);
        var writers = Enumerable.Range(1, 8).Select(i => Task.Run(async () =>
        {
            try
            {
                await Store.WriteAsync("k", new[] { (byte)i }, i, etag, CancellationToken.None);
                return true;
            }
            catch (InconsistentStateException)
            {
                return false;
            }
        }));
        Assert.Equal(1, (await Task.WhenAll(writers)).Count(won => won));
    }

    [Fact]
    public async Task Delete_NeedsTheCurrentETag()
    {
        var etag = await Store.WriteAsync("k", new byte[] { 1 }, 1, null, CancellationToken.None);
        await Assert.ThrowsAsync<InconsistentStateException>(() => Store.DeleteAsync("k", "stale", CancellationToken.None));
        await Store.DeleteAsync("k", etag, CancellationToken.None);
        Assert.Null(await Store.ReadAsync("k", CancellationToken.None));
    }
}
