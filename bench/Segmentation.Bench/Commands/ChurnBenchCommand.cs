using System.CommandLine;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Contracts.V1;
using Segmentation.Host.Seeding;
using Spectre.Console;

namespace Segmentation.Bench.Commands;

/// <summary>
/// <c>segbench bench-churn</c>: durable ingest over gRPC with churn scoring on and off, in one run. Two servers in this
/// process are seeded with the same shop; one is given a trained churn model (so every ingested user is scored in her
/// refresh), the other none; rounds alternate between them with the same batches, so the machine's load falls on both
/// alike. Numbers and their ratio, not thresholds.
/// </summary>
internal static class ChurnBenchCommand
{
    public static Command Create()
    {
        var users = new Option<int>("--users") { Description = "Seeded shop users (the churn model's training data).", DefaultValueFactory = _ => 2_000 };
        var batches = new Option<int>("--ingest-batches") { Description = "Batches of 1,000 events per round.", DefaultValueFactory = _ => 40 };
        var rounds = new Option<int>("--rounds") { Description = "Alternating off/on rounds.", DefaultValueFactory = _ => 3 };
        var command = new Command("bench-churn", "Durable ingest events/s with churn scoring on vs off, in one run.") { users, batches, rounds };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await RunAsync(parse.GetValue(users), parse.GetValue(batches), parse.GetValue(rounds), cancellationToken);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int userCount, int batches, int rounds, CancellationToken cancellationToken)
    {
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; load average {Scenarios.Failover.LoadAverage()}");
        await using var off = await TemporaryServer.StartAsync("seg-churn-off-", [], cancellationToken);
        await using var on = await TemporaryServer.StartAsync("seg-churn-on-", [], cancellationToken);
        using var offChannel = GrpcChannel.ForAddress(off.Server.Address);
        using var onChannel = GrpcChannel.ForAddress(on.Server.Address);
        foreach (var server in new[] { off.Server, on.Server })
        {
            await ShopSeeder.SeedIfEmptyAsync(server, userCount, NullLogger.Instance, cancellationToken);
        }

        var model = await new AdminService.AdminServiceClient(onChannel).TrainChurnModelAsync(new TrainChurnModelRequest(), cancellationToken: cancellationToken);
        Console.WriteLine($"seeded {userCount:N0} shop users into both; churn model {model.Version} on one ({model.Examples:N0} examples, horizon {model.HorizonDays} days)");

        var sides = new[] { ("off", off.Server, new EventService.EventServiceClient(offChannel)), ("on", on.Server, new EventService.EventServiceClient(onChannel)) };
        // Warm-up: tiered compilation and the new users' first activations, on both, before anything is timed.
        foreach (var (name, server, client) in sides)
        {
            await BenchCommand.IngestRunAsync(server, client, $"warm-{name}", Math.Max(1, batches / 4), countCalls: false, cancellationToken);
        }

        var runs = sides.ToDictionary(s => s.Item1, _ => new List<BenchCommand.IngestRun>());
        for (var r = 0; r < rounds; r++)
        {
            foreach (var (name, server, client) in sides)
            {
                runs[name].Add(await BenchCommand.IngestRunAsync(server, client, $"round{r}", batches, countCalls: false, cancellationToken));
            }
        }

        var table = new Table().AddColumns("churn scoring", "acked events/s (best)", "caught up events/s (best)", "CPU µs/event (mean)", "rounds acked events/s");
        foreach (var (name, list) in runs)
        {
            table.AddRow(name, $"{list.Max(x => x.PerSecond):N0}", $"{list.Max(x => x.CaughtUpPerSecond):N0}", $"{list.Average(x => x.CpuMicrosecondsPerEvent):F1}", string.Join(" ", list.Select(x => $"{x.PerSecond:N0}")));
        }

        AnsiConsole.Write(table);
        Console.WriteLine(
            $"on/off: acked {runs["on"].Max(x => x.PerSecond) / runs["off"].Max(x => x.PerSecond):F2} (best rounds), " +
            $"{runs["on"].Average(x => x.PerSecond) / runs["off"].Average(x => x.PerSecond):F2} (means); " +
            $"caught up {runs["on"].Max(x => x.CaughtUpPerSecond) / runs["off"].Max(x => x.CaughtUpPerSecond):F2} (best rounds)");
        Console.WriteLine($"CPU µs per event (both servers and the clients share this process): on {runs["on"].Average(x => x.CpuMicrosecondsPerEvent):F1}, off {runs["off"].Average(x => x.CpuMicrosecondsPerEvent):F1}");
        // What the timed refreshes computed: the same ingested user, scored on one server only.
        foreach (var (name, channel) in new[] { ("off", offChannel), ("on", onChannel) })
        {
            var segments = await new SegmentService.SegmentServiceClient(channel).GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "bench-user-1" }, cancellationToken: cancellationToken);
            Console.WriteLine($"bench-user-1 with churn scoring {name}: {(segments.Churn is { } churn ? $"churn {churn.Probability:P0} ({churn.Band})" : "no churn score")}");
        }

        Console.WriteLine($"load average after: {Scenarios.Failover.LoadAverage()}");
    }
}
