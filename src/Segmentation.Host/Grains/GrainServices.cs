namespace Segmentation.Host.Grains;

/// <summary>What the grains of this process work with (a DI singleton), and how many user grains are live.</summary>
/// <remarks>Thread-safe: the services are set at construction; the count is updated atomically.</remarks>
internal sealed class GrainServices
{
    private int _activeUserGrains;
    private int _pendingRefreshes;

    public GrainServices(UserGrainServices users, SegmentRefreshScheduler refreshes, StaleEmbeddings staleEmbeddings)
    {
        Users = users;
        Refreshes = refreshes;
        StaleEmbeddings = staleEmbeddings;
    }

    /// <summary>The user grains' services.</summary>
    public UserGrainServices Users { get; }

    /// <summary>Where user grains queue the segment refreshes they owe.</summary>
    public SegmentRefreshScheduler Refreshes { get; }

    /// <summary>Where user grains wait whose embedding needs an inference silo the cluster lacks.</summary>
    public StaleEmbeddings StaleEmbeddings { get; }

    /// <summary>
    /// Live user grain activations in this process (server statistics, tests of bounded memory).
    /// Counts this silo's activations only (in a cluster, each silo its own).
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
}
