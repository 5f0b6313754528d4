using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Serialization;
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Hosting.Placement;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Replication;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Hosting;

/// <summary>
/// The Orleans silo co-hosted in the service's ASP.NET Core application (DESIGN.md section 2): membership and reminders
/// from <c>Segmentation:Cluster</c> (<see cref="Clustering"/>; the embedded default is localhost clustering with itself
/// alone and in-memory reminders), its roles as silo metadata, idle collection and memory-pressure shedding.
/// </summary>
internal static class Silo
{
    /// <summary>
    /// Adds the silo to <paramref name="builder"/> (a hosted service: it starts after the services registered before it and
    /// stops before them). It starts and stops with the host: on stop every activation is deactivated, so user grains
    /// write their snapshots before the stores close.
    /// </summary>
    public static void AddSegmentationSilo(this WebApplicationBuilder builder, SegmentationOptions options)
    {
        var silo = options.Silo;
        builder.UseOrleans(orleans =>
        {
            // Membership and reminders as Segmentation:Cluster says (Clustering.cs). Scheduled work (re-clustering on a
            // schedule, SegmentationModelGrain) uses reminders: in memory for localhost and development clustering, so a
            // schedule is registered again at each start (from Segmentation:Segments:ReclusterEvery); in PostgreSQL with
            // postgres membership, where they outlive every silo.
            orleans.UseSegmentationClustering(options);
            // Roles (Segmentation:Roles) as silo metadata, beside any Orleans:Metadata:* set in configuration; the role
            // filter places user and segment grains on `silo` processes and embedder grains on `inference` ones.
            var metadata = builder.Configuration.GetSection("Orleans:Metadata").Get<Dictionary<string, string>>() ?? [];
            metadata[ClusterRoles.MetadataKey] = ServerRoleNames.Format(options.Roles);
            orleans.UseSiloMetadata(metadata);
            orleans.Services.AddSingleton<ClusterRoles>();
            orleans.Services.AddPlacementFilter<SiloRoleFilter, SiloRoleFilterDirector>(ServiceLifetime.Transient);
            if ((options.Roles & ServerRoles.Silo) == 0)
            {
                // A gateway's user-grain calls survive a silo's death or hand-off (retried; the outer filter, so it sees
                // Orleans' exceptions before MissingSiloCallFilter turns "no silo at all" into UNAVAILABLE).
                orleans.AddOutgoingGrainCallFilter<SiloLossRetryFilter>();
                orleans.AddOutgoingGrainCallFilter<MissingSiloCallFilter>();
            }

            // Our domain exceptions cross silos as themselves (Orleans sends other namespaces' as a fallback type), so a
            // grain's ServiceUnavailableException reaches the gateway's error mapping as UNAVAILABLE, not UNKNOWN.
            orleans.Services.Configure<ExceptionSerializationOptions>(exceptions => exceptions.SupportedNamespacePrefixes.Add("Segmentation"));
            orleans.Configure<ReminderOptions>(reminders => reminders.MinimumReminderPeriod = silo.MinimumReminderPeriod);
            if (options.AdminListen.Length > 0)
            {
                // Grain and silo statistics for the dashboard, served on the admin port (SegmentationServer maps it).
                orleans.AddDashboard();
            }

            if (Telemetry.IsEnabled(builder.Configuration))
            {
                // Grain calls join the caller's trace (gRPC server span → grain call → our spans inside the turn). Only
                // with telemetry on: the propagation filters run on every grain call, listener or not, and a query
                // that does little else pays for them in its throughput.
                orleans.AddActivityPropagation();
            }
            orleans.Configure<GrainCollectionOptions>(collection =>
            {
                collection.CollectionAge = options.GrainIdleTimeout;
                collection.CollectionQuantum = silo.CollectionQuantum;
                collection.ActivationTimeout = silo.ActivationTimeout;
                collection.DeactivationTimeout = silo.DeactivationTimeout;
                collection.EnableActivationSheddingOnMemoryPressure = true;
                collection.MemoryUsageLimitPercentage = silo.MemoryUsageLimitPercentage;
                collection.MemoryUsageTargetPercentage = silo.MemoryUsageTargetPercentage;
            });
            // Per-silo grains (the recommender replica of each silo) are placed on the silo their key names.
            orleans.AddPlacementDirector<SiloBoundPlacement, SiloBoundPlacementDirector>();
            if (!options.Cluster.IsLocalhost)
            {
                // Several silos: recommenders, the segmentation model and the rule segments kept the same on each.
                orleans.Services.AddSingleton<SiloPeers>();
                orleans.Services.AddSingleton(_ => new SegmentChangeRelay(TimeProvider.System));
                orleans.Services.AddHostedService(sp => new ClusterReplication(
                    sp.GetRequiredService<SiloPeers>(), sp.GetRequiredService<TenantRecommenders>(), sp.GetRequiredService<TenantSegmentations>(),
                    sp.GetRequiredService<CustomerIndex>(), sp.GetRequiredService<TenantRules>(), sp.GetRequiredService<UserEmbeddings>(), sp.GetRequiredService<SegmentChangeFeed>(),
                    sp.GetRequiredService<SegmentChangeRelay>(), TimeProvider.System, options.Recommendations.ReplicationInterval, sp.GetRequiredService<ILogger<ClusterReplication>>()));
            }

            orleans.Configure<GrainDirectoryOptions>(directory => directory.CacheSize = silo.DirectoryCacheSize);
            orleans.Configure<SiloMessagingOptions>(messaging => messaging.ResponseTimeout = silo.ResponseTimeout);
        });
    }

    // Bind-and-release: another process can take the port before the silo binds it (it happened once, with a crash
    // audit's servers starting beside the tests); SegmentationServer.StartAsync then starts again with ports found anew,
    // and a configured port avoids it altogether.
    internal static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
