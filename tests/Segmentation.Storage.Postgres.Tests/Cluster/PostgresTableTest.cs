using Npgsql;

namespace Segmentation.Storage.Postgres.Tests.Cluster;

/// <summary>
/// What the cluster-table tests share: a data source and schema of their own on the collection's PostgreSQL, disposed
/// after the class's tests, and the instant their rows start from.
/// </summary>
public abstract class PostgresTableTest(PostgresFixture fixture) : IAsyncLifetime
{
    protected static readonly DateTime Start = new(2026, 12, 1, 8, 0, 0, DateTimeKind.Utc);

    protected NpgsqlDataSource DataSource { get; } = fixture.NewDataSource();

    protected PostgresStorageOptions Options { get; } = fixture.NewOptions();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await DataSource.DisposeAsync();
}
