using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Segmentation.Storage.Postgres.Cluster;

/// <summary>
/// Orleans' membership table for one cluster (<see cref="IMembershipTable"/>) in the cluster store's
/// <c>cluster_versions</c> and <c>cluster_members</c> tables, which <see cref="PostgresSchema"/> creates with the rest
/// of the schema. Silos register here, vote each other dead here, and read who is alive from here.
/// </summary>
/// <remarks>
/// <para>
/// We implement the table instead of using <c>Microsoft.Orleans.Clustering.AdoNet</c>: that provider runs SQL it reads
/// at start from an <c>OrleansQuery</c> table which the database must already hold, written by scripts that live in
/// Orleans' repository and not in the package. Keeping those rows right would mean a second, undocumented contract
/// (query names, parameter and column names, result shapes) to track across Orleans versions by hand. This class is
/// the documented contract instead — <see cref="IMembershipTable"/>'s — over our own tables, created by our migration
/// step under its advisory lock, and tested against a real PostgreSQL (<c>PostgresMembershipTableTests</c>).
/// </para>
/// <para>
/// ETags. The table version's ETag is its version number, as text: <see cref="TableVersion.Next"/> carries the ETag of
/// the version it was read at, so a write succeeds only when nobody has written since that read. A row's ETag is a
/// counter bumped by every <see cref="UpdateRowAsync"/> (not by <see cref="UpdateIAmAliveAsync"/>, which the contract
/// lets be a dirty write). Rows are never re-inserted under the same key (a restarted silo has a new generation), so
/// a counter cannot come back to an old value.
/// </para>
/// <para>
/// Atomicity. A write updates the version row first, conditionally on the ETag, and then the member row, in one
/// transaction: the version row's lock orders concurrent writers of a cluster, and either condition failing rolls both
/// back. Reads are one statement (version row left-joined to the members), so they see one snapshot.
/// </para>
/// <para>
/// Stored: every <see cref="MembershipEntry"/> field Orleans' membership protocol reads — address, status, suspicions
/// (voter and time, as two parallel arrays), gateway port, host and silo names, start and heartbeat times. Not stored:
/// <c>RoleName</c>, <c>UpdateZone</c> and <c>FaultZone</c>, Azure cloud-service fields that Orleans no longer sets.
/// </para>
/// Thread-safe: every call takes its own pooled connection.
/// </remarks>
public sealed class PostgresMembershipTable : IMembershipTable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresStorageOptions _options;
    private readonly string _clusterId;
    private readonly ILogger _logger;
    private readonly string _schema;

    /// <summary>Creates the table for <paramref name="clusterId"/>; nothing is read or written until a call.</summary>
    /// <param name="dataSource">The cluster store's connections; the caller disposes it after this table.</param>
    /// <param name="options">Only <see cref="PostgresStorageOptions.Schema"/> is used.</param>
    /// <param name="clusterId">Orleans' <c>ClusterOptions.ClusterId</c>: silos with the same id form one cluster.</param>
    /// <param name="logger">Where the migration step reports what it applied.</param>
    public PostgresMembershipTable(NpgsqlDataSource dataSource, PostgresStorageOptions options, string clusterId, ILogger<PostgresMembershipTable> logger)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        _dataSource = dataSource;
        _options = options;
        _clusterId = clusterId;
        _logger = logger;
        _schema = options.QuotedSchema;
    }

    /// <summary>
    /// Migrates the schema (idempotent, safe when every silo starts at once) and, when
    /// <paramref name="tryInitTableVersion"/>, creates the cluster's version row at version 0 unless it exists.
    /// </summary>
    public async Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken)
    {
        await PostgresSchema.EnsureCreatedAsync(_dataSource, _options, _logger, cancellationToken);
        if (tryInitTableVersion)
        {
            await using var command = _dataSource.CreateCommand(
                $"INSERT INTO {_schema}.cluster_versions (cluster_id, version) VALUES ($1, 0) ON CONFLICT (cluster_id) DO NOTHING");
            command.Parameters.Add(new() { Value = _clusterId });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Deletes the version row and every member row of <paramref name="clusterId"/> (which may be another cluster's).</summary>
    public async Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken)
    {
        // Member rows go with their version row (ON DELETE CASCADE).
        await using var command = _dataSource.CreateCommand($"DELETE FROM {_schema}.cluster_versions WHERE cluster_id = $1");
        command.Parameters.Add(new() { Value = clusterId });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Deletes the rows of silos declared <see cref="SiloStatus.Dead"/> whose last heartbeat is older than
    /// <paramref name="beforeDate"/>; rows of live silos stay whatever their heartbeat. The table version is unchanged
    /// (only dead silos leave, which changes no live silo's view).
    /// </summary>
    public async Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            $"DELETE FROM {_schema}.cluster_members WHERE cluster_id = $1 AND status = $2 AND i_am_alive_time < $3");
        command.Parameters.Add(new() { Value = _clusterId });
        command.Parameters.Add(new() { Value = (int)SiloStatus.Dead });
        command.Parameters.Add(new() { Value = beforeDate.ToUniversalTime() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The row of <paramref name="key"/> (or none) and the table version, read in one snapshot.</summary>
    public Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ReadAsync(key, cancellationToken);
    }

    /// <summary>Every row of the cluster and the table version, read in one snapshot.</summary>
    public Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken) => ReadAsync(null, cancellationToken);

    /// <summary>
    /// Inserts the row of a new silo and moves the table to <paramref name="tableVersion"/>, atomically. False, with
    /// nothing changed, when the silo already has a row or the table was written since <paramref name="tableVersion"/>'s
    /// ETag was read.
    /// </summary>
    public async Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        return await WriteAsync(tableVersion, async (connection, transaction) =>
        {
            await using var insert = new NpgsqlCommand($"""
                INSERT INTO {_schema}.cluster_members (cluster_id, address, port, generation, silo_name, host_name, status,
                    proxy_port, suspecters, suspect_times, start_time, i_am_alive_time, etag)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0)
                ON CONFLICT DO NOTHING
                """, connection, transaction);
            AddKey(insert, entry.SiloAddress);
            AddColumns(insert, entry);
            return await insert.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);
    }

    /// <summary>
    /// Replaces the row of a silo (every column but its key) and moves the table to <paramref name="tableVersion"/>,
    /// atomically. False, with nothing changed, when the silo has no row, its row's ETag is not <paramref name="etag"/>,
    /// or the table was written since <paramref name="tableVersion"/>'s ETag was read.
    /// </summary>
    public async Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        if (!int.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var rowEtag))
        {
            return false; // Not one of ours: it cannot match.
        }

        return await WriteAsync(tableVersion, async (connection, transaction) =>
        {
            await using var update = new NpgsqlCommand($"""
                UPDATE {_schema}.cluster_members
                SET silo_name = $5, host_name = $6, status = $7, proxy_port = $8, suspecters = $9, suspect_times = $10,
                    start_time = $11, i_am_alive_time = $12, etag = etag + 1
                WHERE cluster_id = $1 AND address = $2 AND port = $3 AND generation = $4 AND etag = $13
                """, connection, transaction);
            AddKey(update, entry.SiloAddress);
            AddColumns(update, entry);
            update.Parameters.Add(new() { Value = rowEtag });
            return await update.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);
    }

    /// <summary>
    /// Writes the silo's heartbeat (<see cref="MembershipEntry.IAmAliveTime"/>) and nothing else: no ETag is checked or
    /// changed, the table version stays.
    /// </summary>
    public async Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await using var command = _dataSource.CreateCommand(
            $"UPDATE {_schema}.cluster_members SET i_am_alive_time = $5 WHERE cluster_id = $1 AND address = $2 AND port = $3 AND generation = $4");
        AddKey(command, entry.SiloAddress);
        command.Parameters.Add(new() { Value = Utc(entry.IAmAliveTime) });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    Task IMembershipTable.InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion, CancellationToken.None);

    Task IMembershipTable.DeleteMembershipTableEntries(string clusterId) => DeleteMembershipTableEntriesAsync(clusterId, CancellationToken.None);

    Task IMembershipTable.CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => CleanupDefunctSiloEntriesAsync(beforeDate, CancellationToken.None);

    Task<MembershipTableData> IMembershipTable.ReadRow(SiloAddress key) => ReadRowAsync(key, CancellationToken.None);

    Task<MembershipTableData> IMembershipTable.ReadAll() => ReadAllAsync(CancellationToken.None);

    Task<bool> IMembershipTable.InsertRow(MembershipEntry entry, TableVersion tableVersion) => InsertRowAsync(entry, tableVersion, CancellationToken.None);

    Task<bool> IMembershipTable.UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => UpdateRowAsync(entry, etag, tableVersion, CancellationToken.None);

    Task IMembershipTable.UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry, CancellationToken.None);

    /// <summary>
    /// Moves the version row from the version <paramref name="tableVersion"/>'s ETag names to
    /// <paramref name="tableVersion"/>'s, then runs <paramref name="writeRow"/>; commits only when both changed a row.
    /// </summary>
    private async Task<bool> WriteAsync(TableVersion tableVersion, Func<NpgsqlConnection, NpgsqlTransaction, Task<bool>> writeRow, CancellationToken cancellationToken)
    {
        if (!int.TryParse(tableVersion.VersionEtag, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var readVersion))
        {
            return false;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var version = new NpgsqlCommand(
            $"UPDATE {_schema}.cluster_versions SET version = $2 WHERE cluster_id = $1 AND version = $3", connection, transaction))
        {
            version.Parameters.Add(new() { Value = _clusterId });
            version.Parameters.Add(new() { Value = tableVersion.Version });
            version.Parameters.Add(new() { Value = readVersion });
            if (await version.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                return false; // Disposing the transaction rolls it back.
            }
        }

        if (!await writeRow(connection, transaction))
        {
            return false;
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private async Task<MembershipTableData> ReadAsync(SiloAddress? key, CancellationToken cancellationToken)
    {
        // One statement, one snapshot: the rows and the version agree, as the contract asks.
        var sql = $"""
            SELECT v.version, m.address, m.port, m.generation, m.silo_name, m.host_name, m.status, m.proxy_port,
                   m.suspecters, m.suspect_times, m.start_time, m.i_am_alive_time, m.etag
            FROM {_schema}.cluster_versions v
            LEFT JOIN {_schema}.cluster_members m ON m.cluster_id = v.cluster_id
                {(key is null ? "" : "AND m.address = $2 AND m.port = $3 AND m.generation = $4")}
            WHERE v.cluster_id = $1
            """;
        await using var command = _dataSource.CreateCommand(sql);
        if (key is null)
        {
            command.Parameters.Add(new() { Value = _clusterId });
        }
        else
        {
            AddKey(command, key);
        }

        var members = new List<Tuple<MembershipEntry, string>>();
        var version = 0;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                version = reader.GetInt32(0);
                if (!reader.IsDBNull(1))
                {
                    members.Add(Tuple.Create(ReadEntry(reader), reader.GetInt32(12).ToString(CultureInfo.InvariantCulture)));
                }
            }
        }

        // No version row yet (InitializeMembershipTable(true) not run): version 0, whose ETag no write can match.
        var tableVersion = new TableVersion(version, version.ToString(CultureInfo.InvariantCulture));
        return members.Count == 1 && key is not null
            ? new MembershipTableData(members[0], tableVersion)
            : new MembershipTableData(members, tableVersion);
    }

    private static MembershipEntry ReadEntry(NpgsqlDataReader reader)
    {
        var suspecters = reader.GetFieldValue<string[]>(8);
        var suspectTimes = reader.GetFieldValue<DateTime[]>(9);
        var suspicions = new List<Tuple<SiloAddress, DateTime>>(suspecters.Length);
        for (var i = 0; i < suspecters.Length; i++)
        {
            suspicions.Add(Tuple.Create(SiloAddress.FromParsableString(suspecters[i]), suspectTimes[i]));
        }

        return new MembershipEntry
        {
            SiloAddress = SiloAddress.New(IPAddress.Parse(reader.GetString(1)), reader.GetInt32(2), reader.GetInt32(3)),
            SiloName = reader.GetString(4),
            HostName = reader.GetString(5),
            Status = (SiloStatus)reader.GetInt32(6),
            ProxyPort = reader.GetInt32(7),
            SuspectTimes = suspicions,
            StartTime = reader.GetDateTime(10),
            IAmAliveTime = reader.GetDateTime(11),
        };
    }

    /// <summary>Parameters $1–$4: the cluster and the silo's address, port and generation.</summary>
    private void AddKey(NpgsqlCommand command, SiloAddress silo)
    {
        command.Parameters.Add(new() { Value = _clusterId });
        command.Parameters.Add(new() { Value = silo.Endpoint.Address.ToString() });
        command.Parameters.Add(new() { Value = silo.Endpoint.Port });
        command.Parameters.Add(new() { Value = silo.Generation });
    }

    /// <summary>Parameters $5–$12: every column of a row but its key and ETag.</summary>
    private static void AddColumns(NpgsqlCommand command, MembershipEntry entry)
    {
        var suspicions = entry.SuspectTimes ?? [];
        command.Parameters.Add(new() { Value = entry.SiloName ?? "" });
        command.Parameters.Add(new() { Value = entry.HostName ?? "" });
        command.Parameters.Add(new() { Value = (int)entry.Status });
        command.Parameters.Add(new() { Value = entry.ProxyPort });
        command.Parameters.Add(new() { Value = suspicions.Select(s => s.Item1.ToParsableString()).ToArray() });
        command.Parameters.Add(new() { Value = suspicions.Select(s => Utc(s.Item2)).ToArray() });
        command.Parameters.Add(new() { Value = Utc(entry.StartTime) });
        command.Parameters.Add(new() { Value = Utc(entry.IAmAliveTime) });
    }

    /// <summary>
    /// Npgsql writes only UTC <see cref="DateTime"/>s to <c>timestamptz</c>. Orleans stamps its times with
    /// <c>DateTime.UtcNow</c>; an unspecified kind (a default value) is taken as UTC too.
    /// </summary>
    internal static DateTime Utc(DateTime time) => time.Kind switch
    {
        DateTimeKind.Utc => time,
        DateTimeKind.Local => time.ToUniversalTime(),
        _ => DateTime.SpecifyKind(time, DateTimeKind.Utc),
    };
}
