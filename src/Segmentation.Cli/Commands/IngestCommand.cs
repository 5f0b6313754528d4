using System.CommandLine;
using System.Globalization;
using Segmentation.Cli.Formats;

namespace Segmentation.Cli.Commands;

/// <summary>
/// <c>seg ingest FILE [--format F]</c>: reads a file of events, sends its rows through <c>IngestEvents</c> and says, per
/// reason, which rows were rejected and on which lines (<see cref="IngestRun"/>; exit codes there).
/// </summary>
internal static class IngestCommand
{
    public static Command Create(Option<Uri> address, Option<bool> json)
    {
        var file = new Argument<FileInfo>("file") { Description = "The file to ingest (.gz is read transparently)." };
        var format = new Option<string?>("--format", "-f")
        {
            Description = "online-retail | rees46 | taobao | movielens | jsonl (default: recognised from the file's first lines).",
        };
        var batchSize = new Option<int>("--batch") { Description = "Events per batch (at most 10,000).", DefaultValueFactory = _ => 1_000 };
        var maxRejectedShare = new Option<double>("--max-rejected-share")
        {
            Description = "Exit 1 when more than this share of the rows is rejected, 0 to 1 (default 1: only when nothing is accepted).",
            DefaultValueFactory = _ => 1,
        };
        var rejects = new Option<FileInfo?>("--rejects") { Description = "Write every rejected row (line, file|server, message; tab-separated) to this file." };
        var command = new Command("ingest", "Send a file of events to the service; report rejected rows by reason and line.") { file, format, batchSize, maxRejectedShare, rejects };
        command.SetAction(async (parse, cancellationToken) =>
        {
            EventFileFormat? fileFormat = null;
            var share = parse.GetValue(maxRejectedShare);
            try
            {
                if (parse.GetValue(format) is { Length: > 0 } name)
                {
                    fileFormat = EventFileReader.ParseFormat(name);
                }

                if (share is < 0 or > 1 || double.IsNaN(share))
                {
                    throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--max-rejected-share must be between 0 and 1; got {share}"));
                }
            }
            catch (ArgumentException ex)
            {
                await Console.Error.WriteLineAsync("error: " + ex.Message);
                return IngestRun.BadFile;
            }

            var settings = new IngestSettings(
                parse.GetValue(file)!.FullName, fileFormat, Math.Clamp(parse.GetValue(batchSize), 1, 10_000), share, parse.GetValue(json), parse.GetValue(rejects)?.FullName);
            using var client = new SegmentationClient(parse.GetValue(address)!);
            // Progress bars only on a terminal: piped output carries no ANSI codes and no progress lines.
            return await IngestRun.RunAsync(settings, client, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected, cancellationToken);
        });
        return command;
    }
}
