using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Segmentation.Storage.Sqlite;

/// <summary>
/// Snapshots on SQLite (WAL): <c>snapshots(key PRIMARY KEY, data, seq, etag)</c>. Writes are compare-and-set on the
/// ETag in one statement, on one writer connection; reads use pooled connections.
/// </summary>
public sealed class SqliteSnapshotStore : ISnapshotStore, IAsyncDisposable
{
    private readonly SqliteStorageOptions _options;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private const string ReadQuery = "SELECT data, seq, etag FROM snapshots WHERE key = $key";

    private readonly SqliteConnection _writer;
    private readonly SqliteReaderPool _readers;

    /// <summary>Opens (creating if needed) the store at <paramref name="path"/>.</summary>
    public SqliteSnapshotStore(string path, SqliteStorageOptions? options = null, ILogger<SqliteSnapshotStore>? logger = null)
    {
        _ = logger;
        _options = options ?? new SqliteStorageOptions();
        _writer = _options.OpenAsync(path, CancellationToken.None).GetAwaiter().GetResult();
        _readers = new SqliteReaderPool(path, Environment.ProcessorCount * 4);
        using var schema = _writer.CreateCommand();
        schema.CommandText = "CREATE TABLE IF NOT EXISTS snapshots (key TEXT PRIMARY KEY, data BLOB NOT NULL, seq INTEGER NOT NULL, etag TEXT NOT NULL)";
        schema.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public Task<Snapshot?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Every user grain activation reads her snapshot: a pooled connection with the statement prepared (see
        // SqliteReaderPool). SQLite reads are synchronous under Microsoft.Data.Sqlite's async methods anyway.
        var connection = _readers.Rent();
        try
        {
            var command = connection.Command(ReadQuery, "$key");
            command.Parameters[0].Value = key;
            using var reader = command.ExecuteReader();
            return Task.FromResult(reader.Read() ? Read(reader) : null);
        }
        finally
        {
            _readers.Return(connection);
        }
    }

    /// <inheritdoc />
    public async Task<string> WriteAsync(string key, ReadOnlyMemory<byte> data, long sequence, string? expectedETag, CancellationToken cancellationToken)
    {
        var etag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            await using var command = _writer.CreateCommand();
            command.CommandText = expectedETag is null
                ? "INSERT INTO snapshots (key, data, seq, etag) VALUES ($key, $data, $seq, $etag) ON CONFLICT (key) DO NOTHING"
                : "UPDATE snapshots SET data = $data, seq = $seq, etag = $etag WHERE key = $key AND etag = $expected";
            command.Parameters.AddWithValue("$key", key);
            command.Parameters.AddWithValue("$data", data.ToArray());
            command.Parameters.AddWithValue("$seq", sequence);
            command.Parameters.AddWithValue("$etag", etag);
            command.Parameters.AddWithValue("$expected", (object?)expectedETag ?? DBNull.Value);
            if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
            {
                return etag;
            }

            var actual = await ReadAsync(_writer, key, cancellationToken);
            throw new InconsistentStateException(key, expectedETag, actual?.ETag);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <inheritdoc />
    /// <remarks>The row's bytes are overwritten with zeros and the WAL truncated, so nothing of it stays in the files.</remarks>
    public async Task DeleteAsync(string key, string expectedETag, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            await using var command = _writer.CreateCommand();
            command.CommandText = "DELETE FROM snapshots WHERE key = $key AND etag = $expected";
            command.Parameters.AddWithValue("$key", key);
            command.Parameters.AddWithValue("$expected", expectedETag);
            if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                var actual = await ReadAsync(_writer, key, cancellationToken);
                throw new InconsistentStateException(key, expectedETag, actual?.ETag);
            }

            // The row's pages were zeroed (secure_delete); older copies of them may still be in the WAL: truncate it.
            await SqliteStorageOptions.TruncateWalAsync(_writer, cancellationToken);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Closes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        await _writeGate.WaitAsync();
        _readers.Dispose();
        await _writer.DisposeAsync();
        _writeGate.Dispose();
    }

    private static async Task<Snapshot?> ReadAsync(SqliteConnection connection, string key, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = ReadQuery;
        command.Parameters.AddWithValue("$key", key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static Snapshot Read(SqliteDataReader reader) => new((byte[])reader.GetValue(0), reader.GetInt64(1), reader.GetString(2));
}
