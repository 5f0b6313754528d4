using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Contracts.V1;
using Spectre.Console;

namespace Segmentation.Cli.Commands;

/// <summary><c>seg keys create|list|revoke</c> (API keys) and <c>seg audit</c> (admin actions), through <c>AccessService</c>.</summary>
internal static class AccessCommands
{
    public static Command Keys(Option<Uri> address, Option<bool> json)
    {
        var scopes = new Option<string>("--scopes") { Description = "Comma-separated: ingest, read, admin.", DefaultValueFactory = _ => "ingest,read" };
        var tenant = new Option<string>("--tenant") { Description = "The key's tenant (default: the caller's, 'default' on an open server).", DefaultValueFactory = _ => "" };
        var name = new Option<string>("--name") { Description = "A label for people.", DefaultValueFactory = _ => "" };
        var ingestRate = new Option<double>("--ingest-rate") { Description = "Events/s this key may ingest (0: the server's default)." };
        var queryRate = new Option<double>("--query-rate") { Description = "Calls/s this key may make otherwise (0: the server's default)." };
        var create = new Command("create", "Create an API key; its secret is printed once.") { scopes, tenant, name, ingestRate, queryRate };
        create.SetAction((parse, ct) => SegmentationCommands.CallAsync<CreateApiKeyResponse>(
            parse,
            address,
            json,
            (client, token) => client.Access.CreateApiKeyAsync(
                new CreateApiKeyRequest
                {
                    Tenant = parse.GetValue(tenant) ?? "",
                    Scopes = { (parse.GetValue(scopes) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                    Name = parse.GetValue(name) ?? "",
                    IngestEventsPerSecond = parse.GetValue(ingestRate),
                    QueriesPerSecond = parse.GetValue(queryRate),
                },
                cancellationToken: token).ResponseAsync,
            ct,
            r =>
            {
                Console.WriteLine($"created key {r.Key.Id} for tenant {r.Key.Tenant}, scopes {string.Join(",", r.Key.Scopes)}. Keep it now; it is not shown again:");
                Console.WriteLine(r.Secret);
                Console.WriteLine("Use it: export SEG_API_KEY=<the key>, or seg --key <the key> ...");
            }));

        var includeRevoked = new Option<bool>("--all") { Description = "Include revoked keys." };
        var list = new Command("list", "The API keys of the caller's tenant (never their secrets).") { includeRevoked };
        list.SetAction((parse, ct) => SegmentationCommands.CallAsync<ListApiKeysResponse>(
            parse, address, json, (client, token) => client.Access.ListApiKeysAsync(new ListApiKeysRequest { IncludeRevoked = parse.GetValue(includeRevoked) }, cancellationToken: token).ResponseAsync, ct, PrintKeys));

        var id = new Argument<string>("id") { Description = "The key's id (seg keys list)." };
        var revoke = new Command("revoke", "Revoke an API key: its next call is refused.") { id };
        revoke.SetAction((parse, ct) => SegmentationCommands.CallAsync<RevokeApiKeyResponse>(
            parse, address, json, (client, token) => client.Access.RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = parse.GetValue(id) ?? "" }, cancellationToken: token).ResponseAsync, ct,
            r => PrintKeys(new ListApiKeysResponse { Keys = { r.Key } })));
        return new Command("keys", "API keys: create, list, revoke (admin scope; on a fresh loopback server the first key needs none).") { create, list, revoke };
    }

    public static Command Audit(Option<Uri> address, Option<bool> json)
    {
        var limit = new Option<int>("--limit") { Description = "Most entries, newest first.", DefaultValueFactory = _ => 50 };
        var since = new Option<DateTimeOffset?>("--since") { Description = "Only entries at or after this time (ISO 8601)." };
        var command = new Command("audit", "Admin actions of the caller's tenant: who, what, when, result.") { limit, since };
        command.SetAction((parse, ct) => SegmentationCommands.CallAsync<ListAuditEntriesResponse>(
            parse,
            address,
            json,
            (client, token) =>
            {
                var request = new ListAuditEntriesRequest { Limit = parse.GetValue(limit) };
                if (parse.GetValue(since) is { } from)
                {
                    request.Since = Timestamp.FromDateTimeOffset(from);
                }

                return client.Access.ListAuditEntriesAsync(request, cancellationToken: token).ResponseAsync;
            },
            ct,
            r =>
            {
                var table = new Table().AddColumns("time", "key", "method", "status", "request");
                foreach (var e in r.Entries)
                {
                    table.AddRow(
                        e.Time.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), Markup.Escape($"{e.KeyId} ({e.KeyName})"),
                        Markup.Escape(e.Method), Markup.Escape(e.StatusMessage.Length > 0 ? $"{e.Status}: {e.StatusMessage}" : e.Status), Markup.Escape(e.Request));
                }

                AnsiConsole.Write(table);
            }));
        return command;
    }

    private static void PrintKeys(ListApiKeysResponse response)
    {
        var c = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("id", "tenant", "scopes", "name", "created", "revoked", "ingest/s", "queries/s");
        foreach (var k in response.Keys)
        {
            table.AddRow(
                k.Id, k.Tenant, string.Join(",", k.Scopes), Markup.Escape(k.Name), k.CreatedAt.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm", c),
                k.RevokedAt?.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm", c) ?? "",
                k.IngestEventsPerSecond == 0 ? "default" : k.IngestEventsPerSecond.ToString("N0", c), k.QueriesPerSecond == 0 ? "default" : k.QueriesPerSecond.ToString("N0", c));
        }

        AnsiConsole.Write(table);
    }
}
