using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Host;
using Segmentation.Host.Seeding;

// The embedded default: every role in one process, SQLite under ./data, h2c on 127.0.0.1:5000.
await using var server = await SegmentationServer.StartAsync(args);
if (server.Options.SeedWhenEmpty)
{
    var started = TimeProvider.System.GetTimestamp();
    var tenant = server.Options.SeedTenant;
    var isDefault = tenant == Segmentation.Grains.TenantKeys.DefaultTenant;
    var summary = await ShopSeeder.SeedIfEmptyAsync(server, server.Options.SeedUsers, NullLogger.Instance, CancellationToken.None, tenant: tenant);
    if (summary is not null)
    {
        // `seg` names the tenant of the shop unless it is the default one.
        var seg = isDefault ? "./seg" : $"./seg --tenant {tenant}";
        var seconds = TimeProvider.System.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine($"Seeded a synthetic shop into tenant '{tenant}': {summary.Events:N0} events for {summary.Users:N0} users in {seconds:F1} s ({summary.Events / seconds:N0} events/s, durable, in-process).");
        try
        {
            // The ML segments a newcomer can look at: a user encoder trained on the shop, then k-means over its embeddings.
            var model = await server.Embeddings.TrainAsync(server.EventLog, server.DomainClock.GetUtcNow(), 16, 42, activate: true, CancellationToken.None);
            if (!isDefault)
            {
                // The ML segmentation serves tenant default only in this release (README, Tenants).
                throw new InvalidOperationException($"the ML segmentation serves tenant 'default' only; the shop is tenant '{tenant}' (trained user encoder v{model.Version} for the profiles' embeddings)");
            }

            var report = await server.Reclustering.RunAsync(
                new Segmentation.Host.Segments.ReclusterSettings(6, 0, 0, DryRun: false, Seed: 1), grain => grain.GetSegmentationInputAsync(), CancellationToken.None);
            Console.WriteLine($"Trained user encoder v{model.Version} (D {model.Dimension}, {model.ItemCount:N0} items) and clustered {report.Users:N0} users into {report.K} ML segments (silhouette {report.Silhouette:F2}):");
            foreach (var segment in report.Segments)
            {
                Console.WriteLine($"  segment {segment.SegmentId}: {segment.Label} ({segment.Size:N0} users)");
            }
        }
        catch (Exception ex) when (ex is Segmentation.Inference.OrtException or InvalidOperationException or Segmentation.Core.Errors.SegmentationException)
        {
            Console.WriteLine($"No ML segments: {ex.Message}");
        }

        try
        {
            // Churn risk from the first query on: a model trained on the shop's own history (seg churn train retrains).
            var churn = await server.Services.GetRequiredService<Segmentation.Host.Churn.ChurnScoring>().TrainAsync(server.EventLog, server.DomainClock.GetUtcNow(), CancellationToken.None);
            Console.WriteLine($"Trained churn model {churn.Version} on {churn.TrainingExamples:N0} labelled users (horizon {churn.HorizonDays} days); seg segments shows each user's risk and why.");
        }
        catch (InvalidOperationException ex)
        {
            Console.WriteLine($"No churn model: {ex.Message}");
        }

        try
        {
            // Value segments (RFM, in marketers' words) from the first query on.
            var (value, _) = await server.Services.GetRequiredService<Segmentation.Host.ValueSegments.ValueSegmentScoring>().TrainAsync(server.EventLog, server.DomainClock.GetUtcNow(), CancellationToken.None);
            Console.WriteLine($"Value segments ({value.Method}, k {value.K}, {value.Customers:N0} buyers): {string.Join(", ", value.Segments.OrderByDescending(s => s.Size).Select(s => $"{s.Label} {s.Size:N0}"))}.");
        }
        catch (InvalidOperationException ex)
        {
            Console.WriteLine($"No value segments: {ex.Message}");
        }

        try
        {
            // Anomaly flags from the first query on (bots, card testers): an Isolation Forest over the shop's profiles.
            var (anomalyVersion, users, flagged) = await server.Services.GetRequiredService<Segmentation.Host.Anomalies.AnomalyScoring>().TrainAsync(server.EventLog, server.DomainClock.GetUtcNow(), CancellationToken.None);
            Console.WriteLine($"Trained anomaly model {anomalyVersion} on {users:N0} users; {flagged:N0} flagged (anomaly:flagged, shown by seg segments).");
        }
        catch (InvalidOperationException ex)
        {
            Console.WriteLine($"No anomaly model: {ex.Message}");
        }

        if (server.Options.Recommendations.ItemModel.Enabled && isDefault)
        {
            // The served item model (EASE^R) and its blend weights, tuned on the shop's held-out last interactions.
            var version = await server.Grains.GetGrain<Segmentation.Grains.IItemModelGrain>(Segmentation.Grains.TenantKeys.DefaultTenant).TrainAsync();
            Console.WriteLine(version > 0 ? $"Trained item model v{version} (EASE^R) for recommendations." : "No item model: too few users.");
        }

        Console.WriteLine("Try, in another terminal:");
        foreach (var (persona, userId) in summary.ExampleUsers)
        {
            Console.WriteLine($"  {seg} segments {userId}      # persona: {persona}");
        }

        Console.WriteLine($"  {seg} profile {summary.ExampleUsers.Values.First()}");
        Console.WriteLine($"  {seg} recommend {summary.ExampleUsers.Values.First()}    # what to show her now, and why");
        Console.WriteLine($"  {seg} similar sku-00001");
        if (isDefault)
        {
            Console.WriteLine("  ./seg segment list                 # ML segments, live sizes and labels; seg recluster --k 8 --dry-run");
        }

        Console.WriteLine("  ./seg ingest ../shared/datasets/online-retail-sample/online_retail.first19999.csv.gz --format online-retail" + (isDefault ? "" : "   # real data: tenant 'default', apart from the shop"));
    }
}

Console.WriteLine($"Serving gRPC ({(server.Options.Tls.Enabled ? "TLS" : "h2c")}) on {server.Address}. Ctrl+C or SIGTERM stops gracefully.");
if (server.AdminAddress is { } admin)
{
    Console.WriteLine($"Orleans dashboard (grains, silos, calls) on {admin}");
    Console.WriteLine($"Web console (segments, map, shoppers, rules) on {admin}console");
}

await server.WaitForShutdownSignalAsync();
await server.StopAsync();
