using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;
using Segmentation.Host.Seeding;
using Segmentation.Host.Segments;
using Segmentation.Host.Tests.Access;

namespace Segmentation.Host.Tests.WebConsole;

/// <summary>
/// What the console's pages change is audited like the gRPC admin calls: creating and deleting a rule segment and
/// publishing a re-clustering from the Rules page are written to the audit log with the signed-in key as actor, the
/// console's tenant, the RPC's name, the request, the result (a refused one too) and <c>via: console</c>.
/// </summary>
public sealed partial class ConsoleAuditTests
{
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task RuleCreateDelete_AndReclusterPublish_FromTheConsole_AreAuditedAsTheSignedInKey()
    {
        await using var server = await KeyedServer.StartAsync("--Segmentation:AdminListen=127.0.0.1:0");
        var host = server.Server;
        await ShopSeeder.SeedIfEmptyAsync(host, 60, NullLogger.Instance, CancellationToken.None);
        await host.Embeddings.TrainAsync(host.EventLog, host.DomainClock.GetUtcNow(), 8, 42, activate: true, CancellationToken.None);
        await host.Reclustering.RunAsync(new ReclusterSettings(3, 0, 0, DryRun: false, Seed: 1), grain => grain.GetSegmentationInputAsync(), CancellationToken.None);
        var adminKey = await server.CreateKeyAsync("default", AccessScope.Admin);
        var keyId = ApiKeySecrets.IdOf(adminKey)!;

        using var console = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = host.AdminAddress,
            Timeout = s_callTimeout,
        };
        console.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);

        var created = await PostAsync(console, "CreateRule", [new("id", "console-rule"), new("name", "From the console"), new("expression", "monetary > 0")]);
        Assert.Contains("rule segment console-rule created", created, StringComparison.Ordinal);
        Assert.Contains("rule:console-rule", created, StringComparison.Ordinal);
        var refused = await PostAsync(console, "CreateRule", [new("id", "broken-rule"), new("name", "Broken"), new("expression", "monetary >")]);
        Assert.Contains("id=\"rule-error\"", refused, StringComparison.Ordinal);
        var deleted = await PostAsync(console, "DeleteRule", [new("id", "console-rule")]);
        Assert.Contains("rule segment console-rule deleted", deleted, StringComparison.Ordinal);
        var published = await PostAsync(console, "Recluster", [new("k", "3"), new("seed", "2"), new("publish", "true")]);
        Assert.Contains("published as segmentation version", published, StringComparison.Ordinal);

        var access = server.Access(adminKey);
        var audit = await access.ListAuditEntriesAsync(new ListAuditEntriesRequest(), deadline: DateTime.UtcNow.Add(s_callTimeout));
        Assert.Equal(
            [
                "/segmentation.v1.AdminService/Recluster OK",
                "/segmentation.v1.AdminService/DeleteRuleSegment OK",
                "/segmentation.v1.AdminService/CreateRuleSegment INVALID_ARGUMENT",
                "/segmentation.v1.AdminService/CreateRuleSegment OK",
            ],
            audit.Entries.Select(e => $"{e.Method} {e.Status}"));
        Assert.All(audit.Entries, e =>
        {
            Assert.Equal(keyId, e.KeyId);
            Assert.Equal("default", e.Tenant);
            Assert.Equal("console", e.Via);
        });
        // A publication: no dry_run in the request (proto JSON leaves false out).
        Assert.Contains("\"k\": 3", audit.Entries[0].Request, StringComparison.Ordinal);
        Assert.DoesNotContain("dryRun", audit.Entries[0].Request, StringComparison.Ordinal);
        Assert.Contains("\"id\": \"console-rule\"", audit.Entries[1].Request, StringComparison.Ordinal);
        Assert.Contains("expression", audit.Entries[2].StatusMessage, StringComparison.Ordinal);
        Assert.Contains("\"expression\": \"monetary ", audit.Entries[3].Request, StringComparison.Ordinal);

        // The same action over gRPC is the API's.
        await server.Admin(adminKey).CreateRuleSegmentAsync(
            new CreateRuleSegmentRequest { Id = "api-rule", Name = "From the API", Expression = "monetary > 0" }, deadline: DateTime.UtcNow.Add(s_callTimeout));
        var newest = (await access.ListAuditEntriesAsync(new ListAuditEntriesRequest { Limit = 1 }, deadline: DateTime.UtcNow.Add(s_callTimeout))).Entries.Single();
        Assert.Equal(("/segmentation.v1.AdminService/CreateRuleSegment", "api", keyId), (newest.Method, newest.Via, newest.KeyId));
    }

    [Fact]
    public async Task OnTheOpenLoopbackDefault_ConsoleActionsAreAuditedAsAnonymous()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:AdminListen=127.0.0.1:0");
        using var console = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = server.Server.AdminAddress,
            Timeout = s_callTimeout,
        };

        var created = await PostAsync(console, "CreateRule", [new("id", "open-rule"), new("name", "Open"), new("expression", "monetary > 0")]);
        Assert.Contains("rule segment open-rule created", created, StringComparison.Ordinal);
        var access = new AccessService.AccessServiceClient(server.Client);
        var entry = (await access.ListAuditEntriesAsync(new ListAuditEntriesRequest(), deadline: DateTime.UtcNow.Add(s_callTimeout))).Entries.Single();
        Assert.Equal(("/segmentation.v1.AdminService/CreateRuleSegment", "OK", "anonymous", "default", "console"), (entry.Method, entry.Status, entry.KeyId, entry.Tenant, entry.Via));
    }

    // A Razor Pages form post carries the antiforgery token of the page it was rendered in.
    private static async Task<string> PostAsync(HttpClient console, string handler, KeyValuePair<string, string>[] fields)
    {
        var page = await console.GetStringAsync("/console/rules");
        var token = AntiforgeryToken().Match(page).Groups[1].Value;
        Assert.NotEmpty(token);
        using var response = await console.PostAsync($"/console/rules?handler={handler}", new FormUrlEncodedContent([.. fields, new("__RequestVerificationToken", token)]));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{handler}: {(int)response.StatusCode} {body}");
        return WebUtility.HtmlDecode(body);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
