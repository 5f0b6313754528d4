using Microsoft.Extensions.DependencyInjection;
using Segmentation.Grains;
using Segmentation.Host.Growth;
using Segmentation.Host.Internal;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Seeding;

/// <summary>
/// Everything a newcomer looks at after the first run, trained on a freshly seeded shop in its tenant: the user encoder
/// (shared by every tenant) and the tenant's ML segments, churn, value and anomaly models and item model, each trained on
/// that tenant's users only and as of that tenant's "now". What each did is written to the output, a model the shop is
/// too small for named with the reason.
/// </summary>
internal static class ShopModels
{
    /// <summary>Trains every model of <paramref name="tenant"/> and writes what came out to <paramref name="output"/>.</summary>
    public static async Task TrainAsync(SegmentationServer server, string tenant, TextWriter output)
    {
        // Every model of the shop is its tenant's, trained on its users only, as of its own "now"; the user encoder is the
        // one model all tenants share (it maps behaviour to vectors; centroids and labels are per tenant).
        var now = server.Services.GetRequiredService<DomainClocks>().For(tenant).GetUtcNow();
        try
        {
            // The ML segments a newcomer can look at: a user encoder trained on the shop, then k-means over its embeddings.
            var model = await server.Embeddings.TrainAsync(server.EventLog, now, 16, 42, activate: true, CancellationToken.None);
            var segmentation = await server.Services.GetRequiredService<TenantSegmentations>().ForAsync(tenant);
            var report = await segmentation.Reclustering.RunAsync(
                new ReclusterSettings(6, 0, 0, DryRun: false, Seed: 1), grain => grain.GetSegmentationInputAsync(), CancellationToken.None);
            // Its model grain publishes the live centroids from now on.
            await server.Grains.GetGrain<ISegmentationModelGrain>(tenant).EnsureStartedAsync();
            output.WriteLine($"Trained user encoder v{model.Version} (D {model.Dimension}, {model.ItemCount:N0} items) and clustered {report.Users:N0} users into {report.K} ML segments (silhouette {report.Silhouette:F2}):");
            foreach (var segment in report.Segments)
            {
                output.WriteLine($"  segment {segment.SegmentId}: {segment.Label} ({segment.Size:N0} users)");
            }
        }
        catch (Exception ex) when (ex is Inference.OrtException or InvalidOperationException or Core.Errors.SegmentationException)
        {
            output.WriteLine($"No ML segments: {ex.Message}");
        }

        var growth = await server.Services.GetRequiredService<TenantGrowthModels>().ForAsync(tenant);
        try
        {
            // Churn risk from the first query on: a model trained on the shop's own history (seg churn train retrains).
            var churn = await growth.Churn.TrainAsync(server.EventLog, now, CancellationToken.None);
            output.WriteLine($"Trained churn model {churn.Version} on {churn.TrainingExamples:N0} labelled users (horizon {churn.HorizonDays} days); seg segments shows each user's risk and why.");
        }
        catch (InvalidOperationException ex)
        {
            output.WriteLine($"No churn model: {ex.Message}");
        }

        try
        {
            // Value segments (RFM, in marketers' words) from the first query on.
            var (value, _) = await growth.Values.TrainAsync(server.EventLog, now, CancellationToken.None);
            output.WriteLine($"Value segments ({value.Method}, k {value.K}, {value.Customers:N0} buyers): {string.Join(", ", value.Segments.OrderByDescending(s => s.Size).Select(s => $"{s.Label} {s.Size:N0}"))}.");
        }
        catch (InvalidOperationException ex)
        {
            output.WriteLine($"No value segments: {ex.Message}");
        }

        try
        {
            // Anomaly flags from the first query on (bots, card testers): an Isolation Forest over the shop's profiles.
            var (anomalyVersion, users, flagged) = await growth.Anomalies.TrainAsync(server.EventLog, now, CancellationToken.None);
            output.WriteLine($"Trained anomaly model {anomalyVersion} on {users:N0} users; {flagged:N0} flagged (anomaly:flagged, shown by seg segments).");
        }
        catch (InvalidOperationException ex)
        {
            output.WriteLine($"No anomaly model: {ex.Message}");
        }

        if (server.Options.Recommendations.ItemModel.Enabled)
        {
            // The served item model (EASE^R) and its blend weights, tuned on the shop's held-out last interactions.
            var version = await server.Grains.GetGrain<IItemModelGrain>(tenant).TrainAsync();
            output.WriteLine(version > 0 ? $"Trained item model v{version} (EASE^R) for recommendations." : "No item model: too few users.");
        }
    }
}
