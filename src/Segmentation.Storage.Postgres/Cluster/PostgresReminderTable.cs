using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Segmentation.Storage.Postgres.Cluster;

/// <summary>
/// Orleans' reminder table (<see cref="IReminderTable"/>) in the cluster store's <c>reminders</c> table, for one
/// service: a reminder registered on one silo fires on whichever silo owns its grain's slice of the hash ring, and
/// outlives every silo (and a redeployment under a new cluster id: rows are keyed by service id).
/// </summary>
/// <remarks>
/// <para>
/// Why our own table rather than <c>Microsoft.Orleans.Reminders.AdoNet</c>: see <see cref="PostgresMembershipTable"/>.
/// </para>
/// <para>
/// ETags are values of the <c>reminder_etags</c> sequence, drawn by every upsert: unique for the table's life, so a
/// remove with the ETag of a reminder that was since removed and registered again (same grain, same name) finds
/// nothing, as the contract requires. Ring ranges use <see cref="GrainId.GetUniformHashCode"/>, stored as a
/// non-negative <c>bigint</c> so SQL compares it as the unsigned number Orleans means.
/// </para>
/// Thread-safe: every call takes its own pooled connection.
/// </remarks>
public sealed class PostgresReminderTable : IReminderTable
{
    private const string Columns = "grain_id, reminder_name, start_at, period, etag";
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresStorageOptions _options;
    private readonly string _serviceId;
    private readonly ILogger _logger;
    private readonly string _schema;

