using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace Segmentation.Host.Hosting.Placement;

/// <summary>Applies <see cref="SiloRoleFilter"/>: keeps the candidate silos that have the filter's role.</summary>
internal sealed class SiloRoleFilterDirector(ClusterRoles roles) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var role = ((SiloRoleFilter)filterStrategy).Role;
        return silos.Where(silo => roles.Has(silo, role));
    }
}
