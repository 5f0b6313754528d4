using Segmentation.Grains;

namespace Segmentation.Host.Replication;

/// <summary>
/// The other active silos of the cluster, and calls to each one's <see cref="ISiloPeerGrain"/>. With one silo there
/// are none, and a broadcast does nothing. Thread-safe.
/// </summary>
internal sealed class SiloPeers(IClusterMembershipService membership, ILocalSiloDetails local, IGrainFactory grains)
{
    /// <summary>The active silos other than this one, now.</summary>
    public IReadOnlyList<SiloAddress> Others()
    {
        var self = local.SiloAddress;
        var others = new List<SiloAddress>();
        foreach (var (silo, member) in membership.CurrentSnapshot.Members)
        {
            if (member.Status == SiloStatus.Active && !silo.Equals(self))
            {
                others.Add(silo);
            }
        }

        return others;
    }

    /// <summary>The key of this silo's own endpoint, as the others address it.</summary>
    public string SelfKey => SiloBoundPlacement.KeyOf(local.SiloAddress);

    /// <summary>The endpoint of <paramref name="silo"/>.</summary>
    public ISiloPeerGrain Of(SiloAddress silo) => Of(SiloBoundPlacement.KeyOf(silo));

    /// <summary>The endpoint whose key is <paramref name="key"/> (<see cref="SiloBoundPlacement.KeyOf"/>).</summary>
    public ISiloPeerGrain Of(string key) => grains.GetGrain<ISiloPeerGrain>(key);

    /// <summary>
    /// Makes <paramref name="call"/> on every other active silo at once and waits for all; returns the silos that
    /// failed, with why (a silo that died meanwhile, a timeout), for the caller to count and log.
    /// </summary>
    public async Task<IReadOnlyList<(SiloAddress Silo, Exception Error)>> BroadcastAsync(Func<ISiloPeerGrain, Task> call)
    {
        var calls = Others().Select(silo => (Silo: silo, Call: call(Of(silo)))).ToList();
        var failed = new List<(SiloAddress, Exception)>();
        foreach (var (silo, pending) in calls)
        {
            try
            {
                await pending;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                failed.Add((silo, ex));
            }
        }

        return failed;
    }
}
