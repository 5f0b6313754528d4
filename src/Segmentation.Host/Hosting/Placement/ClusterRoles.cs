using Orleans.Runtime.MembershipService.SiloMetadata;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Hosting.Placement;

/// <summary>
/// The roles of the cluster's silos, as their metadata <c>role</c> publishes them (<see cref="MetadataKey"/>, e.g.
/// <c>role=silo,inference</c>). This process's own roles are known from its settings, so it never waits for its own
/// metadata to reach the cache; other silos' roles are known once Orleans' silo metadata cache has fetched them, a
/// moment after they join (until then they are not candidates). Thread-safe.
/// </summary>
internal sealed class ClusterRoles(SegmentationOptions options, ILocalSiloDetails local, ISiloMetadataCache metadata, IClusterMembershipService membership)
{
    /// <summary>The silo metadata key that carries a process's roles.</summary>
    public const string MetadataKey = "role";

    /// <summary>This process's roles.</summary>
    public ServerRoles Local => options.Roles;

    /// <summary>Whether <paramref name="silo"/> has <paramref name="role"/>.</summary>
    public bool Has(SiloAddress silo, ServerRoles role)
    {
        if (silo.Equals(local.SiloAddress))
        {
            return (options.Roles & role) == role;
        }

        return metadata.GetSiloMetadata(silo).Metadata.TryGetValue(MetadataKey, out var roles)
            && (ServerRoleNames.Parse(roles) & role) == role;
    }

    /// <summary>Whether an active silo of the cluster (this one included) has <paramref name="role"/>.</summary>
    public bool AnyActive(ServerRoles role) =>
        membership.CurrentSnapshot.Members.Values.Any(m => m.Status == SiloStatus.Active && Has(m.SiloAddress, role));
}
