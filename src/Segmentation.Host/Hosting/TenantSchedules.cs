using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Hosting;

/// <summary>
/// Starts the per-tenant schedules of a tenant that first appears after the start: its growth-model retraining
/// (<see cref="IGrowthModelsGrain.EnsureStartedAsync"/>, with <see cref="ChurnOptions.RetrainEvery"/>) and its item-model
/// refresh (<see cref="IItemModelGrain.EnsureScheduledAsync"/>, with <see cref="ItemModelOptions.RefreshEvery"/>), as
/// <see cref="Growth.GrowthModelsStartup"/> and <see cref="Recommendations.ItemModelStartup"/> do at the start for the
/// tenants the log already holds. The ingest path reports every tenant it stores events for (<see cref="Seen"/>); the
/// first report of a tenant in this process queues it, and this service starts its schedules once the host has
/// started. Both calls are idempotent (a reminder is registered only when missing), so a tenant the start-up already
/// handled, or one that another gateway of the cluster reported first, costs two grain calls and changes nothing.
/// A failure is logged and the tenant is tried again at its next report; it never stops the host.
/// </summary>
internal sealed partial class TenantSchedules : BackgroundService
{
    private readonly ConcurrentDictionary<string, byte> _reported = new(StringComparer.Ordinal);
    // Unbounded, but each tenant is written once per process (until a failure forgets it): it holds at most the tenants.
    private readonly Channel<string> _arrivals = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IGrainFactory _grains;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<TenantSchedules> _logger;
    private readonly bool _growth;
    private readonly bool _itemModel;

    public TenantSchedules(IGrainFactory grains, SegmentationOptions options, IHostApplicationLifetime lifetime, ILogger<TenantSchedules> logger)
    {
        _grains = grains;
        _lifetime = lifetime;
        _logger = logger;
        _growth = options.Churn.RetrainEvery > TimeSpan.Zero;
        var itemModel = options.Recommendations.ItemModel;
        _itemModel = itemModel.Enabled && itemModel.RefreshEvery > TimeSpan.Zero;
    }

    /// <summary>
    /// Reports that events of <paramref name="tenant"/> were stored. Cheap after a tenant's first report (one dictionary
    /// lookup), so the ingest path calls it for every batch. Thread-safe.
    /// </summary>
    public void Seen(string tenant)
    {
        if ((_growth || _itemModel) && !_reported.ContainsKey(tenant) && _reported.TryAdd(tenant, 0))
        {
            _arrivals.Writer.TryWrite(tenant);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_growth && !_itemModel)
        {
            return;
        }

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _lifetime.ApplicationStopping);
        var cancellationToken = stopping.Token;
        try
        {
            await _lifetime.WaitForStartAsync(cancellationToken);
            await foreach (var tenant in _arrivals.Reader.ReadAllAsync(cancellationToken))
            {
                try
                {
                    // Bounded by the stopping token: a silo that cannot answer does not hold the host's shutdown.
                    if (_growth)
                    {
                        await _grains.GetGrain<IGrowthModelsGrain>(tenant).EnsureStartedAsync().WaitAsync(cancellationToken);
                    }

                    if (_itemModel)
                    {
                        await _grains.GetGrain<IItemModelGrain>(tenant).EnsureScheduledAsync().WaitAsync(cancellationToken);
                    }

                    Started(_logger, tenant);
                }
                catch (Exception ex) when (ex is not OperationCanceledException && ex is not OutOfMemoryException)
                {
                    // Forgotten, so that the tenant's next batch queues it again.
                    _reported.TryRemove(tenant, out _);
                    Failed(_logger, ex, tenant);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(EventId = 1209, Level = LogLevel.Information, Message = "Tenant {Tenant} first seen since the start: its growth-model and item-model schedules are running")]
    private static partial void Started(ILogger logger, string tenant);

    [LoggerMessage(EventId = 1210, Level = LogLevel.Warning, Message = "Tenant {Tenant}'s schedules could not be started; tried again at its next events")]
    private static partial void Failed(ILogger logger, Exception exception, string tenant);
}
