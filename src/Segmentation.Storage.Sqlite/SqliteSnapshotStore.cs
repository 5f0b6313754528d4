using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Segmentation.Storage.Sqlite;

/// <summary>
/// Snapshots on SQLite (WAL): <c>snapshots(key PRIMARY KEY, data, seq, etag)</c>. Writes are compare-and-set on the
/// ETag, one statement each, made by one writer loop that commits every write waiting at that moment in one
/// transaction (group commit: one fsync for many snapshots, as when a silo deactivates its grains at shutdown); a write
/// whose ETag does not match fails alone and the others in its transaction still commit. Reads use pooled connections.
/// </summary>
public sealed class SqliteSnapshotStore : ISnapshotStore, IAsyncDisposable
{
    private const string ReadQuery = "SELECT data, seq, etag FROM snapshots WHERE key = $key";
    private const string InsertQuery = "INSERT INTO snapshots (key, data, seq, etag) VALUES ($key, $data, $seq, $etag) ON CONFLICT (key) DO NOTHING";
    private const string UpdateQuery = "UPDATE snapshots SET data = $data, seq = $seq, etag = $etag WHERE key = $key AND etag = $expected";
    private const string DeleteQuery = "DELETE FROM snapshots WHERE key = $key AND etag = $expected";

    // Most writes one transaction takes: bounds the time a commit holds the writer (snapshots are a few KB each).
    private const int MaxWritesPerCommit = 2_000;

    private readonly Channel<PendingChange> _queue = Channel.CreateUnbounded<PendingChange>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writerLoop;
    private readonly SqliteReaderPool _readers;
    private long _commits;

    /// <summary>Opens (creating if needed) the store at <paramref name="path"/> and starts its writer.</summary>
    public SqliteSnapshotStore(string path, SqliteStorageOptions? options = null, ILogger<SqliteSnapshotStore>? logger = null)
    {
        var writer = (options ?? new SqliteStorageOptions()).OpenAsync(path, CancellationToken.None).GetAwaiter().GetResult();
        _readers = new SqliteReaderPool(path, Environment.ProcessorCount * 4);
        using (var schema = writer.CreateCommand())
        {
            schema.CommandText = "CREATE TABLE IF NOT EXISTS snapshots (key TEXT PRIMARY KEY, data BLOB NOT NULL, seq INTEGER NOT NULL, etag TEXT NOT NULL)";
            schema.ExecuteNonQuery();
        }

        _writerLoop = Task.Run(() => WriteLoopAsync(writer, (ILogger?)logger ?? NullLogger.Instance));
    }

    /// <summary>Transactions committed so far by the writer (each holds one or more writes, or one delete).</summary>
    public long Commits => Interlocked.Read(ref _commits);

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
    /// <remarks>Cancellation is honoured until the write is queued; a queued write is committed or refused.</remarks>
    public async Task<string> WriteAsync(string key, ReadOnlyMemory<byte> data, long sequence, string? expectedETag, CancellationToken cancellationToken)
    {
        var change = new PendingChange(key, data.ToArray(), sequence, expectedETag, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        await EnqueueAsync(change, cancellationToken);
        return change.NewETag!;
    }

    /// <inheritdoc />
    /// <remarks>The row's bytes are overwritten with zeros and the WAL truncated, so nothing of it stays in the files.</remarks>
    public Task DeleteAsync(string key, string expectedETag, CancellationToken cancellationToken) =>
        EnqueueAsync(new PendingChange(key, null, 0, expectedETag, null), cancellationToken);

    /// <summary>Commits what is queued, then closes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writerLoop;
        _readers.Dispose();
    }

    private Task EnqueueAsync(PendingChange change, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!_queue.Writer.TryWrite(change))
        {
            throw new InvalidOperationException("The snapshot store is closed or its writer failed; nothing was written.");
        }

