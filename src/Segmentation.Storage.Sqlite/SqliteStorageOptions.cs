using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Segmentation.Storage.Sqlite;

/// <summary>Settings of the SQLite stores.</summary>
public sealed class SqliteStorageOptions
{
    /// <summary>
    /// SQLite <c>synchronous</c>: <c>FULL</c> (default) fsyncs the WAL on every commit, so an acknowledged event survives
    /// power loss; <c>NORMAL</c> survives a process crash but may lose the last commits on power loss.
    /// </summary>
    public string Synchronous { get; set; } = "FULL";

    /// <summary>Most records one group-commit transaction takes.</summary>
    public int MaxRecordsPerCommit { get; set; } = 20_000;

    internal string SynchronousPragma => Synchronous.ToUpperInvariant() switch
    {
        "FULL" => "FULL",
        "NORMAL" => "NORMAL",
        "EXTRA" => "EXTRA",
        _ => throw new ArgumentException($"Synchronous must be FULL, NORMAL or EXTRA; got '{Synchronous}'."),
    };

    // Built once per file: readers open a pooled connection per read (two per user grain activation), and building the
    // string through SqliteConnectionStringBuilder each time was a good part of the activation's allocations.
    private static readonly ConcurrentDictionary<string, string> s_connectionStrings = new(StringComparer.Ordinal);

    internal static string ConnectionString(string path) => s_connectionStrings.GetOrAdd(path, static p => new SqliteConnectionStringBuilder
    {
        DataSource = p,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Cache = SqliteCacheMode.Private,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString());

    /// <summary>A pooled connection for reads (WAL mode is a property of the file, set by the writer).</summary>
    internal static async Task<SqliteConnection> OpenReaderAsync(string path, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString(path));
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    /// <summary>A writer connection: WAL, the configured synchronous level, a busy timeout.</summary>
    internal async Task<SqliteConnection> OpenAsync(string path, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString(path));
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={SynchronousPragma}; PRAGMA busy_timeout=30000;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }
}
