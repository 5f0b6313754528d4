namespace Segmentation.Host.Segments;

/// <summary>One tenant's ML segmentation on this host and its re-clustering.</summary>
internal sealed class TenantSegmentation(MlSegmentation ml, Reclustering reclustering)
{
    private readonly Lock _loadLock = new();
    private Task? _loaded;

    /// <summary>The published model, members and statistics.</summary>
    public MlSegmentation Ml => ml;

    /// <summary>The re-clustering that replaces <see cref="Ml"/>'s model.</summary>
    public Reclustering Reclustering => reclustering;

    /// <summary>The tenant.</summary>
    public string Tenant => ml.Tenant;

    /// <summary>Loads the published model once; a failed load is tried again by the next caller.</summary>
    public Task EnsureLoadedAsync(CancellationToken cancellationToken)
    {
        lock (_loadLock)
        {
            if (_loaded is null || _loaded.IsFaulted || _loaded.IsCanceled)
            {
                _loaded = ml.LoadAsync(CancellationToken.None);
            }

            return _loaded.WaitAsync(cancellationToken);
        }
    }
}