        return change.Completion.Task;
    }

    private async Task WriteLoopAsync(SqliteConnection connection, ILogger logger)
    {
        var group = new List<PendingChange>();
        try
        {
            await using (connection)
            {
                using var insert = new Statement(connection, InsertQuery, "$key", "$data", "$seq", "$etag");
                using var update = new Statement(connection, UpdateQuery, "$key", "$data", "$seq", "$etag", "$expected");
                using var delete = new Statement(connection, DeleteQuery, "$key", "$expected");
                using var read = new Statement(connection, ReadQuery, "$key");
                while (await _queue.Reader.WaitToReadAsync())
                {
                    group.Clear();
                    // Writes waiting now go in one transaction; a delete goes alone, as it truncates the WAL after.
                    while (group.Count < MaxWritesPerCommit && _queue.Reader.TryPeek(out var next)
                        && (group.Count == 0 || (!next.IsDelete && !group[0].IsDelete)))
                    {
                        _queue.Reader.TryRead(out _);
                        group.Add(next);
                    }

                    try
                    {
                        using (var transaction = connection.BeginTransaction())
                        {
                            foreach (var change in group)
                            {
                                change.Apply(change.IsDelete ? delete : change.ExpectedETag is null ? insert : update, read, transaction);
                            }

                            transaction.Commit();
                        }

                        Interlocked.Increment(ref _commits);
                        if (group[0].IsDelete && group[0].Refused is null)
                        {
                            // The row's pages were zeroed (secure_delete); older copies of them may still be in the WAL.
                            await SqliteStorageOptions.TruncateWalAsync(connection, CancellationToken.None);
                        }
                    }
                    catch (Exception ex)
                    {
                        SqliteLog.SnapshotCommitFailed(logger, group.Count, ex);
                        Fail(group, ex);
                        continue;
                    }

                    foreach (var change in group)
                    {
                        change.Complete();
                    }
                }
            }
        }
        catch (Exception ex)
        {
            // The writer itself broke: refuse new writes and fail every waiting caller, so none hangs.
            SqliteLog.SnapshotWriterFailed(logger, ex);
            _queue.Writer.TryComplete(ex);
            Fail(group, ex);
            while (_queue.Reader.TryRead(out var change))
            {
                change.Completion.TrySetException(ex);
            }
        }
    }

    private static void Fail(List<PendingChange> group, Exception exception)
    {
        foreach (var change in group)
        {
            change.Completion.TrySetException(exception);
        }
    }

    private static Snapshot Read(SqliteDataReader reader) => new((byte[])reader.GetValue(0), reader.GetInt64(1), reader.GetString(2));

    /// <summary>A prepared statement of the writer connection, its parameters bound by position.</summary>
    private sealed class Statement : IDisposable
    {
        public Statement(SqliteConnection connection, string text, params string[] parameters)
        {
            Command = connection.CreateCommand();
            Command.CommandText = text;
            foreach (var name in parameters)
            {
                Command.Parameters.Add(new SqliteParameter(name, null));
            }
        }

        public SqliteCommand Command { get; }

        public void Dispose() => Command.Dispose();
    }

    /// <summary>A write (with data) or a delete (without) waiting for the writer.</summary>
    private sealed class PendingChange(string key, byte[]? data, long sequence, string? expectedETag, string? newETag)
    {
        public string? ExpectedETag => expectedETag;

        public string? NewETag => newETag;

        public bool IsDelete => data is null;

        /// <summary>The refusal, when the stored ETag was not the expected one (set inside the transaction).</summary>
        public InconsistentStateException? Refused { get; private set; }

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Apply(Statement statement, Statement read, SqliteTransaction transaction)
        {
            var command = statement.Command;
            command.Transaction = transaction;
            command.Parameters[0].Value = key;
            if (data is null)
            {
                command.Parameters[1].Value = expectedETag;
            }
            else
            {
                command.Parameters[1].Value = data;
                command.Parameters[2].Value = sequence;
                command.Parameters[3].Value = newETag;
                if (expectedETag is not null)
                {
                    command.Parameters[4].Value = expectedETag;
                }
            }

            if (command.ExecuteNonQuery() == 1)
            {
                return;
            }

            read.Command.Transaction = transaction;
            read.Command.Parameters[0].Value = key;
            using var reader = read.Command.ExecuteReader();
            Refused = new InconsistentStateException(key, expectedETag, reader.Read() ? reader.GetString(2) : null);
        }

        public void Complete()
        {
            if (Refused is null)
            {
                Completion.TrySetResult();
            }
            else
            {
                Completion.TrySetException(Refused);
            }
        }
    }
}
