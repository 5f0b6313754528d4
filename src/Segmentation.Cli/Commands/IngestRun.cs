using System.Globalization;
using Grpc.Core;
using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;
using Spectre.Console;

namespace Segmentation.Cli.Commands;

/// <summary>What <c>seg ingest</c> was asked to do.</summary>
/// <param name="Path">The file.</param>
/// <param name="Format">The format given by <c>--format</c>, or null to recognise it from the file.</param>
/// <param name="BatchSize">Events per <c>IngestEvents</c> call (1 to 10,000).</param>
/// <param name="MaxRejectedShare">Exit 1 when more than this share of the rows is rejected (1: only when nothing is accepted).</param>
/// <param name="Json">Print one JSON object instead of text.</param>
/// <param name="RejectsFile">Where to write every rejected row (line, source, message; tab-separated), or null.</param>
internal sealed record IngestSettings(string Path, EventFileFormat? Format, int BatchSize, double MaxRejectedShare, bool Json, string? RejectsFile);

/// <summary>
/// One <c>seg ingest</c> run: decide the format (given, checked against the file, or recognised from it), read the
/// rows, send the ones the reader finds nothing wrong with in <c>IngestEvents</c> batches (the next batch is read while
/// one is in flight), map every server rejection back to its line through the batch's line numbers, and report.
/// </summary>
/// <remarks>
/// Exit codes: 0 done; 1 nothing was accepted, or more than <see cref="IngestSettings.MaxRejectedShare"/> of the rows
/// was rejected; 2 the file cannot be read as events (missing, empty, no rows, no known format, not the format given,
/// unreadable part-way: rows before that point were ingested); 3 the server failed a call (rows before it were ingested).
/// Unary calls rather than <c>StreamEvents</c>: each reply has a result per event, so every server rejection, not only
/// the stream's first hundred, names its line.
/// </remarks>
internal static class IngestRun
{
    public const int Ok = 0;
    public const int TooManyRejected = 1;
    public const int BadFile = 2;
    public const int ServerFailed = 3;

    public static async Task<int> RunAsync(IngestSettings settings, SegmentationClient client, TextWriter output, TextWriter error, bool interactive, CancellationToken cancellationToken)
    {
        var summary = new IngestSummary(settings.Path);
        try
        {
            summary.ExitCode = await IngestAsync(settings, client, summary, interactive && !settings.Json, cancellationToken);
        }
        catch (EventFileFormatException ex)
        {
            (summary.Error, summary.ExitCode) = (ex.Message, BadFile);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // GZipStream reports corrupt data as InvalidDataException, often with a misleading "unsupported compression method".
            var problem = ex is InvalidDataException ? $"its gzip data is corrupt ({ex.Message})" : ex.Message;
            var where = summary.Rows > 0 ? string.Create(CultureInfo.InvariantCulture, $" after {summary.Rows:N0} rows (those were sent)") : "";
            (summary.Error, summary.ExitCode) = ($"the file cannot be read{where}: {problem}", BadFile);
        }
        catch (RpcException ex)
        {
            (summary.Error, summary.ExitCode) = ($"server: {ex.StatusCode} ({(int)ex.StatusCode}): {ex.Status.Detail}", ServerFailed);
        }

        if (settings.Json)
        {
            await output.FlushAsync(cancellationToken);
            using var stdout = new MemoryStream();
            summary.WriteJson(stdout);
            await output.WriteAsync(System.Text.Encoding.UTF8.GetString(stdout.ToArray()));
        }
        else
        {
            summary.WriteText(output);
        }

        if (summary.Error is { } message)
        {
            await error.WriteLineAsync("error: " + message);
        }

        return summary.ExitCode;
    }

