using System.Net;
using Orleans.Configuration;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Hosting;

/// <summary>
/// Cluster membership from <c>Segmentation:Cluster</c> (<see cref="Configuration.ClusterOptions"/>): <c>localhost</c>,
/// a cluster of this process alone (the embedded default), or <c>development</c>, Orleans' development clustering
/// around a primary silo, for several processes on one machine or network.
/// </summary>
internal static class Clustering
{
    /// <summary>Joins (or forms) the cluster the settings name, with this silo on <paramref name="siloPort"/>.</summary>
    public static ISiloBuilder UseSegmentationClustering(this ISiloBuilder orleans, SegmentationOptions options, int siloPort)
    {
        var cluster = options.Cluster;
        if (!cluster.IsDevelopment)
        {
            return orleans.UseLocalhostClustering(siloPort, options.Silo.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
        }

        var advertised = Advertised(cluster);
        var primary = cluster.PrimarySilo.Length > 0 ? IPEndPoint.Parse(cluster.PrimarySilo) : new IPEndPoint(advertised, siloPort);
        orleans.UseDevelopmentClustering(primary);
        orleans.Configure<Orleans.Configuration.ClusterOptions>(ids =>
        {
            ids.ClusterId = cluster.ClusterId;
            ids.ServiceId = cluster.ServiceId;
        });
        orleans.Configure<EndpointOptions>(endpoints =>
        {
            endpoints.AdvertisedIPAddress = advertised;
            endpoints.SiloPort = siloPort;
            endpoints.GatewayPort = options.Silo.GatewayPort;
            // Listen where we advertise (loopback in tests), not on every interface.
            endpoints.SiloListeningEndpoint = new IPEndPoint(advertised, siloPort);
            endpoints.GatewayListeningEndpoint = options.Silo.GatewayPort == 0 ? null : new IPEndPoint(advertised, options.Silo.GatewayPort);
        });
        return orleans;
    }

    /// <summary>
    /// Connects an Orleans client to the cluster the settings name, through the gateway of the silo at
    /// <c>PrimarySilo</c>'s address on <c>Segmentation:Silo:GatewayPort</c> (<c>development</c>) or on this machine
    /// (<c>localhost</c>).
    /// </summary>
    public static IClientBuilder UseSegmentationClustering(this IClientBuilder client, SegmentationOptions options)
    {
        var cluster = options.Cluster;
        if (!cluster.IsDevelopment)
        {
            return client.UseLocalhostClustering(options.Silo.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
        }

        var host = cluster.PrimarySilo.Length > 0 ? IPEndPoint.Parse(cluster.PrimarySilo).Address : Advertised(cluster);
        client.UseStaticClustering(new IPEndPoint(host, options.Silo.GatewayPort));
        client.Configure<Orleans.Configuration.ClusterOptions>(ids =>
        {
            ids.ClusterId = cluster.ClusterId;
            ids.ServiceId = cluster.ServiceId;
        });
        return client;
    }

    private static IPAddress Advertised(Configuration.ClusterOptions cluster) =>
        cluster.AdvertisedAddress.Length > 0 ? IPAddress.Parse(cluster.AdvertisedAddress) : IPAddress.Loopback;
}
