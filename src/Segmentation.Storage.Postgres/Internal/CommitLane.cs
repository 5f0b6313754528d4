using System.Data;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Segmentation.Storage.Postgres.Internal;

/// <summary>
/// One writer connection of the event log and the transaction it runs for a commit group: begin, insert (see
/// <see cref="GroupInsert"/>), commit, then complete the group's calls — or fail them all. Not thread-safe: one group at
/// a time; the log runs <see cref="PostgresStorageOptions.CommitsInFlight"/> lanes side by side.
/// </summary>
internal sealed class CommitLane(NpgsqlDataSource dataSource, GroupInsert insert, ILogger logger) : IAsyncDisposable
{
    private NpgsqlConnection? _connection;

    /// <summary>Commits the group and completes its calls; never throws (a failure fails the calls instead).</summary>
    public async Task<bool> CommitAsync(List<PendingAppend> group, int records)
    {
        try
        {
            _connection ??= await OpenAsync();
            await using (var transaction = await _connection.BeginTransactionAsync())
            {
                await insert.InsertAsync(_connection, group, records, CancellationToken.None);
                await transaction.CommitAsync();
            }
        }
        catch (Exception ex)
        {
            PostgresLog.CommitFailed(logger, group.Count, records, ex);
            insert.Reset();
            foreach (var pending in group)
            {
                pending.Completion.TrySetException(ex);
            }

            if (_connection is not null && _connection.FullState != ConnectionState.Open)
            {
                // The server restarted or the network broke: the next group opens a new connection.
                PostgresLog.WriterReconnecting(logger);
                await _connection.DisposeAsync();
                _connection = null;
            }

            return false;
        }

        foreach (var pending in group)
        {
            pending.Completion.TrySetResult(pending.Results);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = await dataSource.OpenConnectionAsync();
        try
        {
            // Acknowledge only what is flushed: a server (or role) default of off would otherwise weaken the promise
            // silently. Any other level (local, on, remote_write, remote_apply) flushes locally; the operator's choice stays.
            await using var durable = new NpgsqlCommand(
                "SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') = 'off'", connection);
            await durable.ExecuteNonQueryAsync();
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
