using Segmentation.Core.Errors;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Hosting.Placement;

/// <summary>
/// On a process without the <c>silo</c> role (a gateway, an inference silo): a grain call that Orleans could not place
/// because no silo of the cluster has the <c>silo</c> role — a gateway that started before the silos, say — fails with
/// <see cref="ServiceUnavailableException"/> naming the role (UNAVAILABLE at the edge) instead of Orleans' placement
/// error (UNKNOWN). Registered only there, so the embedded default's calls never pass through it.
/// </summary>
internal sealed class MissingSiloCallFilter(ClusterRoles roles) : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (OrleansException ex) when (!roles.AnyActive(ServerRoles.Silo))
        {
            throw new ServiceUnavailableException(
                $"silo: no silo with the silo role ({ServerRoleNames.Setting}) is in the cluster; user and segment grains run once one joins", ex);
        }
    }
}
