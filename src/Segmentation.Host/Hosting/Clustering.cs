using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting.Internal;
using Segmentation.Storage.Postgres.Cluster;

namespace Segmentation.Host.Hosting;

/// <summary>
/// How a silo joins, and an Orleans client finds, the cluster that <c>Segmentation:Cluster</c> describes
/// (<see cref="MembershipOptions"/>): localhost clustering for the embedded service, Orleans' development clustering
/// for several silos without a database, or membership and reminders in PostgreSQL for the production cluster.
/// </summary>
/// <remarks>
/// With <c>postgres</c>, the tables are ours (<see cref="PostgresMembershipTable"/>, <see cref="PostgresReminderTable"/>,
/// <see cref="PostgresGatewayListProvider"/> in Segmentation.Storage.Postgres), in the schema of the event log, created
/// by its migration step when the silo first touches them: nothing to run by hand. Orleans' ADO.NET providers would
/// need SQL scripts that their packages do not ship (<see cref="PostgresMembershipTable"/> says more).
/// </remarks>
internal static class Clustering
{
    /// <summary>The variable Kubernetes sets in every container it starts: the API server's address.</summary>
    internal const string KubernetesServiceHostVariable = "KUBERNETES_SERVICE_HOST";

    /// <summary>
    /// Configures the silo's membership, endpoints, cluster identity, reminders and membership timings, and Orleans'
    /// Kubernetes hosting in a pod (<see cref="UsesKubernetesHosting"/>, from this process's
    /// <c>KUBERNETES_SERVICE_HOST</c>). <c>Segmentation:Silo:SiloPort</c> 0 takes a free port; <c>GatewayPort</c> 0 opens
    /// no gateway.
    /// </summary>
    /// <exception cref="InvalidOperationException">A <c>Segmentation:Cluster</c> setting is invalid (the message names it).</exception>
    public static ISiloBuilder UseSegmentationClustering(this ISiloBuilder silo, SegmentationOptions options) =>
        silo.UseSegmentationClustering(options, Environment.GetEnvironmentVariable(KubernetesServiceHostVariable));

    /// <summary>
    /// Whether a silo runs Orleans' Kubernetes hosting (<c>UseKubernetesHosting</c>, Microsoft.Orleans.Hosting.Kubernetes):
    /// only in a pod — <paramref name="kubernetesServiceHost"/>, the value of <c>KUBERNETES_SERVICE_HOST</c>, is set —
    /// and only in a cluster of several silos (<c>Segmentation:Cluster:Membership</c> not <c>localhost</c>). Outside a
    /// pod it cannot reach an API server and fails the start; a localhost cluster has no peers whose pods to watch.
    /// </summary>
    /// <remarks>
    /// In a pod it takes the silo's name from <c>POD_NAME</c>, watches the pods labelled <c>orleans/serviceId</c> and
    /// <c>orleans/clusterId</c> (from <c>POD_NAMESPACE</c>, <c>ORLEANS_SERVICE_ID</c>, <c>ORLEANS_CLUSTER_ID</c>) and
    /// declares a silo dead as soon as its pod is gone, rather than after missed probes. Every process is a silo, so
    /// every pod of the cluster — gateways too — needs those variables and labels, and a service account that may get,
    /// watch, list and patch pods: a silo whose pod the others cannot see among the labelled ones is declared dead.
    /// Our endpoints and cluster ids are set explicitly above, so its defaults for them (<c>POD_IP</c>, the
    /// <c>ORLEANS_*</c> ids) must agree with <c>Segmentation:Cluster</c>; the overlay's validator checks they do.
    /// </remarks>
    internal static bool UsesKubernetesHosting(MembershipOptions cluster, string? kubernetesServiceHost) =>
        !string.IsNullOrWhiteSpace(kubernetesServiceHost) && !cluster.IsLocalhost;

