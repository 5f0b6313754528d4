using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Host;
using Segmentation.Host.Seeding;

// The embedded default: every role in one process, SQLite under ./data, h2c on 127.0.0.1:5000.
await using var server = await SegmentationServer.StartAsync(args);
if (server.Options.SeedWhenEmpty)
{
    var started = TimeProvider.System.GetTimestamp();
    var summary = await ShopSeeder.SeedIfEmptyAsync(server, server.Options.SeedUsers, NullLogger.Instance, CancellationToken.None);
    if (summary is not null)
    {
        var seconds = TimeProvider.System.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine($"Seeded a synthetic shop: {summary.Events:N0} events for {summary.Users:N0} users in {seconds:F1} s ({summary.Events / seconds:N0} events/s, durable, in-process).");
        Console.WriteLine("Try, in another terminal:");
        foreach (var (persona, userId) in summary.ExampleUsers)
        {
            Console.WriteLine($"  ./seg segments {userId}      # persona: {persona}");
        }

        Console.WriteLine($"  ./seg profile {summary.ExampleUsers.Values.First()}");
        Console.WriteLine($"  ./seg recommend {summary.ExampleUsers.Values.First()}    # what to show her now, and why");
        Console.WriteLine("  ./seg similar sku-00001");
        Console.WriteLine("  ./seg ingest ../shared/datasets/online-retail-sample/online_retail.first19999.csv.gz --format online-retail");
    }
}

Console.WriteLine($"Serving gRPC (h2c) on {server.Address}. Ctrl+C or SIGTERM stops gracefully.");
await server.WaitForShutdownSignalAsync();
await server.StopAsync();