    /// <summary>Creates the table for <paramref name="serviceId"/>; nothing is read or written until a call.</summary>
    /// <param name="dataSource">The cluster store's connections; the caller disposes it after this table.</param>
    /// <param name="options">Only <see cref="PostgresStorageOptions.Schema"/> is used.</param>
    /// <param name="serviceId">Orleans' <c>ClusterOptions.ServiceId</c>.</param>
    /// <param name="logger">Where the migration step reports what it applied.</param>
    public PostgresReminderTable(NpgsqlDataSource dataSource, PostgresStorageOptions options, string serviceId, ILogger<PostgresReminderTable> logger)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        _dataSource = dataSource;
        _options = options;
        _serviceId = serviceId;
        _logger = logger;
        _schema = options.QuotedSchema;
    }

    /// <summary>Migrates the schema (idempotent, safe when every silo starts at once).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) =>
        PostgresSchema.EnsureCreatedAsync(_dataSource, _options, _logger, cancellationToken);

    /// <summary>Every reminder of <paramref name="grainId"/>.</summary>
    public async Task<ReminderTableData> ReadRowsAsync(GrainId grainId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"SELECT {Columns} FROM {_schema}.reminders WHERE service_id = $1 AND grain_id = $2");
        command.Parameters.Add(new() { Value = _serviceId });
        command.Parameters.Add(new() { Value = grainId.ToString() });
        return new ReminderTableData(await ReadAsync(command, cancellationToken));
    }

    /// <summary>
    /// Every reminder whose grain hash lies in the ring range (<paramref name="begin"/>, <paramref name="end"/>]; when
    /// <paramref name="begin"/> ≥ <paramref name="end"/> the range wraps around zero (and <c>begin == end</c> is the
    /// whole ring).
    /// </summary>
    public async Task<ReminderTableData> ReadRowsAsync(uint begin, uint end, CancellationToken cancellationToken)
    {
        var inRange = begin < end ? "grain_hash > $2 AND grain_hash <= $3" : "(grain_hash > $2 OR grain_hash <= $3)";
        await using var command = _dataSource.CreateCommand($"SELECT {Columns} FROM {_schema}.reminders WHERE service_id = $1 AND {inRange}");
        command.Parameters.Add(new() { Value = _serviceId });
        command.Parameters.Add(new() { Value = (long)begin });
        command.Parameters.Add(new() { Value = (long)end });
        return new ReminderTableData(await ReadAsync(command, cancellationToken));
    }

    /// <summary>The reminder <paramref name="reminderName"/> of <paramref name="grainId"/>, or null.</summary>
    public async Task<ReminderEntry?> ReadRowAsync(GrainId grainId, string reminderName, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            $"SELECT {Columns} FROM {_schema}.reminders WHERE service_id = $1 AND grain_id = $2 AND reminder_name = $3");
        command.Parameters.Add(new() { Value = _serviceId });
        command.Parameters.Add(new() { Value = grainId.ToString() });
        command.Parameters.Add(new() { Value = reminderName });
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>Inserts the reminder or replaces its start and period; returns its new ETag (never one used before).</summary>
    public async Task<string> UpsertRowAsync(ReminderEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await using var command = _dataSource.CreateCommand($"""
            INSERT INTO {_schema}.reminders (service_id, grain_id, reminder_name, grain_hash, start_at, period)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
                SET start_at = excluded.start_at, period = excluded.period, etag = nextval('{_schema}.reminder_etags')
            RETURNING etag
            """);
        command.Parameters.Add(new() { Value = _serviceId });
        command.Parameters.Add(new() { Value = entry.GrainId.ToString() });
        command.Parameters.Add(new() { Value = entry.ReminderName });
        command.Parameters.Add(new() { Value = (long)entry.GrainId.GetUniformHashCode() });
        command.Parameters.Add(new() { Value = PostgresMembershipTable.Utc(entry.StartAt) });
        command.Parameters.Add(new() { Value = entry.Period });
        var etag = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        entry.ETag = etag.ToString(CultureInfo.InvariantCulture);
        return entry.ETag;
    }

    /// <summary>Removes the reminder if its ETag is still <paramref name="eTag"/>; true when a row was removed.</summary>
    public async Task<bool> RemoveRowAsync(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken)
    {
        if (!long.TryParse(eTag, NumberStyles.None, CultureInfo.InvariantCulture, out var etag))
        {
            return false;
        }

        await using var command = _dataSource.CreateCommand(
            $"DELETE FROM {_schema}.reminders WHERE service_id = $1 AND grain_id = $2 AND reminder_name = $3 AND etag = $4");
        command.Parameters.Add(new() { Value = _serviceId });
        command.Parameters.Add(new() { Value = grainId.ToString() });
        command.Parameters.Add(new() { Value = reminderName });
        command.Parameters.Add(new() { Value = etag });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Removes every reminder of the service (Orleans calls this <c>TestOnlyClearTable</c>).</summary>
    public async Task ClearAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"DELETE FROM {_schema}.reminders WHERE service_id = $1");
        command.Parameters.Add(new() { Value = _serviceId });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    Task<ReminderTableData> IReminderTable.ReadRows(GrainId grainId) => ReadRowsAsync(grainId, CancellationToken.None);

    Task<ReminderTableData> IReminderTable.ReadRows(GrainId grainId, CancellationToken cancellationToken) => ReadRowsAsync(grainId, cancellationToken);

    Task<ReminderTableData> IReminderTable.ReadRows(uint begin, uint end) => ReadRowsAsync(begin, end, CancellationToken.None);

    Task<ReminderTableData> IReminderTable.ReadRows(uint begin, uint end, CancellationToken cancellationToken) => ReadRowsAsync(begin, end, cancellationToken);

    Task<ReminderEntry?> IReminderTable.ReadRow(GrainId grainId, string reminderName) => ReadRowAsync(grainId, reminderName, CancellationToken.None);

    Task<ReminderEntry?> IReminderTable.ReadRow(GrainId grainId, string reminderName, CancellationToken cancellationToken) => ReadRowAsync(grainId, reminderName, cancellationToken);

    async Task<string?> IReminderTable.UpsertRow(ReminderEntry entry) => await UpsertRowAsync(entry, CancellationToken.None);

    async Task<string?> IReminderTable.UpsertRow(ReminderEntry entry, CancellationToken cancellationToken) => await UpsertRowAsync(entry, cancellationToken);

    Task<bool> IReminderTable.RemoveRow(GrainId grainId, string reminderName, string eTag) => RemoveRowAsync(grainId, reminderName, eTag, CancellationToken.None);

    Task<bool> IReminderTable.RemoveRow(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken) => RemoveRowAsync(grainId, reminderName, eTag, cancellationToken);

    Task IReminderTable.TestOnlyClearTable() => ClearAsync(CancellationToken.None);

    Task IReminderTable.TestOnlyClearTable(CancellationToken cancellationToken) => ClearAsync(cancellationToken);

    private static async Task<List<ReminderEntry>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var entries = new List<ReminderEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new ReminderEntry
            {
                GrainId = GrainId.Parse(reader.GetString(0)),
                ReminderName = reader.GetString(1),
                StartAt = reader.GetDateTime(2),
                Period = reader.GetTimeSpan(3),
                ETag = reader.GetInt64(4).ToString(CultureInfo.InvariantCulture),
            });
        }

        return entries;
    }
}
