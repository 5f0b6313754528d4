using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Segmentation.Host.Configuration;
using Segmentation.Storage;
using Segmentation.Storage.Postgres;
using Segmentation.Storage.Sqlite;

namespace Segmentation.Host.Hosting;

/// <summary>
/// The event log and snapshot store the settings choose (<see cref="StorageOptions"/>), registered by their interfaces.
/// Everything stored goes through them: events, user snapshots, published segmentation models, rule segments, the
/// clock checkpoint.
/// </summary>
/// <remarks>
/// The container creates each store once, at start (hosted services take them), and disposes it at host disposal. With
/// PostgreSQL, the shared <see cref="NpgsqlDataSource"/> is created before the stores and therefore disposed after them.
/// Opening a PostgreSQL store runs the schema migration, so an unreachable or misconfigured database fails the start
/// with the setting to fix, not the first ingest.
/// </remarks>
internal static class StorageServices
{
    public static IServiceCollection AddSegmentationStorage(this IServiceCollection services, SegmentationOptions options, Func<string, string> dataFile)
    {
        if (!options.Storage.IsPostgres)
        {
            services.AddSingleton<IEventLog>(sp => new SqliteEventLog(
                dataFile("events.db"), new SqliteStorageOptions { Synchronous = options.SqliteSynchronous }, sp.GetRequiredService<ILogger<SqliteEventLog>>()));
            services.AddSingleton<ISnapshotStore>(sp => new SqliteSnapshotStore(
                dataFile("snapshots.db"), new SqliteStorageOptions { Synchronous = options.SnapshotSynchronous }, sp.GetRequiredService<ILogger<SqliteSnapshotStore>>()));
            return services;
        }

        var storage = options.Storage;
        var postgres = new PostgresStorageOptions { Schema = storage.Schema, BulkInsert = storage.BulkInsert };
        services.AddSingleton(sp => Usable(storage, () =>
        {
            var builder = new NpgsqlDataSourceBuilder(storage.ConnectionString);
            builder.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            return builder.Build();
        }));
        services.AddSingleton<IEventLog>(sp => Usable(storage, () => PostgresEventLog.OpenAsync(
            sp.GetRequiredService<NpgsqlDataSource>(), postgres, sp.GetRequiredService<ILogger<PostgresEventLog>>()).GetAwaiter().GetResult()));
        services.AddSingleton<ISnapshotStore>(sp => Usable(storage, () => PostgresSnapshotStore.OpenAsync(
            sp.GetRequiredService<NpgsqlDataSource>(), postgres, sp.GetRequiredService<ILogger<PostgresSnapshotStore>>()).GetAwaiter().GetResult()));
        return services;
    }

    /// <summary>Runs <paramref name="open"/>; a connection string or database that cannot be used is reported with the setting that names it.</summary>
    private static T Usable<T>(StorageOptions storage, Func<T> open)
    {
        try
        {
            return open();
        }
        catch (Exception ex) when (ex is NpgsqlException or ArgumentException)
        {
            throw new InvalidOperationException(
                $"Segmentation:Storage:Provider is postgres, but the database of Segmentation:Storage:ConnectionString (or ConnectionStrings:Segmentation), {Describe(storage.ConnectionString)}, cannot be used: {ex.Message}",
                ex);
        }
    }

    /// <summary>Host, port and database of a connection string — never its password.</summary>
    private static string Describe(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            return $"host {builder.Host ?? "(none)"} port {builder.Port} database {builder.Database ?? "(default)"}";
        }
        catch (ArgumentException)
        {
            return "(not a valid connection string)";
        }
    }
}
