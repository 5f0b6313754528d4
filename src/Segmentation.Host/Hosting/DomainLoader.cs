using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Internal;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Segments;
using Segmentation.Storage;

namespace Segmentation.Host.Hosting;

/// <summary>
/// Loads what the domain components derive or keep in storage — recommenders rebuilt from the event log, the rule
/// catalogue, the served user encoder, the last published segmentation model — before the silo activates a grain and
/// before Kestrel serves a call.
/// </summary>
/// <remarks>
/// It loads in <see cref="IHostedLifecycleService.StartingAsync"/>, which the host runs for every lifecycle service
/// before it starts any hosted service (the Orleans silo and Kestrel's <c>GenericWebHostService</c> included), so the
/// order of registration does not matter. A failure fails the host's start.
/// </remarks>
internal sealed class DomainLoader : IHostedLifecycleService
{
    private readonly IEventLog _log;
    private readonly SegmentationOptions _options;
    private readonly TenantRecommenders _recommenders;
    private readonly DomainClocks _clocks;
    private readonly RuleSegmentCatalog _rules;
    private readonly UserEmbeddings _embeddings;
    private readonly MlSegmentation _ml;
    private readonly ItemModels _itemModels;
    private readonly ILogger<DomainLoader> _logger;

    public DomainLoader(
        IEventLog log, SegmentationOptions options, TenantRecommenders recommenders, DomainClocks clocks, RuleSegmentCatalog rules, UserEmbeddings embeddings, MlSegmentation ml, ItemModels itemModels, ILogger<DomainLoader> logger)
    {
        _log = log;
        _options = options;
        _recommenders = recommenders;
        _clocks = clocks;
        _rules = rules;
        _embeddings = embeddings;
        _ml = ml;
        _itemModels = itemModels;
        _logger = logger;
    }

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        // Derived from the log like the profiles: rebuilt before the first call is served.
        // Each tenant's recommenders learn its own users' events (every tenant's event-time clock is checkpointed:
        // ClockCheckpointService).
        var (replayed, rebuildTime) = await LiveRecommender.RebuildAsync(_log, _options.Profiles, _recommenders.For, cancellationToken);
        HostLog.RecommenderRebuilt(_logger, replayed, _recommenders.All.Sum(r => r.Catalog.Count), rebuildTime.TotalSeconds);
        await _itemModels.LoadNewestAsync();
        await _rules.EnsureLoadedAsync().WaitAsync(cancellationToken);
        await _embeddings.LoadActiveAsync();
        await _ml.LoadAsync(cancellationToken);
        ScheduleLog.Loaded(_logger, TimeProvider.System.GetElapsedTime(started).TotalSeconds, _embeddings.Version?.ToString() ?? "none", _ml.Current?.Version ?? 0);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
