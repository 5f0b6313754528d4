using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Host.ValueSegments;

namespace Segmentation.Host.Anomalies;

/// <summary>
/// Serves the stored anomaly model and value segmentation from the start, before any grain is asked; one that does
/// not read fails the start, naming it.
/// </summary>
internal sealed partial class ServedModelsLoader(AnomalyScoring anomalies, ValueSegmentScoring values, ILogger<ServedModelsLoader> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken) =>
        Loaded(logger, await anomalies.LoadAsync(cancellationToken) ?? "none", await values.LoadAsync(cancellationToken) ?? "none");

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1511, Level = LogLevel.Information, Message = "Anomaly model {Anomaly} and value segmentation {Value} served")]
    private static partial void Loaded(ILogger logger, string anomaly, string value);
}
