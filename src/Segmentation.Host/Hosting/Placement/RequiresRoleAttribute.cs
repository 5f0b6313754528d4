using Orleans.Placement;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Hosting.Placement;

/// <summary>
/// Places the grain class only on silos whose processes have <paramref name="role"/> in <c>Segmentation:Roles</c>
/// (<see cref="SiloRoleFilter"/>): user and segment grains on <c>silo</c>, embedder grains on <c>inference</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
internal sealed class RequiresRoleAttribute(ServerRoles role) : PlacementFilterAttribute(new SiloRoleFilter(role))
{
}
