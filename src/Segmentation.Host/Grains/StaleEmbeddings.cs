using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting.Placement;
using Segmentation.Host.Internal;

namespace Segmentation.Host.Grains;

/// <summary>
/// The user grains of this silo whose embedding could not be computed for want of an inference silo (DESIGN.md
/// section 2). While any is waiting, it looks every <see cref="RetryPeriod"/> for an inference silo in the cluster and,
/// once there is one, refreshes them, so their embeddings and ML segments catch up without waiting for their next event
/// or query.
/// </summary>
/// <remarks>
/// Thread-safe. A grain adds itself when its embedding fails that way and removes itself when it is computed or when it
/// deactivates (the next activation starts stale anyway), so the set holds only live, stale users.
/// </remarks>
internal sealed class StaleEmbeddings(ClusterRoles roles, ILogger<StaleEmbeddings> logger) : BackgroundService
{
    /// <summary>How often the cluster is looked at while users wait.</summary>
    public static readonly TimeSpan RetryPeriod = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, IUserGrain> _waiting = new(StringComparer.Ordinal);

    /// <summary>Users waiting.</summary>
    public int Count => _waiting.Count;

    /// <summary>Marks the user (grain key) as waiting for an inference silo.</summary>
    public void Add(string key, IUserGrain grain) => _waiting.TryAdd(key, grain);

    /// <summary>The user no longer waits (embedded, or deactivated).</summary>
    public void Remove(string key) => _waiting.TryRemove(key, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RetryPeriod, TimeProvider.System);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (_waiting.IsEmpty || !roles.AnyActive(ServerRoles.Inference))
                {
                    continue;
                }

                // One at a time: the refreshes queue at the inference silos' batchers like any others, and a user whose
                // refresh fails again stays in the set for the next tick.
                foreach (var (key, grain) in _waiting.ToArray())
                {
                    try
                    {
                        await grain.RefreshSegmentAsync().WaitAsync(stoppingToken);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        HostLog.RefreshFailed(logger, key, ex);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
