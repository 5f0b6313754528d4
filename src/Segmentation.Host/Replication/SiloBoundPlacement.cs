using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace Segmentation.Host.Replication;

/// <summary>
/// Placement of a grain whose key is a silo's address (<see cref="SiloAddress.ToParsableString"/>) on that silo and no
/// other: a per-silo endpoint other silos can call, such as the recommender replica of each silo. When that silo is not
/// an active member of the cluster, activation fails instead of landing elsewhere.
/// </summary>
[GenerateSerializer, Immutable, Alias("segmentation.SiloBoundPlacement")]
public sealed class SiloBoundPlacement : PlacementStrategy
{
    /// <summary>The one instance grains refer to.</summary>
    public static SiloBoundPlacement Instance { get; } = new();

    /// <summary>The grain of the key of <paramref name="silo"/> of a grain type with this placement.</summary>
    public static string KeyOf(SiloAddress silo) => silo.ToParsableString();
}

/// <summary>Places a grain of the class it marks by <see cref="SiloBoundPlacement"/>: on the silo its key names.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloBoundPlacementAttribute() : PlacementAttribute(SiloBoundPlacement.Instance);

/// <summary>Chooses the silo a <see cref="SiloBoundPlacement"/> grain's key names, if it is a compatible active silo.</summary>
internal sealed class SiloBoundPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString();
        SiloAddress silo;
        try
        {
            silo = SiloAddress.FromParsableString(key);
        }
        catch (FormatException ex)
        {
            throw new OrleansException($"Grain {target.GrainIdentity} is placed on the silo its key names, but '{key}' is not a silo address.", ex);
        }

        foreach (var compatible in context.GetCompatibleSilos(target))
        {
            if (compatible.Equals(silo))
            {
                return Task.FromResult(silo);
            }
        }

        throw new OrleansException($"Grain {target.GrainIdentity} is placed on silo {silo} only, which is not an active silo able to host it.");
    }
}
