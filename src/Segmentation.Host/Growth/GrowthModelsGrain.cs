using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting.Placement;

namespace Segmentation.Host.Growth;

/// <summary>
/// Retrains the growth models on a reminder every <see cref="ChurnOptions.RetrainEvery"/> (<see cref="IGrowthModelsGrain"/>).
/// Not reentrant: one retraining at a time. Training calls no grain (the peers are told afterwards), so the long turn
/// cannot deadlock.
/// </summary>
[RequiresRole(ServerRoles.Silo)]
// Keyed by tenant: it retrains that tenant's models, as of that tenant's "now".
internal sealed partial class GrowthModelsGrain(TenantGrowthModels tenants, SegmentationOptions options, Internal.DomainClocks clocks, ILogger<GrowthModelsGrain> logger)
    : Grain, IGrowthModelsGrain, IRemindable
{
    /// <summary>The reminder that retrains.</summary>
    internal const string RetrainReminder = "growth-models";

    public async Task EnsureStartedAsync()
    {
        // Registered only when new or changed, so a restart does not push the next run back by a whole period.
        var every = options.Churn.RetrainEvery;
        var existing = await this.GetReminder(RetrainReminder);
        if (every > TimeSpan.Zero)
        {
            if (existing is null)
            {
                await this.RegisterOrUpdateReminder(RetrainReminder, every, every);
            }

            Scheduled(logger, every);
        }
        else if (existing is not null)
        {
            await this.UnregisterReminder(existing);
        }
    }

    public async Task<string[]> RetrainAsync()
    {
        var tenant = this.GetPrimaryKeyString();
        var models = await tenants.ForAsync(tenant);
        return await models.RetrainAsync(clocks.For(tenant).GetUtcNow(), CancellationToken.None);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != RetrainReminder)
        {
            return;
        }

        try
        {
            Retrained(logger, string.Join("; ", await RetrainAsync()));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Failed(logger, ex);
        }
    }

    [LoggerMessage(EventId = 1521, Level = LogLevel.Information, Message = "Growth models (churn, value segments, anomalies) retrained every {Every}")]
    private static partial void Scheduled(ILogger logger, TimeSpan every);

    [LoggerMessage(EventId = 1522, Level = LogLevel.Information, Message = "Growth models retrained: {Outcomes}")]
    private static partial void Retrained(ILogger logger, string outcomes);

    [LoggerMessage(EventId = 1523, Level = LogLevel.Error, Message = "Growth models: retraining failed")]
    private static partial void Failed(ILogger logger, Exception error);
}
