using Npgsql;
using Segmentation.Storage.Tests;

namespace Segmentation.Storage.Postgres.Tests;

/// <summary>
/// The event-log contract on PostgreSQL with one bulk path and number of group commits in flight (the subclasses below);
/// each test gets its own data source, disposed after the log.
/// </summary>
public abstract class PostgresEventLogContract(PostgresFixture postgres, PostgresBulkInsert bulkInsert, int commitsInFlight) : EventLogConformanceTests
{
    private readonly NpgsqlDataSource _dataSource = postgres.NewDataSource();

    protected override async Task<IEventLog> CreateAsync()
    {
        var options = postgres.NewOptions(bulkInsert);
        options.CommitsInFlight = commitsInFlight;
        return await PostgresEventLog.OpenAsync(_dataSource, options);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _dataSource.DisposeAsync();
    }
}

/// <summary>The event-log contract on PostgreSQL, commits written as one multi-row (unnest) statement.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresEventLogTests(PostgresFixture postgres) : PostgresEventLogContract(postgres, PostgresBulkInsert.Unnest, commitsInFlight: 1);

/// <summary>The event-log contract on PostgreSQL, commits written by binary COPY through a staging table.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresCopyEventLogTests(PostgresFixture postgres) : PostgresEventLogContract(postgres, PostgresBulkInsert.Copy, commitsInFlight: 1);

/// <summary>The event-log contract on PostgreSQL with two group commits in flight (two writer connections).</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresTwoLaneEventLogTests(PostgresFixture postgres) : PostgresEventLogContract(postgres, PostgresBulkInsert.Copy, commitsInFlight: 2);

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
