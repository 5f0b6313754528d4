using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Segmentation.Host.Anomalies;

/// <summary>Serves the stored anomaly model from the start, before any grain is asked; one that does not read fails the start, naming it.</summary>
internal sealed partial class AnomalyModelLoader(AnomalyScoring anomalies, ILogger<AnomalyModelLoader> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken) =>
        Loaded(logger, await anomalies.LoadAsync(cancellationToken) ?? "none");

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1511, Level = LogLevel.Information, Message = "Anomaly model {Version} served")]
    private static partial void Loaded(ILogger logger, string version);
}
