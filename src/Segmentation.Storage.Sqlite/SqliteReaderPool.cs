using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Segmentation.Storage.Sqlite;

/// <summary>
/// Open read connections to one database file, each keeping the statements it ran prepared, for the reads every user
/// grain activation makes (its snapshot and its log tail).
/// </summary>
/// <remarks>
/// Opening a pooled <see cref="SqliteConnection"/> per read took Microsoft.Data.Sqlite's pool lock (contended by every
/// activating grain), and a new <see cref="SqliteCommand"/> per read parsed its SQL again: together about a tenth of
/// the ingest path's CPU while fresh users arrive. Here a read rents a connection whose commands are parsed once.
/// Thread-safety: <see cref="Rent"/> and <see cref="Return"/> may be called concurrently; a rented reader belongs to
/// its renter alone until returned. WAL readers hold no snapshot between statements (a statement's implicit read
/// transaction ends when its data reader is disposed), so idle connections never hold back checkpoints.
/// </remarks>
internal sealed class SqliteReaderPool : IDisposable
{
    private readonly string _connectionString;
    private readonly int _capacity;
    private readonly ConcurrentQueue<Reader> _idle = new();
    private int _idleCount;
    private volatile bool _disposed;

    /// <param name="path">The database file.</param>
    /// <param name="capacity">Most idle connections kept; a reader returned beyond that is closed.</param>
    public SqliteReaderPool(string path, int capacity)
    {
        _connectionString = SqliteStorageOptions.ConnectionString(path);
        _capacity = capacity;
    }

    /// <summary>An idle reader, or a newly opened one.</summary>
    public Reader Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryDequeue(out var reader))
        {
            Interlocked.Decrement(ref _idleCount);
            return reader;
        }

        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return new Reader(connection);
    }

    /// <summary>Gives a rented reader back (its data readers disposed).</summary>
    public void Return(Reader reader)
    {
        if (_disposed || Interlocked.Increment(ref _idleCount) > _capacity)
        {
            Interlocked.Decrement(ref _idleCount);
            reader.Dispose();
            return;
        }

        _idle.Enqueue(reader);
        if (_disposed)
        {
            // Disposed while this one was being returned: Dispose may have drained the queue before it arrived.
            Drain();
        }
    }

    /// <summary>Closes the idle readers; readers returned later are closed on return.</summary>
    public void Dispose()
    {
        _disposed = true;
        Drain();
    }

    private void Drain()
    {
        while (_idle.TryDequeue(out var reader))
        {
            Interlocked.Decrement(ref _idleCount);
            reader.Dispose();
        }
    }

    /// <summary>One open connection and the commands prepared on it, keyed by their SQL.</summary>
    internal sealed class Reader(SqliteConnection connection) : IDisposable
    {
        private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

        /// <summary>
        /// The prepared command for <paramref name="sql"/>, with the named parameters (values to be set by the caller);
        /// the same instance every time, so it is parsed once per connection.
        /// </summary>
        public SqliteCommand Command(string sql, params ReadOnlySpan<string> parameters)
        {
            if (_commands.TryGetValue(sql, out var command))
            {
                return command;
            }

            command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var name in parameters)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            command.Prepare();
            _commands.Add(sql, command);
            return command;
        }

        public void Dispose()
        {
            foreach (var command in _commands.Values)
            {
                command.Dispose();
            }

            connection.Dispose();
        }
    }
}
