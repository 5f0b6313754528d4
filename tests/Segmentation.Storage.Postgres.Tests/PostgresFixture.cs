using Npgsql;
using Segmentation.Testing;

namespace Segmentation.Storage.Postgres.Tests;

/// <summary>
/// One PostgreSQL server for every test of this assembly (xUnit runs the tests of one collection one at a time, so a
/// test that crashes the server disturbs no other). Each test gets its own schema, so every store starts empty. When
/// PostgreSQL is not installed, every test fails with the message to run scripts/install-deps.sh.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private LocalPostgres? _server;
    private int _schemas;

    internal LocalPostgres Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture did not start.");

    public async Task InitializeAsync() => _server = await LocalPostgres.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>A new data source on the test database (dispose it after the stores that use it).</summary>
    public NpgsqlDataSource NewDataSource() => NpgsqlDataSource.Create(Server.ConnectionString);

    /// <summary>Options with a schema no other test uses.</summary>
    public PostgresStorageOptions NewOptions(PostgresBulkInsert bulkInsert = PostgresBulkInsert.Copy) =>
        new() { Schema = $"test_{Interlocked.Increment(ref _schemas)}_{Guid.NewGuid():N}", BulkInsert = bulkInsert };
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL";
}
