using Orleans.Metadata;
using Orleans.Placement;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Hosting.Placement;

/// <summary>
/// A placement filter: the candidate silos of a grain class are those whose metadata <c>role</c> lists
/// <see cref="Role"/>. Orleans' own metadata filters compare a silo with the calling silo's metadata (zone affinity);
/// this one compares it with a fixed role, which is what "embedding only on inference silos" needs.
/// </summary>
/// <remarks>
/// The role travels in the grain class's properties (the cluster manifest), so every silo filters alike. Orleans
/// creates one instance per grain class from DI (registered transient) and initialises it from those properties.
/// </remarks>
public sealed class SiloRoleFilter : PlacementFilterStrategy
{
    private const string RoleProperty = "role";

    /// <summary>For DI; <see cref="PlacementFilterStrategy.Initialize"/> then reads the role from the grain properties.</summary>
    public SiloRoleFilter()
        : base(order: 0)
    {
    }

    internal SiloRoleFilter(ServerRoles role)
        : base(order: 0) => Role = role;

    /// <summary>The role a silo must have to host the grain class.</summary>
    public ServerRoles Role { get; private set; }

    /// <inheritdoc />
    public override void AdditionalInitialize(GrainProperties properties)
    {
        var name = GetPlacementFilterGrainProperty(RoleProperty, properties);
        Role = name is null ? ServerRoles.None : ServerRoleNames.ParseOne(name);
    }

    /// <inheritdoc />
    protected override IEnumerable<KeyValuePair<string, string>> GetAdditionalGrainProperties(
        IServiceProvider services, Type grainClass, GrainType grainType, IReadOnlyDictionary<string, string> existingProperties) =>
        [new(RoleProperty, ServerRoleNames.Of(Role))];
}
