namespace Segmentation.Host.Grains;

/// <summary>
/// What the grains of this process work with, from DI. The server builds the stores, recommender and models before the
/// silo starts and hands them over with <see cref="Set"/>; grains activate only after that.
/// </summary>
/// <remarks>Thread-safe: set once before the silo starts, read-only afterwards.</remarks>
internal sealed class GrainServices
{
    private UserGrainServices? _users;
    private int _activeUserGrains;

    /// <summary>The user grains' services.</summary>
    public UserGrainServices Users => Volatile.Read(ref _users) ?? throw new InvalidOperationException("Grain services are set before the silo starts.");

    /// <summary>
    /// Live user grain activations in this process (server statistics, tests of bounded memory).
    /// Single-silo: counts this silo's activations only; the cluster issue sums them over the cluster.
    /// </summary>
    public int ActiveUserGrains => Volatile.Read(ref _activeUserGrains);

    /// <summary>Counts an activation in (after it activated) or out (when it deactivates).</summary>
    public void CountUserGrain(int delta) => Interlocked.Add(ref _activeUserGrains, delta);

    /// <summary>Sets the services (once, before the silo starts).</summary>
    public void Set(UserGrainServices users) => Volatile.Write(ref _users, users);
}
