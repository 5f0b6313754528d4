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
    private int _pendingRefreshes;

    /// <summary>The user grains' services.</summary>
    public UserGrainServices Users => Volatile.Read(ref _users) ?? throw new InvalidOperationException("Grain services are set before the silo starts.");

    /// <summary>
    /// Live user grain activations in this process (server statistics, tests of bounded memory).
    /// Single-silo: counts this silo's activations only; the cluster issue sums them over the cluster.
    /// </summary>
    public int ActiveUserGrains => Volatile.Read(ref _activeUserGrains);

    /// <summary>Counts an activation in (after it activated) or out (when it deactivates).</summary>
    public void CountUserGrain(int delta) => Interlocked.Add(ref _activeUserGrains, delta);

    /// <summary>
    /// User grains of this process whose derived segment state (embedding, ML segment, statistics, published
    /// memberships) has not caught up with their folded events yet: 0 means every acknowledged event's effects are in.
    /// </summary>
    public int PendingSegmentRefreshes => Volatile.Read(ref _pendingRefreshes);

    /// <summary>Counts a user grain in (its derived state fell behind) or out (refreshed, or deactivated).</summary>
    public void CountPendingRefresh(int delta) => Interlocked.Add(ref _pendingRefreshes, delta);

    /// <summary>Sets the services (once, before the silo starts).</summary>
    public void Set(UserGrainServices users) => Volatile.Write(ref _users, users);
}
