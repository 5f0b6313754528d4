using System.Net;
using Npgsql;
using Orleans.Messaging;

namespace Segmentation.Storage.Postgres.Cluster;

/// <summary>
/// Where an Orleans client finds the cluster's gateways (<see cref="IGatewayListProvider"/>): the silos of
/// <c>cluster_members</c> that are <see cref="SiloStatus.Active"/> and opened a gateway port (the table
/// <see cref="PostgresMembershipTable"/> keeps). A client refreshes the list every <see cref="MaxStaleness"/>, and drops a
/// gateway at once when its connection breaks.
/// </summary>
/// <remarks>Thread-safe: every call takes its own pooled connection. It never migrates the schema; silos do.</remarks>
public sealed class PostgresGatewayListProvider : IGatewayListProvider
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _clusterId;
    private readonly string _schema;

    /// <summary>Creates the provider; nothing is read until <see cref="GetGatewaysAsync"/>.</summary>
    /// <param name="dataSource">The cluster store's connections; the caller disposes it after this provider.</param>
    /// <param name="options">Only <see cref="PostgresStorageOptions.Schema"/> is used.</param>
    /// <param name="clusterId">The cluster whose gateways to list.</param>
    /// <param name="maxStaleness">How often the client asks again (Orleans' <c>GatewayOptions.GatewayListRefreshPeriod</c>).</param>
    public PostgresGatewayListProvider(NpgsqlDataSource dataSource, PostgresStorageOptions options, string clusterId, TimeSpan maxStaleness)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        _dataSource = dataSource;
        _clusterId = clusterId;
        _schema = options.QuotedSchema;
        MaxStaleness = maxStaleness;
    }

    /// <inheritdoc/>
    public TimeSpan MaxStaleness { get; }

    /// <inheritdoc/>
    [Obsolete("Orleans considers every provider updatable.")]
    public bool IsUpdatable => true;

    /// <summary>Nothing to prepare: the connection is opened per call.</summary>
    public Task InitializeGatewayListProviderAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The gateway addresses (<c>gwy.tcp://ip:proxy-port/generation</c>) of the cluster's active silos.</summary>
    public async Task<IList<Uri>> GetGatewaysAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            $"SELECT address, proxy_port, generation FROM {_schema}.cluster_members WHERE cluster_id = $1 AND status = $2 AND proxy_port > 0");
        command.Parameters.Add(new() { Value = _clusterId });
        command.Parameters.Add(new() { Value = (int)SiloStatus.Active });
        var gateways = new List<Uri>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            gateways.Add(SiloAddress.New(IPAddress.Parse(reader.GetString(0)), reader.GetInt32(1), reader.GetInt32(2)).ToGatewayUri());
        }

        return gateways;
    }

    Task IGatewayListProvider.InitializeGatewayListProvider() => InitializeGatewayListProviderAsync(CancellationToken.None);

    Task<IList<Uri>> IGatewayListProvider.GetGateways() => GetGatewaysAsync(CancellationToken.None);
}
