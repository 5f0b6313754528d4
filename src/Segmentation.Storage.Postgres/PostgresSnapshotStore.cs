using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Segmentation.Storage.Postgres;

/// <summary>
/// Snapshots on PostgreSQL: table <c>snapshots(key PRIMARY KEY, data, seq, etag)</c> of <see cref="PostgresSchema"/>.
/// Holds grain snapshots and every other derived state kept under a snapshot key (published segmentation models, rule
/// segments, the clock checkpoint), so all of it survives the loss of a silo.
/// </summary>
/// <remarks>
/// Every write is one compare-and-set statement on the ETag: <c>INSERT ... ON CONFLICT DO NOTHING</c> for a first
/// write, <c>UPDATE ... WHERE etag = expected</c> otherwise. Two writers (two silos) racing on one key serialize on the
/// row lock; under READ COMMITTED the second re-checks its WHERE clause against the row the first committed, finds a
/// different ETag and changes nothing, so exactly one wins. Writes commit with the session's
/// <c>synchronous_commit</c> (durable with PostgreSQL's default). ETags are random, so a writer cannot guess the next
/// one. Thread-safe: each call takes a pooled connection of the data source.
/// </remarks>
public sealed class PostgresSnapshotStore : ISnapshotStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _schema;

    private PostgresSnapshotStore(NpgsqlDataSource dataSource, PostgresStorageOptions options)
    {
        _dataSource = dataSource;
        _schema = options.QuotedSchema;
    }

    /// <summary>
    /// Opens the store in <paramref name="dataSource"/>'s database (creating or migrating its tables). The data source
    /// stays the caller's to dispose.
    /// </summary>
    /// <exception cref="NpgsqlException">PostgreSQL cannot be reached, or refused the schema.</exception>
    public static async Task<PostgresSnapshotStore> OpenAsync(
        NpgsqlDataSource dataSource, PostgresStorageOptions? options = null, ILogger<PostgresSnapshotStore>? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        options ??= new PostgresStorageOptions();
        await PostgresSchema.EnsureCreatedAsync(dataSource, options, logger, cancellationToken);
        return new PostgresSnapshotStore(dataSource, options);
    }

    /// <inheritdoc />
    public async Task<Snapshot?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"SELECT data, seq, etag FROM {_schema}.snapshots WHERE key = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new Snapshot(reader.GetFieldValue<byte[]>(0), reader.GetInt64(1), reader.GetString(2))
            : null;
    }

    /// <inheritdoc />
    public async Task<string> WriteAsync(string key, ReadOnlyMemory<byte> data, long sequence, string? expectedETag, CancellationToken cancellationToken)
    {
        var etag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        await using var command = _dataSource.CreateCommand(expectedETag is null
            ? $"INSERT INTO {_schema}.snapshots (key, data, seq, etag) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING"
            : $"UPDATE {_schema}.snapshots SET data = $2, seq = $3, etag = $4 WHERE key = $1 AND etag = $5");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        command.Parameters.Add(new NpgsqlParameter<ReadOnlyMemory<byte>> { TypedValue = data });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = sequence });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = etag });
        if (expectedETag is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = expectedETag });
        }

        if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
        {
            return etag;
        }

        throw new InconsistentStateException(key, expectedETag, (await ReadAsync(key, cancellationToken))?.ETag);
    }

    /// <inheritdoc />
    /// <remarks>Then vacuums the table, so neither the deleted row nor older versions of it stay as dead tuples.</remarks>
    public async Task DeleteAsync(string key, string expectedETag, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"DELETE FROM {_schema}.snapshots WHERE key = $1 AND etag = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = expectedETag });
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            throw new InconsistentStateException(key, expectedETag, (await ReadAsync(key, cancellationToken))?.ETag);
        }

        await using var vacuum = _dataSource.CreateCommand($"VACUUM {_schema}.snapshots");
        await vacuum.ExecuteNonQueryAsync(cancellationToken);
    }
}
