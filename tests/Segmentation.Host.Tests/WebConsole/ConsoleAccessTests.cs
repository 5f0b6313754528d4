using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Host.Access;
using Segmentation.Host.Seeding;
using Segmentation.Host.Segments;
using Segmentation.Host.Tests.Access;

namespace Segmentation.Host.Tests.WebConsole;

/// <summary>
/// The admin port's pages behind admin keys once keys are required: no key → the sign-in form (or 401 for a non-GET),
/// an admin key (header or signed-in cookie) → 200, a read key → 403; the dashboard likewise; the public port never
/// takes the console's cookie.
/// </summary>
public sealed partial class ConsoleAccessTests
{
    [Fact]
    public async Task WithKeysOn_ThePagesNeedAnAdminKey_ByHeaderOrSignIn()
    {
        await using var server = await KeyedServer.StartAsync("--Segmentation:AdminListen=127.0.0.1:0");
        var admin = server.Server.AdminAddress!;
        // The pages need a shop with a segmentation to render (as in the browser test, smaller).
        var host = server.Server;
        await ShopSeeder.SeedIfEmptyAsync(host, 60, NullLogger.Instance, CancellationToken.None);
        await host.Embeddings.TrainAsync(host.EventLog, host.DomainClock.GetUtcNow(), 8, 42, activate: true, CancellationToken.None);
        await host.Reclustering.RunAsync(new ReclusterSettings(3, 0, 0, DryRun: false, Seed: 1), grain => grain.GetSegmentationInputAsync(), CancellationToken.None);
        var adminKey = await server.CreateKeyAsync("default", AccessScope.Admin);
        var readKey = await server.CreateKeyAsync("default", AccessScope.Read | AccessScope.Ingest);
        // An admin of another shop: the console shows tenant default (Segmentation:ConsoleTenant), not hers.
        var otherShopsAdmin = await server.CreateKeyAsync("acme", AccessScope.All);
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = admin };

        foreach (var page in new[] { "/console", "/console/segments", "/console/map", "/console/rules", "/console/assets/chart.umd.min.js", "/" })
        {
            // No key: a browser is sent to the sign-in form, to come back here.
            using var noKey = await anonymous.GetAsync(page);
            Assert.Equal(HttpStatusCode.Redirect, noKey.StatusCode);
            Assert.Equal($"/console/login?returnUrl={Uri.EscapeDataString(page)}", noKey.Headers.Location!.OriginalString);

            Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(anonymous, page, readKey)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(anonymous, page, otherShopsAdmin)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(anonymous, page, adminKey)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(anonymous, page, adminKey, "x-api-key")).StatusCode);
        }

        // A form post without a key is not redirected: 401.
        using var post = await anonymous.PostAsync("/console/rules", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);

        // Sign-in: a wrong key 401, a read key 403 with the reason, an admin key sets the cookie and returns the browser.
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = admin };
        using (var wrong = await SignInAsync(browser, "seg_0123456789ab_" + new string('x', 43), "/console/map"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.Contains("key: not recognised", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var other = await SignInAsync(browser, otherShopsAdmin, "/console/map"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
            Assert.Contains("(tenant acme, scope ingest, read, admin) cannot open the console: it needs scope admin for tenant default", WebUtility.HtmlDecode(await other.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        }

        using (var read = await SignInAsync(browser, readKey, "/console/map"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, read.StatusCode);
            Assert.Contains("it needs scope admin", WebUtility.HtmlDecode(await read.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/console/map")).StatusCode);
        using (var signedIn = await SignInAsync(browser, adminKey, "/console/map"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
            Assert.Equal("/console/map", signedIn.Headers.Location!.OriginalString);
        }

        var cookie = Assert.Single(cookies.GetCookies(admin), c => c.Name == ConsoleAccess.CookieName);
        Assert.True(cookie.HttpOnly);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/console/map")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).StatusCode);

        // An open redirect is not followed: a sign-in coming from elsewhere lands on the console.
        using (var offsite = await SignInAsync(browser, adminKey, "https://elsewhere.invalid/"))
        {
            Assert.Equal("/console", offsite.Headers.Location!.OriginalString);
        }

        // The public port's HTTP/JSON API does not take the console's cookie (only the admin port's pages read it).
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Server.Address, "/v1/users/nobody/segments"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Add("Cookie", $"{ConsoleAccess.CookieName}={adminKey}");
        using var publicClient = new HttpClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await publicClient.SendAsync(request)).StatusCode);

        // Revoking the key closes the console at the next request; signing out drops the cookie.
        await server.Services<ApiKeyCatalog>().RevokeAsync("default", ApiKeySecrets.IdOf(adminKey)!, CancellationToken.None);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/console/map")).StatusCode);
        using var signOut = await PostFormAsync(browser, "/console/login?handler=SignOut", []);
        Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);
        Assert.DoesNotContain(cookies.GetCookies(admin), c => c.Name == ConsoleAccess.CookieName);
    }

    [Fact]
    public async Task OpenLoopbackDefault_ThePagesNeedNoKey()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:AdminListen=127.0.0.1:0");
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.Server.AdminAddress };
        // An empty shop: the pages that render without a segmentation (the browser test covers every page, open).
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/console/assets/chart.umd.min.js")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        Assert.Contains("runs open", await client.GetStringAsync("/console/login"), StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string page, string key, string header = "authorization")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, page);
        request.Headers.TryAddWithoutValidation(header, header == "authorization" ? "Bearer " + key : key);
        return await client.SendAsync(request);
    }

    private static Task<HttpResponseMessage> SignInAsync(HttpClient browser, string key, string returnUrl) =>
        PostFormAsync(browser, "/console/login", [new("key", key), new("returnUrl", returnUrl)]);

    // A Razor Pages form post carries the antiforgery token of the form it was rendered in.
    private static async Task<HttpResponseMessage> PostFormAsync(HttpClient browser, string path, KeyValuePair<string, string>[] fields)
    {
        var form = await browser.GetStringAsync("/console/login");
        var token = AntiforgeryToken().Match(form).Groups[1].Value;
        Assert.NotEmpty(token);
        return await browser.PostAsync(path, new FormUrlEncodedContent([.. fields, new("__RequestVerificationToken", token)]));
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
