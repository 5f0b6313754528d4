using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Segmentation.Host.Churn;

/// <summary>Serves the newest stored churn model from the start, before any grain is asked; a bad file fails the start, naming it.</summary>
internal sealed partial class ChurnModelLoader(ChurnScoring churn, ILogger<ChurnModelLoader> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var model = churn.LoadNewest();
        Loaded(logger, model?.Version ?? "none", churn.Directory);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Churn model {Version} served (from {Directory})")]
    private static partial void Loaded(ILogger logger, string version, string directory);
}