    /// <summary>
    /// <see cref="UseSegmentationClustering(ISiloBuilder, SegmentationOptions)"/> with <c>KUBERNETES_SERVICE_HOST</c> given
    /// (null or empty: not in a pod).
    /// </summary>
    internal static ISiloBuilder UseSegmentationClustering(this ISiloBuilder silo, SegmentationOptions options, string? kubernetesServiceHost)
    {
        var cluster = Validated(options);
        if (cluster.Tls.Enabled)
        {
            silo.UseClusterTls(cluster.Tls);
        }

        var siloPort = options.Silo.SiloPort == 0 ? Silo.FreeLoopbackPort() : options.Silo.SiloPort;
        var gatewayPort = options.Silo.GatewayPort;
        if (cluster.IsLocalhost)
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.EffectiveClusterId);
            silo.UseInMemoryReminderService();
            return silo;
        }

        var address = cluster.EffectiveAdvertisedAddress;
        // A pod advertises its own IP but must also accept connections made to its other addresses (loopback probes,
        // a service's cluster IP); a loopback silo listens on loopback only.
        silo.ConfigureEndpoints(address, siloPort, gatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(address));
        silo.Configure<ClusterOptions>(ids =>
        {
            ids.ClusterId = cluster.EffectiveClusterId;
            ids.ServiceId = cluster.ServiceId;
        });
        silo.Configure<ClusterMembershipOptions>(membership =>
        {
            membership.ProbeTimeout = cluster.ProbeTimeout;
            membership.NumMissedProbesLimit = cluster.NumMissedProbesLimit;
            membership.NumVotesForDeathDeclaration = cluster.NumVotesForDeathDeclaration;
            membership.DeathVoteExpirationTimeout = cluster.DeathVoteExpirationTimeout;
            membership.IAmAliveTablePublishTimeout = cluster.IAmAliveTablePublishTimeout;
            membership.TableRefreshTimeout = cluster.TableRefreshTimeout;
            membership.MaxJoinAttemptTime = cluster.MaxJoinAttemptTime;
        });
        if (UsesKubernetesHosting(cluster, kubernetesServiceHost))
        {
            silo.UseKubernetesHosting();
        }

        if (cluster.IsDevelopment)
        {
            MembershipOptions.TryParseEndpoint(cluster.PrimarySilo, out var primary);
            silo.UseDevelopmentClustering(Resolve(primary!, "Segmentation:Cluster:PrimarySilo"));
            silo.UseInMemoryReminderService();
            return silo;
        }

        var connectionString = options.Storage.ConnectionString;
        var schema = options.Storage.Schema;
        silo.AddReminders();
        silo.ConfigureServices(services =>
        {
            services.AddSingleton(sp => new ClusterStore(connectionString, schema, sp.GetRequiredService<ILoggerFactory>()));
            services.AddSingleton<IMembershipTable>(sp =>
            {
                var store = sp.GetRequiredService<ClusterStore>();
                return new PostgresMembershipTable(store.DataSource, store.Options, cluster.EffectiveClusterId, sp.GetRequiredService<ILogger<PostgresMembershipTable>>());
            });
            services.AddSingleton<IReminderTable>(sp =>
            {
                var store = sp.GetRequiredService<ClusterStore>();
                return new PostgresReminderTable(store.DataSource, store.Options, cluster.ServiceId, sp.GetRequiredService<ILogger<PostgresReminderTable>>());
            });
        });
        return silo;
    }

    /// <summary>
    /// Configures an Orleans client (a gateway-only process) to find the cluster's gateways: the active silos in the
    /// PostgreSQL membership table under <c>postgres</c>; <c>Segmentation:Cluster:Gateways</c> under <c>development</c>
    /// (required there); under <c>localhost</c>, those gateways or loopback at <c>Segmentation:Silo:GatewayPort</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A <c>Segmentation:Cluster</c> setting is invalid (the message names it).</exception>
    public static IClientBuilder UseSegmentationClustering(this IClientBuilder client, SegmentationOptions options)
    {
        var cluster = Validated(options);
        if (cluster.Tls.Enabled)
        {
            client.UseClusterTls(cluster.Tls);
        }

        client.Configure<ClusterOptions>(ids =>
        {
            ids.ClusterId = cluster.EffectiveClusterId;
            ids.ServiceId = cluster.ServiceId;
        });
        client.Configure<GatewayOptions>(gateways => gateways.GatewayListRefreshPeriod = cluster.GatewayListRefreshPeriod);
        if (cluster.IsPostgres)
        {
            var connectionString = options.Storage.ConnectionString;
            var schema = options.Storage.Schema;
            client.ConfigureServices(services =>
            {
                services.AddSingleton(sp => new ClusterStore(connectionString, schema, sp.GetRequiredService<ILoggerFactory>()));
                services.AddSingleton<IGatewayListProvider>(sp => new PostgresGatewayListProvider(
                    sp.GetRequiredService<ClusterStore>().DataSource,
                    sp.GetRequiredService<ClusterStore>().Options,
                    cluster.EffectiveClusterId,
                    sp.GetRequiredService<IOptions<GatewayOptions>>().Value.GatewayListRefreshPeriod));
            });
            return client;
        }

        var gateways = cluster.ParseGateways()!;
        if (gateways.Count == 0)
        {
            if (cluster.IsDevelopment || options.Silo.GatewayPort == 0)
            {
                throw new InvalidOperationException(cluster.IsDevelopment
                    ? "Segmentation:Cluster:Membership is development, so an Orleans client needs Segmentation:Cluster:Gateways (host:port of silos' gateway ports)."
                    : "Segmentation:Cluster:Membership is localhost, so an Orleans client needs Segmentation:Silo:GatewayPort (the silo's gateway) or Segmentation:Cluster:Gateways.");
            }

            gateways.Add(new DnsEndPoint(IPAddress.Loopback.ToString(), options.Silo.GatewayPort));
        }

        client.UseStaticClustering([.. gateways.Select(g => Resolve(g, "Segmentation:Cluster:Gateways"))]);
        return client;
    }

    private static MembershipOptions Validated(SegmentationOptions options)
    {
        if (options.Cluster.Validate(options.Storage.ConnectionString) is { Count: > 0 } problems)
        {
            throw new InvalidOperationException("Invalid Segmentation:Cluster settings: " + string.Join(" ", problems));
        }

        return options.Cluster;
    }

    /// <summary>An IP endpoint for <paramref name="endpoint"/>, resolving a host name now (Orleans wants addresses).</summary>
    private static IPEndPoint Resolve(DnsEndPoint endpoint, string setting)
    {
        if (IPAddress.TryParse(endpoint.Host, out var ip))
        {
            return new IPEndPoint(ip, endpoint.Port);
        }

        try
        {
            var addresses = Dns.GetHostAddresses(endpoint.Host);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
            return chosen is null
                ? throw new InvalidOperationException($"{setting}: host '{endpoint.Host}' has no address.")
                : new IPEndPoint(chosen, endpoint.Port);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            throw new InvalidOperationException($"{setting}: host '{endpoint.Host}' cannot be resolved: {ex.Message}", ex);
        }
    }
}
