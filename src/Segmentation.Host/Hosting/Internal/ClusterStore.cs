using Microsoft.Extensions.Logging;
using Npgsql;
using Segmentation.Storage.Postgres;

namespace Segmentation.Host.Hosting.Internal;

/// <summary>
/// The connections of Orleans' membership, gateway-list and reminder tables: a data source of their own, apart from the
/// event log's. Heartbeats, probes' votes and reminder reads must not queue behind a group commit of 20,000 events, and
/// a silo that cannot reach the membership table is soon declared dead by its peers. Disposed with the container, after
/// the tables that use it.
/// </summary>
internal sealed class ClusterStore : IAsyncDisposable
{
    public ClusterStore(string connectionString, string schema, ILoggerFactory loggerFactory)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.UseLoggerFactory(loggerFactory);
        DataSource = builder.Build();
        Options = new PostgresStorageOptions { Schema = schema };
    }

    /// <summary>Pooled connections to the cluster store.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>The schema of the tables (<c>Segmentation:Storage:Schema</c>, the event log's).</summary>
    public PostgresStorageOptions Options { get; }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
