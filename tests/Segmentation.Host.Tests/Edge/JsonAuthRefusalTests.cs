using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Host.Access;
using Segmentation.Host.Tests.Access;

namespace Segmentation.Host.Tests.Edge;

/// <summary>
/// HTTP/JSON (transcoded) calls that authentication or authorization refuses: 401 (missing, unknown, revoked key, with
/// <c>WWW-Authenticate</c>) and 403 (a key without the scope, or naming another tenant) answered with the same JSON
/// error body as every other status — the gRPC code and a message that says what was wrong.
/// </summary>
public sealed class JsonAuthRefusalTests : IAsyncLifetime
{
    private KeyedServer _server = null!;

    public async Task InitializeAsync() => _server = await KeyedServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task NoKey_Is401_WithJsonBodyNamingTheMissingKey()
    {
        using var http = Http(null);
        using var refused = await http.GetAsync("/v1/users/nobody/segments");
        var message = await AssertRefusedAsync(refused, HttpStatusCode.Unauthorized, StatusCode.Unauthenticated);
        Assert.Equal("no API key: send header 'authorization: Bearer <key>' or 'x-api-key: <key>'", message);
        Assert.Equal("Bearer", Assert.Single(refused.Headers.WwwAuthenticate).Scheme);
    }

    [Fact]
    public async Task UnknownOrMalformedKey_Is401_WithJsonBodySayingSo()
    {
        using (var http = Http("not-a-key-of-this-server-0123456789"))
        using (var refused = await http.GetAsync("/v1/users/nobody/profile"))
        {
            Assert.Equal("API key not recognised", await AssertRefusedAsync(refused, HttpStatusCode.Unauthorized, StatusCode.Unauthenticated));
        }

        using var basic = Http(null);
        using var request = Get("/v1/segments");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz");
        using var wrongScheme = await basic.SendAsync(request);
        Assert.Contains("expected 'Bearer <API key>'", await AssertRefusedAsync(wrongScheme, HttpStatusCode.Unauthorized, StatusCode.Unauthenticated), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RevokedKey_Is401_WithJsonBodyNamingTheKeyAndWhen()
    {
        var catalog = _server.Server.Services.GetRequiredService<ApiKeyCatalog>();
        var (key, text) = await catalog.CreateAsync("default", ["read"], "to revoke", 0, 0, CancellationToken.None);
        await catalog.RevokeAsync("default", key.Id, CancellationToken.None);
        using var http = Http(text);
        using var refused = await http.GetAsync("/v1/users/nobody/segments");
        var message = await AssertRefusedAsync(refused, HttpStatusCode.Unauthorized, StatusCode.Unauthenticated);
        Assert.StartsWith($"API key {key.Id} was revoked at ", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyWithoutTheScope_Is403_WithJsonBodyNamingTheScopeNeeded()
    {
        var ingestOnly = await _server.CreateKeyAsync("default", AccessScope.Ingest);
        using (var http = Http(ingestOnly))
        using (var refused = await http.GetAsync("/v1/users/nobody/segments"))
        {
            var message = await AssertRefusedAsync(refused, HttpStatusCode.Forbidden, StatusCode.PermissionDenied);
            Assert.Contains("has scope ingest; /v1/users/nobody/segments needs read", message, StringComparison.Ordinal);
        }

        var readOnly = await _server.CreateKeyAsync("default", AccessScope.Read);
        using var reader = Http(readOnly);
        using var ingest = await reader.PostAsync("/v1/events", new StringContent("{\"events\":[]}", Encoding.UTF8, "application/json"));
        Assert.Contains("has scope read; /v1/events needs ingest", await AssertRefusedAsync(ingest, HttpStatusCode.Forbidden, StatusCode.PermissionDenied), StringComparison.Ordinal);
        // A 403 is not a challenge: no WWW-Authenticate.
        Assert.Empty(ingest.Headers.WwwAuthenticate);
    }

    [Fact]
    public async Task KeyNamingAnotherTenant_Is403_WithJsonBodyNamingBothTenants()
    {
        var shopA = await _server.CreateKeyAsync("shop-a", AccessScope.Read);
        using var http = Http(shopA);
        using var request = Get("/v1/users/nobody/segments");
        request.Headers.Add(CallTenant.Header, "shop-b");
        using var refused = await http.SendAsync(request);
        var message = await AssertRefusedAsync(refused, HttpStatusCode.Forbidden, StatusCode.PermissionDenied);
        Assert.Contains("x-tenant: names tenant 'shop-b'", message, StringComparison.Ordinal);
        Assert.Contains("acts for tenant 'shop-a'", message, StringComparison.Ordinal);
    }

    private static async Task<string> AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode http, StatusCode grpc)
    {
        Assert.Equal(http, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal((int)grpc, body.RootElement.GetProperty("code").GetInt32());
        Assert.Equal(0, body.RootElement.GetProperty("details").GetArrayLength());
        return body.RootElement.GetProperty("message").GetString()!;
    }

    // A request built by hand does not take the client's default version: HTTP/2 with prior knowledge, as on the public port.
    private static HttpRequestMessage Get(string path) =>
        new(HttpMethod.Get, path) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

    private HttpClient Http(string? key)
    {
        // h2c with prior knowledge, as on the public port; every call bounded.
        var client = new HttpClient
        {
            BaseAddress = _server.Server.Address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(60),
        };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }
}