    private static async Task<int> IngestAsync(IngestSettings settings, SegmentationClient client, IngestSummary summary, bool progress, CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.Path))
        {
            throw new EventFileFormatException($"file not found: {settings.Path}");
        }

        var decision = await EventFileReader.DecideFormatAsync(settings.Path, settings.Format, cancellationToken);
        summary.Format = EventFileReader.FormatNames[(int)decision.Format];
        summary.FormatHow = decision.How;
        await using var rejects = settings.RejectsFile is { } rejectsPath ? new StreamWriter(rejectsPath) : null;

        if (progress)
        {
            // A terminal: a progress bar (counting the rows first costs one read of the file without decoding).
            var total = EventFileReader.CountRows(settings.Path, decision.Format);
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask($"ingest {Path.GetFileName(settings.Path)}", maxValue: Math.Max(1, total));
                    await SendAsync(settings, decision.Format, client, summary, rejects, rows => task.Value = rows, cancellationToken);
                    task.Value = task.MaxValue;
                });
        }
        else
        {
            await SendAsync(settings, decision.Format, client, summary, rejects, null, cancellationToken);
        }

        var c = CultureInfo.InvariantCulture;
        if (summary.Accepted + summary.Duplicates == 0)
        {
            summary.Error = string.Create(c, $"nothing was accepted: all {summary.Rows:N0} rows were rejected");
            return TooManyRejected;
        }

        if (summary.RejectedShare > settings.MaxRejectedShare)
        {
            summary.Error = string.Create(c, $"{summary.RejectedShare:0.0%} of the rows were rejected, more than --max-rejected-share {settings.MaxRejectedShare:0.###}");
            return TooManyRejected;
        }

        return Ok;
    }

    private static async Task SendAsync(
        IngestSettings settings, EventFileFormat format, SegmentationClient client, IngestSummary summary, StreamWriter? rejects, Action<long>? progress, CancellationToken cancellationToken)
    {
        var batch = new Batch();
        (Task<IngestEventsResponse> Call, Batch Batch)? inFlight = null;
        await foreach (var row in EventFileReader.ReadRowsAsync(settings.Path, format, cancellationToken))
        {
            summary.Rows++;
            if (row.Problem is { } problem)
            {
                var message = problem.At(row.LineNumber);
                summary.Reject("file", problem.Reason, message, row.LineNumber);
                await WriteRejectAsync(rejects, row.LineNumber, "file", message);
                continue;
            }

            batch.Add(row.Event, row.LineNumber);
            if (batch.Request.Events.Count == settings.BatchSize)
            {
                // One call in flight while the next batch is read; the server sees batches in file order.
                if (inFlight is { } previous)
                {
                    await CompleteAsync(await previous.Call, previous.Batch, summary, rejects);
                }

                inFlight = (client.IngestAsync(batch.Request, cancellationToken), batch);
                batch = new Batch();
                progress?.Invoke(summary.Rows);
            }
        }

        if (inFlight is { } last)
        {
            await CompleteAsync(await last.Call, last.Batch, summary, rejects);
        }

        if (batch.Request.Events.Count > 0)
        {
            await CompleteAsync(await client.IngestAsync(batch.Request, cancellationToken), batch, summary, rejects);
        }

        progress?.Invoke(summary.Rows);
    }

    private static async Task CompleteAsync(IngestEventsResponse response, Batch batch, IngestSummary summary, StreamWriter? rejects)
    {
        summary.Accepted += response.Accepted;
        summary.Duplicates += response.Duplicates;
        if (response.Rejected == 0)
        {
            return;
        }

        foreach (var result in response.Results)
        {
            if (result.Outcome == IngestOutcome.Rejected)
            {
                // The result's index is the event's place in the request, whose line the batch kept.
                var line = batch.Lines[result.Index];
                var reason = result.Field + ": " + result.Reason;
                var message = string.Create(CultureInfo.InvariantCulture, $"line {line:N0}: {reason}");
                summary.Reject("server", reason, message, line);
                await WriteRejectAsync(rejects, line, "server", message);
            }
        }
    }

    private static async Task WriteRejectAsync(StreamWriter? rejects, long line, string source, string message)
    {
        if (rejects is not null)
        {
            await rejects.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{line}\t{source}\t{message}"));
        }
    }

    /// <summary>One request and the file line of each of its events.</summary>
    private sealed class Batch
    {
        public IngestEventsRequest Request { get; } = new();

        public List<long> Lines { get; } = [];

        public void Add(Event e, long line)
        {
            Request.Events.Add(e);
            Lines.Add(line);
        }
    }
}
