using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Segmentation.Storage.Postgres.Internal;

namespace Segmentation.Storage.Postgres;

/// <summary>
/// The tables of the PostgreSQL stores and the migration step that creates them: each store runs
/// <see cref="EnsureCreatedAsync"/> when it opens, so a fresh database needs nothing done by hand.
/// </summary>
/// <remarks>
/// Migrations are numbered and recorded in <c>schema_migrations</c>; each is applied once, in its own transaction with
/// its record. Starts may race (every silo of a cluster opens its stores at once): a transaction-scoped advisory lock
/// makes them take turns, because concurrent <c>CREATE TABLE IF NOT EXISTS</c> of one name can still fail on the
/// catalog's unique index. Tables:
/// <list type="bullet">
/// <item><c>events(seq bigint identity PRIMARY KEY, stream_id, event_id UNIQUE, payload bytea)</c> with an index on
/// <c>(stream_id, seq)</c> — the log; ids are <c>COLLATE "C"</c>: byte order, the cheapest comparison, and the same
/// whatever locale the database was created with.</item>
/// <item><c>snapshots(key PRIMARY KEY, data bytea, seq, etag)</c> — grain snapshots, and every other derived state
/// stored through <see cref="ISnapshotStore"/> keys (published segmentation models, rule segments, the clock
/// checkpoint).</item>
/// <item><c>cluster_versions(cluster_id PRIMARY KEY, version)</c> and <c>cluster_members(cluster_id, address, port,
/// generation, ..., etag)</c> — Orleans' membership table (<see cref="Cluster.PostgresMembershipTable"/>): one version
/// row per cluster, one row per silo incarnation.</item>
/// <item><c>reminders(service_id, grain_id, reminder_name, grain_hash, start_at, period, etag)</c> — Orleans'
/// reminders (<see cref="Cluster.PostgresReminderTable"/>), keyed by service so they outlive a redeployment under a new
/// cluster id; ETags come from the <c>reminder_etags</c> sequence, so a row deleted and registered again never reuses
/// one.</item>
/// </list>
/// </remarks>
public static class PostgresSchema
{
    /// <summary>Advisory-lock class of the migration step (the other key is 0): "SEGM".</summary>
    internal const int MigrationLockClass = 0x5345_474D;

    /// <summary>Advisory-lock class of event-log commits (the other key is the schema's oid): "SEGL".</summary>
    internal const int CommitLockClass = 0x5345_474C;

    private static readonly (int Version, string Description, string Sql)[] s_migrations =
    [
        (1, "event log and snapshots", """
            CREATE TABLE {schema}.events (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                stream_id text COLLATE "C" NOT NULL,
                event_id text COLLATE "C" NOT NULL UNIQUE,
                payload bytea NOT NULL);
            CREATE INDEX events_by_stream ON {schema}.events (stream_id, seq);
            CREATE TABLE {schema}.snapshots (
                key text COLLATE "C" PRIMARY KEY,
                data bytea NOT NULL,
                seq bigint NOT NULL,
                etag text NOT NULL);
            """),
        (2, "Orleans membership and reminders", """
            CREATE TABLE {schema}.cluster_versions (
                cluster_id text COLLATE "C" PRIMARY KEY,
                version int NOT NULL);
            CREATE TABLE {schema}.cluster_members (
                cluster_id text COLLATE "C" NOT NULL REFERENCES {schema}.cluster_versions ON DELETE CASCADE,
                address text COLLATE "C" NOT NULL,
                port int NOT NULL,
                generation int NOT NULL,
                silo_name text NOT NULL,
                host_name text NOT NULL,
                status int NOT NULL,
                proxy_port int NOT NULL,
                suspecters text[] NOT NULL,
                suspect_times timestamptz[] NOT NULL,
                start_time timestamptz NOT NULL,
                i_am_alive_time timestamptz NOT NULL,
                etag int NOT NULL,
                PRIMARY KEY (cluster_id, address, port, generation));
            CREATE SEQUENCE {schema}.reminder_etags;
            CREATE TABLE {schema}.reminders (
                service_id text COLLATE "C" NOT NULL,
                grain_id text COLLATE "C" NOT NULL,
                reminder_name text COLLATE "C" NOT NULL,
                grain_hash bigint NOT NULL,
                start_at timestamptz NOT NULL,
                period interval NOT NULL,
                etag bigint NOT NULL DEFAULT nextval('{schema}.reminder_etags'),
                PRIMARY KEY (service_id, grain_id, reminder_name));
            CREATE INDEX reminders_by_hash ON {schema}.reminders (service_id, grain_hash);
            """),
    ];

    /// <summary>
    /// Creates the schema and applies the migrations it lacks; safe to run concurrently from many processes. Returns the
    /// schema's oid (the key of the event log's commit lock).
    /// </summary>
    /// <exception cref="NpgsqlException">PostgreSQL cannot be reached, or refused a statement.</exception>
    public static async Task<uint> EnsureCreatedAsync(NpgsqlDataSource dataSource, PostgresStorageOptions options, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var schema = options.QuotedSchema;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLockClass}, 0)", cancellationToken);

        // CREATE SCHEMA checks the CREATE privilege on the database even with IF NOT EXISTS, so a schema made by a DBA
        // for a less privileged role is looked up first.
        if (await SchemaOidAsync(connection, options.Schema, cancellationToken) is null)
        {
            await ExecuteAsync(connection, $"CREATE SCHEMA {schema}", cancellationToken);
        }

        await ExecuteAsync(connection, $"""
            CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                version int PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """, cancellationToken);
        var applied = new HashSet<int>();
        await using (var command = new NpgsqlCommand($"SELECT version FROM {schema}.schema_migrations", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(reader.GetInt32(0));
            }
        }

        foreach (var (version, description, sql) in s_migrations)
        {
            if (applied.Contains(version))
            {
                continue;
            }

            await ExecuteAsync(connection, sql.Replace("{schema}", schema, StringComparison.Ordinal), cancellationToken);
            await using var record = new NpgsqlCommand($"INSERT INTO {schema}.schema_migrations (version, description) VALUES ($1, $2)", connection);
            record.Parameters.Add(new() { Value = version });
            record.Parameters.Add(new() { Value = description });
            await record.ExecuteNonQueryAsync(cancellationToken);
            PostgresLog.MigrationApplied(logger, options.Schema, version, description);
        }

        var oid = await SchemaOidAsync(connection, options.Schema, cancellationToken)
            ?? throw new InvalidOperationException($"Schema '{options.Schema}' vanished while it was being migrated.");
        await transaction.CommitAsync(cancellationToken);
        return oid;
    }

    private static async Task<uint?> SchemaOidAsync(NpgsqlConnection connection, string schema, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT oid FROM pg_namespace WHERE nspname = $1", connection);
        command.Parameters.Add(new() { Value = schema });
        return await command.ExecuteScalarAsync(cancellationToken) is uint oid ? oid : null;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
