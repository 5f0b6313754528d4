using Microsoft.Extensions.Logging;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting.Placement;

namespace Segmentation.Host.Privacy;

/// <summary>
/// Runs <see cref="Retention"/> on a reminder every <see cref="PrivacyOptions.RetentionEvery"/> while any tenant has a
/// retention (<see cref="IRetentionGrain"/>). Not reentrant: a run waits for the one before. A run calls user grains,
/// segment grains, the segmentation model grain and the other silos' endpoints; none calls back here.
/// </summary>
[RequiresRole(ServerRoles.Silo)]
internal sealed class RetentionGrain(Retention retention, PrivacyOptions options, ILogger<RetentionGrain> logger) : Grain, IRetentionGrain, IRemindable
{
    /// <summary>The reminder that runs retention.</summary>
    internal const string RetentionReminder = "retention";

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Registered only when new or changed, so a re-activation does not push the next run back by a whole period.
        var existing = await this.GetReminder(RetentionReminder, cancellationToken);
        if (options.AnyRetention)
        {
            if (existing is null)
            {
                await this.RegisterOrUpdateReminder(RetentionReminder, options.RetentionEvery, options.RetentionEvery, cancellationToken);
            }

            PrivacyLogMessages.RetentionScheduled(logger, options.RetentionEvery);
        }
        else if (existing is not null)
        {
            await this.UnregisterReminder(existing, cancellationToken);
        }
    }

    public Task EnsureStartedAsync() => Task.CompletedTask;

    public async Task<long> RunAsync()
    {
        var records = await retention.RunAsync(CancellationToken.None);
        foreach (var record in records)
        {
            PrivacyLogMessages.RetentionRan(logger, record.Events, record.Users, record.Tenant, record.ElapsedSeconds);
        }

        return records.Sum(r => r.Events);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != RetentionReminder)
        {
            return;
        }

        try
        {
            await RunAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            PrivacyLogMessages.RetentionFailed(logger, ex);
        }
    }
}
