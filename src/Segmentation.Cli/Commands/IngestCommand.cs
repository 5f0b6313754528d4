using System.CommandLine;
using System.Runtime.CompilerServices;
using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;
using Spectre.Console;

namespace Segmentation.Cli.Commands;

/// <summary><c>seg ingest FILE --format F</c>: streams a file through <c>StreamEvents</c> with a progress bar.</summary>
internal static class IngestCommand
{
    public static Command Create(Option<Uri> address)
    {
        var file = new Argument<FileInfo>("file") { Description = "The file to ingest (.gz is read transparently)." };
        var format = new Option<string>("--format", "-f")
        {
            Description = "online-retail | rees46 | taobao | movielens | jsonl",
            Required = true,
        };
        var batchSize = new Option<int>("--batch") { Description = "Events per batch (at most 10,000).", DefaultValueFactory = _ => 1_000 };
        var command = new Command("ingest", "Stream a file of events into the service.") { file, format, batchSize };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!.FullName;
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"error: file not found: {path}");
                return 2;
            }

            EventFileFormat fileFormat;
            try
            {
                fileFormat = EventFileReader.ParseFormat(parse.GetValue(format)!);
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return 2;
            }

            var size = Math.Clamp(parse.GetValue(batchSize), 1, 10_000);
            using var client = new SegmentationClient(parse.GetValue(address)!);
            var total = EventFileReader.CountRows(path, fileFormat);
            StreamEventsResponse? summary = null;
            return await QueryCommands.RunAsync(async () =>
            {
                await AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .StartAsync(async context =>
                    {
                        var task = context.AddTask($"ingest {Path.GetFileName(path)}", maxValue: Math.Max(1, total));
                        var batches = BatchesAsync(EventFileReader.ReadAsync(path, fileFormat, cancellationToken), size, n => task.Increment(n), cancellationToken);
                        summary = await client.StreamAsync(batches, cancellationToken);
                        task.Value = task.MaxValue;
                    });
                Print(summary!);
            });
        });
        return command;
    }

    private static async IAsyncEnumerable<IngestEventsRequest> BatchesAsync(
        IAsyncEnumerable<Event> events, int size, Action<int> progress, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var batch = new IngestEventsRequest();
        await foreach (var e in events.WithCancellation(cancellationToken))
        {
            batch.Events.Add(e);
            if (batch.Events.Count == size)
            {
                progress(size);
                yield return batch;
                batch = new IngestEventsRequest();
            }
        }

        if (batch.Events.Count > 0)
        {
            progress(batch.Events.Count);
            yield return batch;
        }
    }

    private static void Print(StreamEventsResponse summary)
    {
        var table = new Table().AddColumns("received", "accepted", "duplicate", "rejected");
        table.AddRow($"{summary.Received:N0}", $"{summary.Accepted:N0}", $"{summary.Duplicates:N0}", $"{summary.Rejected:N0}");
        AnsiConsole.Write(table);
        if (summary.TopRejectionReasons.Count > 0)
        {
            var reasons = new Table().AddColumns("rejections", "reason");
            foreach (var reason in summary.TopRejectionReasons)
            {
                reasons.AddRow($"{reason.Count:N0}", Markup.Escape(reason.Reason));
            }

            AnsiConsole.Write(reasons);
        }

        // A plain line for scripts and tests.
        Console.WriteLine($"received={summary.Received} accepted={summary.Accepted} duplicates={summary.Duplicates} rejected={summary.Rejected}");
    }
}
