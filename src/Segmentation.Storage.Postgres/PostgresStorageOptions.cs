using System.Text.RegularExpressions;

namespace Segmentation.Storage.Postgres;

/// <summary>How a group commit hands its rows to PostgreSQL (both measured by <c>bench/storage/run.sh</c>).</summary>
public enum PostgresBulkInsert
{
    /// <summary>
    /// One multi-row statement per commit: <c>INSERT ... SELECT FROM unnest(text[], text[], bytea[]) ON CONFLICT DO
    /// NOTHING RETURNING</c>, the three columns sent as binary array parameters.
    /// </summary>
    Unnest,

    /// <summary>
    /// Binary <c>COPY</c> into a session-local staging table, then <c>INSERT ... SELECT ... ON CONFLICT DO NOTHING
    /// RETURNING</c> from it (COPY itself cannot skip duplicates).
    /// </summary>
    Copy,
}

/// <summary>Settings of the PostgreSQL stores.</summary>
public sealed partial class PostgresStorageOptions
{
    /// <summary>
    /// The schema that holds the tables (created at start if missing). Several deployments can share one database with
    /// a schema each; group commits of different schemas do not wait for each other.
    /// </summary>
    public string Schema { get; set; } = "segmentation";

    /// <summary>
    /// How group commits insert their rows. COPY is the default: with batches of 1,000 over 20,000 users and 4
    /// appenders (<c>bench/storage/run.sh</c>, a shared 2-core machine) it took 1.1-1.5x the events/s of unnest in the
    /// runs with load averages of 7-9, and the two were within noise of each other at 10-24. Both spend about 20 CPU-µs
    /// per event in the server, mostly the three index insertions per row (event id, stream, sequence).
    /// </summary>
    public PostgresBulkInsert BulkInsert { get; set; } = PostgresBulkInsert.Copy;

    /// <summary>
    /// Group commits in flight at once, each on its own connection (1, the default: one after the other). Their inserts
    /// still run one at a time under the commit lock; what overlaps is copying the next group with the last one's
    /// fsync. On a loaded 2-core machine 2 bought nothing (same events/s, more CPU per event: smaller groups, more
    /// commits); it may pay where the server has idle cores and slow fsyncs.
    /// </summary>
    public int CommitsInFlight { get; set; } = 1;

    /// <summary>Most records one group-commit transaction takes (one call is never split, so a commit may hold more).</summary>
    public int MaxRecordsPerCommit { get; set; } = 20_000;

    /// <summary>The schema name, checked, ready to put into SQL.</summary>
    internal string QuotedSchema => SchemaName().IsMatch(Schema)
        ? $"\"{Schema}\""
        : throw new ArgumentException($"Schema must be a lower-case SQL identifier (letters, digits, '_'; at most 63); got '{Schema}'.");

    // Identifiers are spliced into SQL text (they cannot be parameters), so only plain names are accepted.
    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();
}
