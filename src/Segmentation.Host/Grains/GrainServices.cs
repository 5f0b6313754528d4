namespace Segmentation.Host.Grains;

/// <summary>What the grains of this process work with (a DI singleton), and how many user grains are live.</summary>
/// <remarks>Thread-safe: the services are set at construction; the count is updated atomically.</remarks>
internal sealed class GrainServices
{
    private int _activeUserGrains;

    public GrainServices(UserGrainServices users) => Users = users;

    /// <summary>The user grains' services.</summary>
    public UserGrainServices Users { get; }

    /// <summary>
    /// Live user grain activations in this process (server statistics, tests of bounded memory).
    /// Single-silo: counts this silo's activations only; the cluster issue sums them over the cluster.
    /// </summary>
    public int ActiveUserGrains => Volatile.Read(ref _activeUserGrains);

    /// <summary>Counts an activation in (after it activated) or out (when it deactivates).</summary>
    public void CountUserGrain(int delta) => Interlocked.Add(ref _activeUserGrains, delta);
}
