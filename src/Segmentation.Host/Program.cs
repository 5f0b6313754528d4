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
        await ShopModels.TrainAsync(server, tenant, Console.Out);
        Console.WriteLine("Try, in another terminal:");
        foreach (var (persona, userId) in summary.ExampleUsers)
        {
            Console.WriteLine($"  {seg} segments {userId}      # persona: {persona}");
        }

        Console.WriteLine($"  {seg} profile {summary.ExampleUsers.Values.First()}");
        Console.WriteLine($"  {seg} recommend {summary.ExampleUsers.Values.First()}    # what to show her now, and why");
        Console.WriteLine($"  {seg} similar sku-00001");
        Console.WriteLine($"  {seg} segment list      # ML segments, live sizes and labels; {seg} recluster --k 8 --dry-run");
        Console.WriteLine("  ./seg ingest ../shared/datasets/online-retail-sample/online_retail.first19999.csv.gz --format online-retail" + (isDefault ? "" : "   # real data: tenant 'default', apart from the shop (then ./seg recluster --k 0 for its ML segments)"));
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
