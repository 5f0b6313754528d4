using Segmentation.Storage.Postgres;

namespace Segmentation.Host.Configuration;

/// <summary>
/// Where the event log and the snapshots live (<c>Segmentation:Storage</c>): SQLite files in
/// <see cref="SegmentationOptions.DataDirectory"/> (the embedded default), or a PostgreSQL database that every silo of
/// a cluster shares.
/// </summary>
public sealed class StorageOptions
{
    /// <summary>The value of <see cref="Provider"/> for SQLite.</summary>
    public const string Sqlite = "sqlite";

    /// <summary>The value of <see cref="Provider"/> for PostgreSQL.</summary>
    public const string Postgres = "postgres";

    /// <summary><c>sqlite</c> (default) or <c>postgres</c>.</summary>
    public string Provider { get; set; } = Sqlite;

    /// <summary>
    /// The Npgsql connection string for <c>postgres</c>, e.g. <c>Host=db;Database=segmentation;Username=seg;Password=...</c>;
    /// when empty, <c>ConnectionStrings:Segmentation</c> is used (so <c>ConnectionStrings__Segmentation</c> from a
    /// Kubernetes Secret works too).
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>The PostgreSQL schema of the tables (created at start if missing; see <see cref="PostgresSchema"/>).</summary>
    public string Schema { get; set; } = "segmentation";

    /// <summary>How PostgreSQL group commits insert their rows: <c>Copy</c> (default) or <c>Unnest</c>.</summary>
    public PostgresBulkInsert BulkInsert { get; set; } = PostgresBulkInsert.Copy;

    /// <summary>True when <see cref="Provider"/> names PostgreSQL.</summary>
    internal bool IsPostgres => string.Equals(Provider, Postgres, StringComparison.OrdinalIgnoreCase);

    /// <summary>What is wrong with the settings, or null.</summary>
    internal string? Validate()
    {
        if (!IsPostgres && !string.Equals(Provider, Sqlite, StringComparison.OrdinalIgnoreCase))
        {
            return $"Segmentation:Storage:Provider must be '{Sqlite}' or '{Postgres}'; got '{Provider}'.";
        }

        if (IsPostgres && ConnectionString.Length == 0)
        {
            return "Segmentation:Storage:Provider is postgres, but neither Segmentation:Storage:ConnectionString nor ConnectionStrings:Segmentation is set.";
        }

        return null;
    }
}
