using Npgsql;
using Segmentation.Storage.Tests;

namespace Segmentation.Storage.Postgres.Tests;

/// <summary>The event-log contract on PostgreSQL, commits written as one multi-row (unnest) statement.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresEventLogTests(PostgresFixture postgres) : EventLogConformanceTests
{
    private readonly NpgsqlDataSource _dataSource = postgres.NewDataSource();

    protected override async Task<IEventLog> CreateAsync() => await PostgresEventLog.OpenAsync(_dataSource, postgres.NewOptions(PostgresBulkInsert.Unnest));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _dataSource.DisposeAsync();
    }
}

/// <summary>The event-log contract on PostgreSQL, commits written by binary COPY through a staging table.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresCopyEventLogTests(PostgresFixture postgres) : EventLogConformanceTests
{
    private readonly NpgsqlDataSource _dataSource = postgres.NewDataSource();

    protected override async Task<IEventLog> CreateAsync() => await PostgresEventLog.OpenAsync(_dataSource, postgres.NewOptions(PostgresBulkInsert.Copy));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _dataSource.DisposeAsync();
    }
}

/// <summary>The event-log contract on PostgreSQL with two group commits in flight (two writer connections).</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresTwoLaneEventLogTests(PostgresFixture postgres) : EventLogConformanceTests
{
    private readonly NpgsqlDataSource _dataSource = postgres.NewDataSource();

    protected override async Task<IEventLog> CreateAsync()
    {
        var options = postgres.NewOptions(PostgresBulkInsert.Copy);
        options.CommitsInFlight = 2;
        return await PostgresEventLog.OpenAsync(_dataSource, options);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _dataSource.DisposeAsync();
    }
}

/// <summary>The snapshot contract (ETag fencing) on PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresSnapshotStoreTests(PostgresFixture postgres) : SnapshotStoreConformanceTests
{
    private readonly NpgsqlDataSource _dataSource = postgres.NewDataSource();

    protected override async Task<ISnapshotStore> CreateAsync() => await PostgresSnapshotStore.OpenAsync(_dataSource, postgres.NewOptions());

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _dataSource.DisposeAsync();
    }
}
