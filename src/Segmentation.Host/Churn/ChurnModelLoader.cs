using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Segmentation.Host.Churn;

/// <summary>Serves the stored churn model from the start, before any grain is asked; a bad one fails the start, naming it.</summary>
internal sealed partial class ChurnModelLoader(ChurnScoring churn, ILogger<ChurnModelLoader> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var model = await churn.LoadAsync(cancellationToken);
        Loaded(logger, model?.Version ?? "none", churn.Directory);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Churn model {Version} served (from the store, or else {Directory})")]
    private static partial void Loaded(ILogger logger, string version, string directory);
}
