using System.CommandLine;
using System.Globalization;
using Segmentation.Contracts.V1;
using Spectre.Console;

namespace Segmentation.Cli.Commands;

/// <summary><c>seg erase USER</c>, <c>seg export USER [--output FILE]</c>, <c>seg erasures</c>: a shopper's rights (admin scope).</summary>
internal static class PrivacyCommands
{
    public static Command Erase(Option<Uri> address, Option<bool> json)
    {
        var user = new Argument<string>("user") { Description = "The user id to erase." };
        var command = new Command("erase", "Erase a user: her events, profile, segment memberships and every aggregate derived from her, on every silo.") { user };
        command.SetAction((parse, ct) => SegmentationCommands.CallAsync<EraseUserResponse>(
            parse, address, json,
            (client, token) => client.Privacy.EraseUserAsync(new EraseUserRequest { UserId = parse.GetValue(user) ?? "" }, cancellationToken: token).ResponseAsync,
            ct,
            r => AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"erased: {r.Events:N0} events; removed {string.Join(", ", r.Removed)}; {r.ElapsedSeconds:F3} s; recorded as {r.UserHash}")))));
        return command;
    }

    public static Command Export(Option<Uri> address, Option<bool> json)
    {
        var user = new Argument<string>("user") { Description = "The user id to export." };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write the JSON document to this file instead of the terminal." };
        var command = new Command("export", "Export everything about a user as one JSON document: events, profile, segments, embedding, recommendation inputs.") { user, output };
        command.SetAction((parse, ct) => SegmentationCommands.CallAsync<ExportUserResponse>(
            parse, address, json,
            (client, token) => client.Privacy.ExportUserAsync(new ExportUserRequest { UserId = parse.GetValue(user) ?? "" }, cancellationToken: token).ResponseAsync,
            ct,
            r =>
            {
                if (parse.GetValue(output) is { } file)
                {
                    File.WriteAllText(file.FullName, r.Document);
                    Console.Error.WriteLine($"{r.Events.ToString("N0", CultureInfo.InvariantCulture)} events written to {file.FullName}");
                }
                else
                {
                    Console.WriteLine(r.Document);
                }
            }));
        return command;
    }

    public static Command Erasures(Option<Uri> address, Option<bool> json)
    {
        var limit = new Option<int>("--limit") { Description = "Most records, newest first.", DefaultValueFactory = _ => 50 };
        var command = new Command("erasures", "Erasures and retention runs of the caller's tenant (user ids appear only as hashes).") { limit };
        command.SetAction((parse, ct) => SegmentationCommands.CallAsync<ListErasuresResponse>(
            parse, address, json,
            (client, token) => client.Privacy.ListErasuresAsync(new ListErasuresRequest { Limit = parse.GetValue(limit) }, cancellationToken: token).ResponseAsync,
            ct,
            r =>
            {
                var c = CultureInfo.InvariantCulture;
                var table = new Table().AddColumns("time", "kind", "user hash", "events", "users", "seconds", "removed");
                foreach (var e in r.Records)
                {
                    table.AddRow(
                        e.Time.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm:ss", c), e.Kind, e.UserHash.Length > 16 ? e.UserHash[..16] + "…" : e.UserHash,
                        e.Events.ToString("N0", c), e.Users.ToString("N0", c), e.ElapsedSeconds.ToString("F3", c), Markup.Escape(string.Join(", ", e.Removed)));
                }

                AnsiConsole.Write(table);
            }));
        return command;
    }
}
